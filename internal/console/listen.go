package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/rest"
)

// ListenError is an address the console must not serve on (bad input).
type ListenError struct{ Err error }

func (e *ListenError) Error() string   { return e.Err.Error() }
func (e *ListenError) Unwrap() error   { return e.Err }
func (e *ListenError) ExitStatus() int { return 2 }

// Listen opens addr for s and sets who may reach it. A console on a laptop
// serves its user's own cluster access: it listens on a loopback address only,
// answers only requests addressed to it by that name, and (without viewer
// tokens) needs this run's token, so that other web pages cannot drive it. In
// a cluster, the names it is reached by are hosts.
func (s *Server) Listen(addr string, inCluster bool, hosts []string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{fmt.Errorf("--listen %s: %w", addr, err)}
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	switch ip := net.ParseIP(host); {
	case inCluster:
		s.Hosts = hosts
	case ip != nil && ip.IsLoopback():
		s.Hosts = []string{host, "localhost", "127.0.0.1", "::1"}
		if s.Viewers == nil {
			// With viewer tokens a page elsewhere cannot add the header
			// (a cross-site request with Authorization needs a preflight,
			// which the console refuses).
			s.Token = rand.Text()
		}
	default:
		// Anyone who reaches it would read the clusters with your credentials.
		ln.Close()
		return nil, &ListenError{fmt.Errorf("--listen %s: kube console serves your own cluster access, so it listens on this machine only (127.0.0.1); to share a console, run it in a cluster (config/console)", addr)}
	}
	return ln, nil
}

// URL is where to open the console served on ln (with this run's token).
func (s *Server) URL(ln net.Listener) string {
	u := "http://" + ln.Addr().String()
	if s.Token != "" {
		u += "/?token=" + s.Token
	}
	return u
}

// Serve answers on ln until ctx ends, then shuts down within 5 s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// InCluster is the cluster the console runs in, read with each viewer's
// token: its address from the environment Kubernetes gives every pod, and
// the CA of caFile; the console has no identity of its own.
func InCluster(name, prometheus, caFile string) (*Viewers, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("--in-cluster: KUBERNETES_SERVICE_HOST and _PORT are not set: not running in a cluster")
	}
	return &Viewers{Name: name, Prometheus: prometheus,
		Base: &rest.Config{Host: "https://" + net.JoinHostPort(host, port), TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}}}, nil
}
