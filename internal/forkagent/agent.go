// Package forkagent is what runs in the pod of a fork's local workload: it
// listens on the original container's ports and passes each connection to
// the developer's machine through the tunnel that kube fork connect holds
// open on its control port; and it dials, for the developer's process, the
// cluster addresses the ForkProfile allows. While nobody is connected it
// answers 503 and never falls back to the shared service.
package forkagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/kube-idp/kube/internal/tunnel"
)

// Options configure an agent.
type Options struct {
	// Control is the control port's address: 127.0.0.1 in the pod, reached
	// only through the API server's pods/portforward.
	Control string
	// Ports are the original container's ports, listened on every address.
	Ports []int32
	// Bind is where port p listens (default ":p"; tests pick free ports).
	Bind func(p int32) string
	// Allowed are the destinations the developer's process may reach.
	Allowed Allowlist
	// Fork, Workload and Namespace name the copy in the 503 message.
	Fork, Workload, Namespace string
	// Log hears connects and disconnects (nil: nowhere).
	Log *log.Logger
}

// Agent is a running agent.
type Agent struct {
	o  Options
	mu sync.Mutex
	// session is the connected CLI's, nil while nobody is connected.
	session *yamux.Session
	// ready is closed once every listener is open.
	ready chan struct{}
	addrs map[int32]string
}

// New makes an agent; Run starts it.
func New(o Options) *Agent {
	if o.Log == nil {
		o.Log = log.New(io.Discard, "", 0)
	}
	return &Agent{o: o, ready: make(chan struct{}), addrs: map[int32]string{}}
}

// Ready is closed when the agent listens on every port.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Addr is where the agent listens for the container port p (after Ready).
func (a *Agent) Addr(p int32) string { return a.addrs[p] }

// Connected says whether a CLI holds the session.
func (a *Agent) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session != nil && !a.session.IsClosed()
}

// Run listens until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	var lc net.ListenConfig
	control, err := lc.Listen(ctx, "tcp", a.o.Control)
	if err != nil {
		return fmt.Errorf("control port: %w", err)
	}
	listeners := []net.Listener{control}
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, p := range a.o.Ports {
		addr := ":" + strconv.Itoa(int(p))
		if a.o.Bind != nil {
			addr = a.o.Bind(p)
		}
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d: %w", p, err)
		}
		listeners = append(listeners, l)
		a.addrs[p] = l.Addr().String()
	}
	a.addrs[0] = control.Addr().String()
	close(a.ready)
	errc := make(chan error, len(listeners))
	go func() { errc <- a.acceptControl(ctx, control) }()
	for i, p := range a.o.Ports {
		go func() { errc <- a.acceptApp(ctx, listeners[i+1], p) }()
	}
	select {
	case <-ctx.Done():
		a.mu.Lock()
		if a.session != nil {
			a.session.Close()
		}
		a.mu.Unlock()
		return nil
	case err := <-errc:
		return err
	}
}

// ControlAddr is the control port's address (after Ready).
func (a *Agent) ControlAddr() string { return a.addrs[0] }

// acceptControl takes each new CLI connection as the session, closing the one
// before: which CLI may connect is decided by the fork's Lease, so a
// connection that reaches this port is the Lease's holder.
func (a *Agent) acceptControl(ctx context.Context, l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s, err := tunnel.Server(c)
		if err != nil {
			c.Close()
			continue
		}
		a.mu.Lock()
		old := a.session
		a.session = s
		a.mu.Unlock()
		if old != nil {
			old.Close()
			a.o.Log.Printf("a new session replaces the previous one")
		}
		a.o.Log.Printf("connected")
		go func() {
			_ = tunnel.Serve(ctx, s, a.outbound)
			a.mu.Lock()
			if a.session == s {
				a.session = nil
				a.o.Log.Printf("disconnected")
			}
			a.mu.Unlock()
		}()
	}
}

// outbound dials, for the developer's process, a destination the profile allows.
func (a *Agent) outbound(h tunnel.Header, c net.Conn) {
	if h.Kind != tunnel.Outbound {
		c.Close()
		return
	}
	if err := a.o.Allowed.Check(h.Target); err != nil {
		_ = tunnel.WriteReply(c, err)
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", h.Target, 10*time.Second)
	if err != nil {
		_ = tunnel.WriteReply(c, fmt.Errorf("dialling %s from the fork's pod: %v", h.Target, err))
		c.Close()
		return
	}
	if err := tunnel.WriteReply(c, nil); err != nil {
		c.Close()
		up.Close()
		return
	}
	tunnel.Pipe(c, up)
}

// acceptApp passes each connection to the copy's port through the session.
func (a *Agent) acceptApp(ctx context.Context, l net.Listener, port int32) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go a.inbound(c, port)
	}
}

func (a *Agent) inbound(c net.Conn, port int32) {
	a.mu.Lock()
	s := a.session
	a.mu.Unlock()
	if s != nil {
		st, err := tunnel.Open(s, tunnel.Header{Kind: tunnel.Inbound, Target: strconv.Itoa(int(port))})
		if err == nil {
			tunnel.Pipe(c, st)
			return
		}
	}
	a.unavailable(c)
}

// unavailable answers a connection with 503 and what to run: the fork's
// traffic never reaches the shared service instead.
func (a *Agent) unavailable(c net.Conn) {
	defer c.Close()
	msg := a.Message() + "\n"
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// Read the request's head first, so that the client sees the answer, not a reset.
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s",
		http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), len(msg), msg)
}

// Message is what a request hears while nobody is connected.
func (a *Agent) Message() string {
	return fmt.Sprintf("fork %s: %s runs on a developer's machine and nobody is connected now; run: kube fork connect %s --workload %s -n %s",
		a.o.Fork, a.o.Workload, a.o.Fork, a.o.Workload, a.o.Namespace)
}

// Allowlist is what the developer's process may dial in the cluster: host
// names (an entry starting with "." or "*." also allows its subdomains) and
// CIDRs, each with any port.
type Allowlist []string

// DefaultAllowlist is the fork namespace's Services.
func DefaultAllowlist(namespace string) Allowlist {
	return Allowlist{"*." + namespace + ".svc", "*." + namespace + ".svc.cluster.local"}
}

// Check says why target (host:port) may not be dialled, or nil.
func (l Allowlist) Check(target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || port == "" {
		return &tunnel.RefusedError{Reason: fmt.Sprintf("%q is not host:port", target)}
	}
	if ip := net.ParseIP(host); ip != nil {
		for _, e := range l {
			if _, n, err := net.ParseCIDR(e); err == nil && n.Contains(ip) {
				return nil
			}
		}
	} else {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		for _, e := range l {
			e = strings.ToLower(e)
			switch {
			case strings.HasPrefix(e, "*."):
				if strings.HasSuffix(host, e[1:]) {
					return nil
				}
			case strings.HasPrefix(e, "."):
				if strings.HasSuffix(host, e) || host == e[1:] {
					return nil
				}
			case host == e:
				return nil
			}
		}
	}
	return &tunnel.RefusedError{Reason: fmt.Sprintf("%s is not among the destinations the ForkProfile allows a local workload (local.allowedDestinations: %s)", host, strings.Join(l, ", "))}
}
