package forkconnect

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/proxy"

	"github.com/kube-idp/kube/internal/forkagent"
	"github.com/kube-idp/kube/internal/tunnel"
)

// wire runs a real agent and connects a session to its control port, as the
// port-forward does in a cluster; the copy's port 8080 goes to localPort.
func wire(t *testing.T, allowed forkagent.Allowlist, localPort int32) (*Session, *forkagent.Agent) {
	t.Helper()
	a := forkagent.New(forkagent.Options{Control: "127.0.0.1:0", Ports: []int32{8080}, Bind: func(int32) string { return "127.0.0.1:0" },
		Allowed: allowed, Fork: "alice", Workload: "web", Namespace: "shop"})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = a.Run(ctx) }()
	<-a.Ready()
	c, err := net.Dial("tcp", a.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	tun, err := tunnel.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{o: Options{Namespace: "shop", Fork: "alice", Workload: "web", Ports: map[int32]int32{8080: localPort}}, tunnel: tun}
	go func() { _ = tunnel.Serve(ctx, tun, s.inbound) }()
	t.Cleanup(func() { tun.Close() })
	return s, a
}

func port(t *testing.T, addr string) int32 {
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// body reads a response: body(t)(http.Get(u)).
func body(t *testing.T) func(*http.Response, error) (int, string) {
	return func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

func TestCopysConnectionsReachTheLocalPort(t *testing.T) {
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "local "+r.Header.Get("x-fork-identifier"))
	}))
	_, a := wire(t, nil, port(t, local.Listener.Addr().String()))
	req, _ := http.NewRequest("GET", "http://"+a.Addr(8080)+"/", nil)
	req.Header.Set("x-fork-identifier", "alice")
	if code, got := body(t)(http.DefaultClient.Do(req)); code != 200 || got != "local alice" {
		t.Fatalf("%d %q", code, got)
	}
	local.Close()
	code, got := body(t)(http.Get("http://" + a.Addr(8080) + "/"))
	if code != http.StatusBadGateway || !strings.Contains(got, "nothing listens on localhost:"+strconv.Itoa(int(port(t, local.Listener.Addr().String())))) {
		t.Fatalf("with the process stopped: %d %q", code, got)
	}
}

func TestProxyKeepsCallsInTheFork(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fork="+r.Header.Get("x-fork-identifier"))
	}))
	defer backend.Close()
	tlsBackend := httptest.NewTLSServer(backend.Config.Handler)
	defer tlsBackend.Close()
	s, _ := wire(t, forkagent.Allowlist{"127.0.0.0/8"}, 1)
	p, err := s.StartProxy("x-fork-identifier")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proxyURL, _ := url.Parse("http://" + p.HTTP)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

	// A plain request gets the fork's header; one that carries a header keeps it.
	if code, got := body(t)(c.Get(backend.URL)); code != 200 || got != "fork=alice" {
		t.Errorf("plain HTTP: %d %q", code, got)
	}
	req, _ := http.NewRequest("GET", backend.URL, nil)
	req.Header.Set("x-fork-identifier", "alice-2")
	if code, got := body(t)(c.Do(req)); code != 200 || got != "fork=alice-2" {
		t.Errorf("with a header: %d %q", code, got)
	}
	// HTTPS goes through CONNECT: end to end, so kube adds nothing.
	if code, got := body(t)(c.Get(tlsBackend.URL)); code != 200 || got != "fork=" {
		t.Errorf("CONNECT: %d %q", code, got)
	}
	// A destination the profile does not allow is refused by the agent.
	code, got := body(t)(c.Get("http://evil.example/"))
	if code != http.StatusForbidden || !strings.Contains(got, "evil.example is not among the destinations") {
		t.Errorf("refused: %d %q", code, got)
	}

	// SOCKS5, as ALL_PROXY tells clients that speak it.
	d, err := proxy.SOCKS5("tcp", p.SOCKS, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Dial("tcp", backend.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nx-fork-identifier: alice\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if code, got := body(t)(resp, err); code != 200 || got != "fork=alice" {
		t.Errorf("SOCKS5: %d %q", code, got)
	}
}

func TestQualifyShortNames(t *testing.T) {
	for in, want := range map[string]string{
		"orders:80": "orders.shop.svc:80", "orders.other.svc:80": "orders.other.svc:80",
		"10.0.0.1:80": "10.0.0.1:80", "[fd00::1]:443": "[fd00::1]:443", "junk": "junk",
	} {
		if got := qualify(in, "shop"); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	got, err := ParsePorts([]string{"8080=3000", "9090=9090"})
	if err != nil || len(got) != 2 || got[8080] != 3000 || got[9090] != 9090 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"8080", "8080=", "x=1", "0=1", "70000=1", "1=-1"} {
		if _, err := ParsePorts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestForwardReachesAClusterAddress(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "orders") }))
	defer backend.Close()
	s, _ := wire(t, forkagent.Allowlist{"127.0.0.0/8"}, 1)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := port(t, free.Addr().String())
	free.Close()
	fs, err := ParseForwards([]string{strconv.Itoa(int(local)) + "=" + backend.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := s.StartForwards(fs)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if code, got := body(t)(http.Get("http://127.0.0.1:" + strconv.Itoa(int(local)) + "/")); code != 200 || got != "orders" {
		t.Fatalf("%d %q", code, got)
	}
	if f, err := ParseForwards([]string{"orders:80"}); err != nil || f[0] != (Forward{Local: 80, Target: "orders:80"}) {
		t.Errorf("default local port: %+v %v", f, err)
	}
	for _, bad := range []string{"orders", ":80", "x=orders:80", "orders:http", "0=orders:80"} {
		if _, err := ParseForwards([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEnvFileLeavesSecretsOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env.fork")
	env := &Environment{Vars: []string{"MODE=fork", "TOKEN=s3cret"}, FromSecrets: map[string]bool{"TOKEN": true}}
	if err := writeEnvFile(path, env); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "s3cret") || !strings.Contains(string(data), "MODE=fork\n") || !strings.Contains(string(data), "# TOKEN comes from a Secret") {
		t.Fatalf("%q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}
