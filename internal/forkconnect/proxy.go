package forkconnect

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/armon/go-socks5"

	"github.com/kube-idp/kube/internal/tunnel"
)

// Proxy is the local process's way into the cluster: an HTTP proxy (plain
// requests and CONNECT) and a SOCKS5 proxy, both on 127.0.0.1, both dialling
// through the agent. A plain HTTP request without the fork's header gets it,
// so that the call stays in the fork.
type Proxy struct {
	// HTTP and SOCKS are the listeners' addresses.
	HTTP, SOCKS string
	closers     []io.Closer
}

// Close stops both listeners.
func (p *Proxy) Close() error {
	for _, c := range p.closers {
		c.Close()
	}
	return nil
}

// qualify makes a Service's short name a name of the fork's namespace, as
// the cluster's DNS search path would inside the pod.
func qualify(target, namespace string) string {
	host, port, err := net.SplitHostPort(target)
	if err != nil || net.ParseIP(host) != nil || strings.Contains(host, ".") {
		return target
	}
	return net.JoinHostPort(host+"."+namespace+".svc", port)
}

// StartProxy listens on 127.0.0.1 for the process's outbound calls.
func (s *Session) StartProxy(header string) (*Proxy, error) {
	dial := func(_ context.Context, _, addr string) (net.Conn, error) { return s.dial(qualify(addr, s.o.Namespace)) }
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		hl.Close()
		return nil, err
	}
	socks, err := socks5.New(&socks5.Config{Dial: dial, Resolver: noResolve{}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		hl.Close()
		sl.Close()
		return nil, err
	}
	forward := &http.Transport{DialContext: dial, Proxy: nil, DisableCompression: true}
	srv := &http.Server{Handler: &httpProxy{dial: dial, forward: forward, header: header, id: s.o.Fork}}
	go func() { _ = srv.Serve(hl) }()
	go func() { _ = socks.Serve(sl) }()
	return &Proxy{HTTP: hl.Addr().String(), SOCKS: sl.Addr().String(), closers: []io.Closer{srv, sl}}, nil
}

// noResolve leaves names to the cluster: the agent resolves them.
type noResolve struct{}

func (noResolve) Resolve(ctx context.Context, _ string) (context.Context, net.IP, error) {
	return ctx, nil, nil
}

type httpProxy struct {
	dial       func(context.Context, string, string) (net.Conn, error)
	forward    *http.Transport
	header, id string
}

func (p *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	if r.URL.Host == "" || r.URL.Scheme != "http" {
		http.Error(w, "kube fork connect: this is a proxy; send it absolute http:// URLs or CONNECT", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	if out.Header.Get(p.header) == "" {
		out.Header.Set(p.header, p.id)
	}
	resp, err := p.forward.RoundTrip(out)
	if err != nil {
		http.Error(w, "kube fork connect: "+err.Error(), statusOf(err))
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *httpProxy) connect(w http.ResponseWriter, r *http.Request) {
	up, err := p.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, "kube fork connect: "+err.Error(), statusOf(err))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "kube fork connect: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	c, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	if n := buf.Reader.Buffered(); n > 0 {
		pending := make([]byte, n)
		_, _ = buf.Read(pending)
		_, _ = up.Write(pending)
	}
	tunnel.Pipe(c, up)
}

// statusOf is 403 for a destination the profile forbids, else 502.
func statusOf(err error) int {
	var refused *tunnel.RefusedError
	if errors.As(err, &refused) {
		return http.StatusForbidden
	}
	return http.StatusBadGateway
}
