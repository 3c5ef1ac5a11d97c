package forkagent

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/kube-idp/kube/internal/tunnel"
)

func start(t *testing.T, allowed Allowlist) *Agent {
	t.Helper()
	a := New(Options{Control: "127.0.0.1:0", Ports: []int32{8080}, Bind: func(int32) string { return "127.0.0.1:0" },
		Allowed: allowed, Fork: "alice", Workload: "web", Namespace: "shop"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	return a
}

// connect is kube fork connect's end: inbound streams go to backend.
func connect(t *testing.T, a *Agent, backend string) *yamux.Session {
	t.Helper()
	c, err := net.Dial("tcp", a.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	s, err := tunnel.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = tunnel.Serve(context.Background(), s, func(h tunnel.Header, st net.Conn) {
			up, err := net.Dial("tcp", backend)
			if err != nil {
				st.Close()
				return
			}
			tunnel.Pipe(st, up)
		})
	}()
	t.Cleanup(func() { s.Close() })
	waitFor(t, "the agent to take the session", func() bool { return a.Connected() })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, a *Agent) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr(8080) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func backend(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestNobodyConnectedIs503NamingTheCommand(t *testing.T) {
	a := start(t, nil)
	code, body := get(t, a)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "kube fork connect alice --workload web -n shop") {
		t.Fatalf("%d %q", code, body)
	}
}

func TestConnectionsReachTheConnectedProcessAndTakeoverWins(t *testing.T) {
	a := start(t, nil)
	first := connect(t, a, backend(t, "laptop one"))
	if code, body := get(t, a); code != 200 || body != "laptop one" {
		t.Fatalf("%d %q", code, body)
	}
	second := connect(t, a, backend(t, "laptop two"))
	waitFor(t, "the first session to be closed", first.IsClosed)
	if code, body := get(t, a); code != 200 || body != "laptop two" {
		t.Fatalf("after the takeover: %d %q", code, body)
	}
	second.Close()
	waitFor(t, "the agent to see the disconnection", func() bool { return !a.Connected() })
	if code, _ := get(t, a); code != http.StatusServiceUnavailable {
		t.Fatalf("after disconnecting: %d", code)
	}
}

func TestOutboundDialsOnlyAllowedDestinations(t *testing.T) {
	orders := backend(t, "orders")
	a := start(t, Allowlist{"127.0.0.0/8"})
	s := connect(t, a, orders)
	c, err := tunnel.Open(s, tunnel.Header{Kind: tunnel.Outbound, Target: orders})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	body, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(body), "orders") {
		t.Fatalf("got %q", body)
	}
	_, port, _ := net.SplitHostPort(orders)
	if _, err := tunnel.Open(s, tunnel.Header{Kind: tunnel.Outbound, Target: "localhost:" + port}); err == nil || !strings.Contains(err.Error(), "localhost is not among") {
		t.Fatalf("a name outside the list: %v", err)
	}
}

func TestAllowlist(t *testing.T) {
	l := Allowlist{"*.shop.svc", ".example.com", "db.internal", "10.0.0.0/8", "fd00::/8"}
	for target, ok := range map[string]bool{
		"orders.shop.svc:80": true, "ORDERS.shop.svc.:80": true, "shop.svc:80": false, "orders.shop.svc.evil.io:80": false,
		"api.example.com:443": true, "example.com:443": true, "badexample.com:443": false,
		"db.internal:5432": true, "x.db.internal:5432": false,
		"10.1.2.3:80": true, "11.1.2.3:80": false, "[fd00::1]:80": true, "[fe80::1]:80": false,
		"orders.shop.svc": false, ":80": false,
	} {
		if err := l.Check(target); (err == nil) != ok {
			t.Errorf("%s: %v", target, err)
		}
	}
	if DefaultAllowlist("shop").Check("orders.shop.svc.cluster.local:"+strconv.Itoa(80)) != nil || DefaultAllowlist("shop").Check("orders.other.svc:80") == nil {
		t.Error("the default list is not the namespace's Services")
	}
}
