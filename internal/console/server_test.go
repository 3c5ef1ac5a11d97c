package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kube-idp/kube/internal/catalog"
)

func testServer(t *testing.T) *Server {
	t.Helper()
	cat, err := catalog.Load("../../examples/kube-platform/platform")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(&Server{Catalog: cat, Hosts: []string{"127.0.0.1", "localhost"},
		Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(s http.Handler, method, host, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.Host = host
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// The console only reads, and only answers requests addressed to it: a page
// elsewhere cannot drive it through DNS rebinding, nor post to it.
func TestServerIsReadOnlyAndLocal(t *testing.T) {
	s := testServer(t)
	if w := get(s, http.MethodPost, "127.0.0.1:8480", "/"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	if w := get(s, http.MethodGet, "attacker.example:8480", "/catalog"); w.Code != http.StatusMisdirectedRequest {
		t.Errorf("a foreign Host: %d", w.Code)
	}
	w := get(s, http.MethodGet, "localhost:8480", "/catalog")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /catalog: %d %s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", w.Header())
	}
	if strings.Contains(w.Body.String(), "<script") {
		t.Error("a page has a script: the console works without JavaScript")
	}
}

func TestCatalogPages(t *testing.T) {
	s := testServer(t)
	body := get(s, http.MethodGet, "127.0.0.1", "/catalog").Body.String()
	for _, want := range []string{`id="domain-observability"`, `<a href="/catalog/servicex">servicex</a>`, "No component serves this domain.", "deprecated (use addons)"} {
		if !strings.Contains(body, want) {
			t.Errorf("/catalog lacks %q", want)
		}
	}
	body = get(s, http.MethodGet, "127.0.0.1", "/catalog/compute").Body.String()
	if !strings.Contains(body, "platform-infra") || !strings.Contains(body, `<a href="/catalog/upgrade-check">`) {
		t.Errorf("/catalog/compute:\n%s", body)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/catalog/nope"); w.Code != http.StatusNotFound {
		t.Errorf("unknown entity: %d", w.Code)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/clusters/prod/namespaces/a/apps/b"); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "no cluster prod") {
		t.Errorf("unknown cluster: %d %s", w.Code, w.Body)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "0 app(s) on 0 cluster(s)") {
		t.Errorf("empty fleet: %d", w.Code)
	}
}

func TestDeepLinks(t *testing.T) {
	if got := AppURL("prod", "billing", "billing"); got != "/clusters/prod/namespaces/billing/apps/billing" {
		t.Errorf("AppURL: %s", got)
	}
	if got := DiffURL("prod", "billing", "api", 3, 4); got != "/clusters/prod/namespaces/billing/apps/api/diff?from=3&to=4" {
		t.Errorf("DiffURL: %s", got)
	}
	// kubectl's ages (k8s.io/apimachinery's HumanDuration), as kube slo prints them.
	if got := until(time.Unix(0, 0), time.Unix(7200, 0)); got != "in 120m" {
		t.Errorf("until: %s", got)
	}
}

// A local console needs this run's token: a web page the developer visits
// cannot drive it (their credentials, production clusters) without it.
func TestLocalConsoleNeedsTheRunsToken(t *testing.T) {
	s := testServer(t)
	s.Token = "run-secret-0123456789"
	if w := get(s, http.MethodGet, "127.0.0.1", "/catalog"); w.Code != http.StatusForbidden {
		t.Fatalf("without the token: %d", w.Code)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/catalog?token=wrong"); w.Code != http.StatusForbidden {
		t.Fatalf("a wrong token: %d", w.Code)
	}
	w := get(s, http.MethodGet, "127.0.0.1", "/catalog?token=run-secret-0123456789&x=1")
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/catalog?x=1" || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("the printed URL: %d %v %v", w.Code, w.Header(), cookies)
	}
	r := httptest.NewRequest(http.MethodGet, "/catalog", nil)
	r.Host = "127.0.0.1"
	r.AddCookie(cookies[0])
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("with the cookie: %d", w.Code)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/healthz"); w.Code != http.StatusOK {
		t.Fatalf("healthz: %d", w.Code)
	}
}

// Pages are served a bounded number at a time; the rest wait, then get 503.
func TestConcurrentPagesAreBounded(t *testing.T) {
	s := testServer(t)
	s.Timeout = 50 * time.Millisecond
	for range cap(s.busy) {
		s.busy <- struct{}{} // pages still being served
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/catalog"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("beyond the bound: %d", w.Code)
	}
	<-s.busy
	if w := get(s, http.MethodGet, "127.0.0.1", "/catalog"); w.Code != http.StatusOK {
		t.Fatalf("within the bound: %d", w.Code)
	}
}

// With Viewers, a request without a token is told how to sign in; with one,
// the clients carry that token and no other credential.
func TestViewersNeedAToken(t *testing.T) {
	s := testServer(t)
	s.Viewers = &Viewers{Name: "prod", Base: &rest.Config{Host: "https://127.0.0.1:1", Username: "console", Password: "its-own", BearerToken: "its-own-token"}}
	w := get(s, http.MethodGet, "127.0.0.1", "/")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "sign in through the platform's proxy") || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("without a token: %d %s", w.Code, w.Body)
	}
	if w := get(s, http.MethodGet, "127.0.0.1", "/healthz"); w.Code != http.StatusOK {
		t.Fatalf("healthz: %d", w.Code)
	}
	for _, h := range []http.Header{{"Authorization": {"Bearer viewer-token"}}, {"X-Forwarded-Access-Token": {"viewer-token"}}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header = h
		if Token(r) != "viewer-token" {
			t.Errorf("token from %v: %q", h, Token(r))
		}
	}
	cs, err := s.Viewers.clusters("viewer-token", time.Now())
	if err != nil || len(cs) != 1 || cs[0].Name != "prod" {
		t.Fatalf("clusters: %v %v", cs, err)
	}
	again, _ := s.Viewers.clusters("viewer-token", time.Now())
	other, _ := s.Viewers.clusters("another-token", time.Now())
	if again[0].Deploy != cs[0].Deploy || other[0].Deploy == cs[0].Deploy {
		t.Error("clients are not kept per viewer")
	}
}

// The listen rule: a loopback address gets the run's token and its own
// names only; another address is refused (exit 2); in a cluster, the names
// given.
func TestListenRule(t *testing.T) {
	s := &Server{}
	ln, err := s.Listen("127.0.0.1:0", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if s.Token == "" || !strings.Contains(s.URL(ln), "/?token="+s.Token) || !slices.Contains(s.Hosts, "localhost") {
		t.Errorf("loopback: token %q, hosts %v, url %s", s.Token, s.Hosts, s.URL(ln))
	}
	_, err = (&Server{}).Listen("0.0.0.0:0", false, nil)
	var le *ListenError
	if !errors.As(err, &le) || le.ExitStatus() != 2 || !strings.Contains(err.Error(), "listens on this machine only") {
		t.Errorf("0.0.0.0: %v", err)
	}
	in := &Server{Viewers: &Viewers{}}
	ln, err = in.Listen("127.0.0.1:0", true, []string{"console.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if in.Token != "" || strings.Join(in.Hosts, ",") != "console.example.com" {
		t.Errorf("in cluster: token %q, hosts %v", in.Token, in.Hosts)
	}
}
