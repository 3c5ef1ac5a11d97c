package servicex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kube-idp/kube/servicex/contract"
)

func TestProbesAnswerOnTheContractPaths(t *testing.T) {
	s, err := New(WithConfig(testConfig()), WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	probe := func(path string) int {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code
	}
	if probe(contract.ReadinessPath) != http.StatusServiceUnavailable {
		t.Error("ready before Run")
	}
	if probe(contract.LivenessPath) != http.StatusOK {
		t.Error("not alive before Run")
	}
	r := start(t, testConfig(), nil)
	for _, path := range []string{contract.ReadinessPath, contract.LivenessPath} {
		if code, _ := get(t, r.url+path); code != http.StatusOK {
			t.Errorf("%s: %d while serving", path, code)
		}
	}
	r.SetReady(false) // e.g. a cache warming up again
	if code, _ := get(t, r.url+contract.ReadinessPath); code != http.StatusServiceUnavailable {
		t.Errorf("readyz %d after SetReady(false)", code)
	}
	if code, _ := get(t, r.url+contract.LivenessPath); code != http.StatusOK {
		t.Errorf("healthz %d while not ready: the kubelet would restart a healthy process", code)
	}
	// Probes are neither logged nor measured: they would drown the real traffic.
	if n := len(withMessage(r.logs.lines(t), "request")); n != 0 {
		t.Errorf("%d probe requests logged", n)
	}
	if fam := scrape(t, r.metrics)["http_server_request_duration_seconds"]; fam != nil {
		t.Errorf("probes measured: %v", fam)
	}
}

func TestServerHasProductionTimeouts(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 ||
		srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("server defaults: %+v", srv)
	}
	// A client that never finishes its headers is cut off (slowloris).
	r := start(t, testConfig(), nil, WithHTTPServer(func(srv *http.Server) { srv.ReadHeaderTimeout = 100 * time.Millisecond }))
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("the server kept the connection of a client that never sent its headers: %v", err)
	}
	// Headers beyond the limit are refused.
	code, _ := get(t, r.url+"/x", "X-Big", strings.Repeat("a", 128<<10))
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128KiB of headers: %d", code)
	}
}

func TestShutdownFailsReadinessDrainsThenWaitsForRequests(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownDrain = 500 * time.Millisecond
	started, release := make(chan struct{}), make(chan struct{})
	r := start(t, cfg, func(s *Service) {
		s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "done")
		})
		s.HandleFunc("GET /fast", func(w http.ResponseWriter, r *http.Request) {})
	})
	slow := make(chan error, 1)
	go func() {
		code, body := get(t, r.url+"/slow")
		if code != http.StatusOK || body != "done" {
			slow <- fmt.Errorf("slow request: %d %q", code, body)
		}
		slow <- nil
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()

	// Readiness fails first, while the listener still takes requests (the
	// drain: endpoints are being removed and some traffic still arrives).
	waitFor(t, "readiness to fail", func() bool {
		code, _ := get(t, r.url+contract.ReadinessPath)
		return code == http.StatusServiceUnavailable
	})
	resp, err := http.Get(r.url + "/fast")
	if err != nil {
		t.Fatalf("a request during the drain failed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("during the drain: %d, Connection: close %v (clients should reconnect elsewhere)", resp.StatusCode, resp.Close)
	}
	// After the drain the listener closes, while the slow request is still
	// in flight; it finishes, and then Run returns.
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if err := <-slow; err != nil {
		t.Error(err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	var msgs []string
	for _, l := range r.logs.lines(t) {
		msgs = append(msgs, fmt.Sprint(l["msg"]))
	}
	if got := strings.Join(msgs, ","); !strings.Contains(got, "shutting down: readiness fails while endpoints are removed,request,shutting down: closing listeners") ||
		!strings.HasSuffix(got, "stopped") {
		t.Errorf("log order: %s", got)
	}
}

func TestShutdownTimeoutEndsRequestsThatDoNotFinish(t *testing.T) {
	cfg := testConfig()
	cfg.ShutdownTimeout = 200 * time.Millisecond
	started := make(chan struct{})
	r := start(t, cfg, func(s *Service) {
		s.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
		})
	})
	go func() {
		if resp, err := http.Get(r.url + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	err := r.stop()
	if err == nil || !strings.Contains(err.Error(), "still in flight after 200ms") {
		t.Errorf("Run: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Metrics are labelled by route template, method and status code, never by
// raw path or Host header: 10,000 distinct URLs make a handful of series.
func TestMetricsAreBoundedByRoute(t *testing.T) {
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.PathValue("id"), "7") {
				http.NotFound(w, r)
			}
		})
		s.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	})
	h := r.Handler()
	want := map[[3]string]uint64{}
	for i := range 10_000 {
		method, path, route, code := http.MethodGet, fmt.Sprintf("/orders/%d", i), "/orders/{id}", "200"
		switch {
		case i%10 == 7:
			code = "404"
		case i%100 == 1:
			method, path, route, code = http.MethodPost, "/orders", "/orders", "201"
		case i%100 == 3:
			path, route, code = fmt.Sprintf("/unknown/%d", i), "", "404"
		case i%100 == 5:
			method, route, code = fmt.Sprintf("M%d", i), "", "405" // unknown methods are _OTHER
		}
		req := httptest.NewRequest(method, path, nil)
		req.Host = fmt.Sprintf("host-%d:%d", i, 1000+i%5000)
		h.ServeHTTP(httptest.NewRecorder(), req)
		m := method
		if strings.HasPrefix(m, "M") {
			m = "_OTHER"
		}
		want[[3]string{m, route, code}]++
	}
	fams := scrape(t, r.metrics)
	fam := fams["http_server_request_duration_seconds"]
	if fam == nil {
		t.Fatalf("no http_server_request_duration_seconds in %d families", len(fams))
	}
	if n := len(fam.GetMetric()); n > 8 {
		t.Errorf("%d series for 10,000 URLs", n)
	}
	for k, n := range want {
		ls := map[string]string{"http_request_method": k[0], "http_response_status_code": k[2]}
		if k[1] != "" {
			ls["http_route"] = k[1]
		}
		var got uint64
		for _, m := range series(fams, "http_server_request_duration_seconds", ls) {
			if k[1] == "" && labels(m)["http_route"] != "" {
				continue
			}
			got += m.GetHistogram().GetSampleCount()
		}
		if got != n {
			t.Errorf("%v: %d requests counted, want %d", k, got, n)
		}
	}
	for _, m := range fam.GetMetric() {
		ls := labels(m)
		if ls["server_address"] != "orders" || ls["server_port"] != "" && ls["server_port"] != "0" {
			t.Errorf("server labels come from the request: %v", ls)
		}
	}
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes", "target_info"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if ti := fams["target_info"].GetMetric(); len(ti) == 1 {
		ls := labels(ti[0])
		if ls["service_name"] != "orders" || ls["service_version"] != "1.2.3" || ls["team"] != "checkout" {
			t.Errorf("target_info: %v", ls)
		}
	}
}

func TestPanicIsAnsweredReportedOnceCountedAndTraced(t *testing.T) {
	rep := &reports{}
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { panicInHandler(r.PathValue("id")) })
		s.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {})
	}, WithReporter(rep))
	if code, body := get(t, r.url+"/orders/42"); code != http.StatusInternalServerError || !strings.Contains(body, "internal server error") || strings.Contains(body, "nil map") {
		t.Errorf("panic answered %d %q", code, body)
	}
	if code, _ := get(t, r.url+"/ok"); code != http.StatusOK {
		t.Errorf("after a panic the service answers %d", code)
	}
	errs := rep.all()
	var p *PanicError
	if len(errs) != 1 || !errors.As(errs[0], &p) {
		t.Fatalf("reported: %v", errs)
	}
	if p.Route != "/orders/{id}" || !strings.Contains(string(p.Stack), "panicInHandler") || !strings.Contains(p.Error(), "nil map") {
		t.Errorf("report: route %q, error %q, stack has the handler: %v", p.Route, p.Error(), strings.Contains(string(p.Stack), "panicInHandler"))
	}
	fams := scrape(t, r.metrics)
	if s := series(fams, "servicex_panics_total", map[string]string{"route": "/orders/{id}"}); len(s) != 1 || s[0].GetCounter().GetValue() != 1 {
		t.Errorf("panics counted: %v", fams["servicex_panics_total"])
	}
	if s := series(fams, "http_server_request_duration_seconds", map[string]string{"http_route": "/orders/{id}", "http_response_status_code": "500"}); len(s) != 1 {
		t.Errorf("the 500 is not measured: %v", fams["http_server_request_duration_seconds"])
	}
	var traced bool
	for _, sp := range r.spans.Ended() {
		if sp.Name() == "GET /orders/{id}" {
			traced = sp.Status().Code == codes.Error && len(sp.Events()) > 0 && sp.Events()[0].Name == "exception"
		}
	}
	if !traced {
		t.Error("the span is not marked with the panic")
	}
}

// panicInHandler is a bug in a handler (named, to find it in the stack).
func panicInHandler(id string) {
	var m map[string]int
	m[id] = 1
}

func TestDefaultReporterLogsTheStackOnce(t *testing.T) {
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panicInHandler("x") })
	})
	get(t, r.url+"/boom")
	lines := r.logs.lines(t)
	stacks := 0
	for _, l := range lines {
		if s, _ := l["stack"].(string); strings.Contains(s, "panicInHandler") {
			stacks++
			if l["level"] != "ERROR" || l["msg"] != "error reported" {
				t.Errorf("stack logged as %v", l)
			}
		}
	}
	if stacks != 1 {
		t.Errorf("the stack is logged %d times", stacks)
	}
	if req := withMessage(lines, "request"); len(req) != 1 || req[0]["status"] != float64(500) || req[0]["level"] != "ERROR" {
		t.Errorf("request log: %v", req)
	}
}

func TestLogsCarryTheRequestTraceAndFork(t *testing.T) {
	cfg := testConfig()
	r := start(t, cfg, func(s *Service) {
		s.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			s.Logger().InfoContext(r.Context(), "looking up", "id", r.PathValue("id"))
			w.WriteHeader(http.StatusAccepted)
		})
	})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	get(t, r.url+"/orders/7?secret=x", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", ForkHeader, "pr-42")
	lines := r.logs.lines(t)
	app, req := withMessage(lines, "looking up"), withMessage(lines, "request")
	if len(app) != 1 || len(req) != 1 {
		t.Fatalf("lines: %v", lines)
	}
	for _, l := range []map[string]any{app[0], req[0]} {
		if l["trace_id"] != traceID || l["span_id"] == "" || l["span_id"] == "00f067aa0ba902b7" || l["fork"] != "pr-42" ||
			l["service"] != "orders" || l["version"] != "1.2.3" || l["team"] != "checkout" || l["cluster"] != "qa" || l["namespace"] != "shop" {
			t.Errorf("log line: %v", l)
		}
	}
	if l := req[0]; l["method"] != "GET" || l["route"] != "/orders/{id}" || l["status"] != float64(202) || l["duration_ms"] == nil {
		t.Errorf("request line: %v", l)
	}
	if strings.Contains(fmt.Sprint(lines), "secret") {
		t.Error("the query string is logged")
	}
}

func TestLogLevelComesFromTheEnvironment(t *testing.T) {
	cfg, err := configFrom(env(contract.EnvLogLevel, "warn"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShutdownTimeout = time.Second
	r := start(t, cfg, func(s *Service) {
		s.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {})
		s.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	})
	get(t, r.url+"/ok")
	get(t, r.url+"/fail")
	req := withMessage(r.logs.lines(t), "request")
	if len(req) != 1 || req[0]["status"] != float64(503) {
		t.Errorf("at warn, logged: %v", req)
	}
}

func TestConfigFromTheEnvironment(t *testing.T) {
	cfg, err := configFrom(env())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != contract.DefaultPort || cfg.MetricsPort != contract.DefaultMetricsPort || cfg.GRPCPort != contract.DefaultGRPCPort ||
		cfg.ShutdownDrain != contract.DefaultShutdownDrain || cfg.Service != "unknown-service" || cfg.OTLPEndpoint != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = configFrom(env(contract.EnvService, "orders", contract.EnvVersion, "v3", contract.EnvPort, "3000",
		contract.EnvShutdownDrain, "2s", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))
	if err != nil || cfg.Service != "orders" || cfg.Version != "v3" || cfg.Port != 3000 || cfg.ShutdownDrain != 2*time.Second ||
		cfg.OTLPEndpoint != "http://collector:4318" {
		t.Errorf("read: %+v, %v", cfg, err)
	}
	for _, tc := range []struct{ env []string }{
		{[]string{contract.EnvPort, "http"}},
		{[]string{contract.EnvMetricsPort, "70000"}},
		{[]string{contract.EnvShutdownDrain, "5"}},
		{[]string{contract.EnvLogLevel, "loud"}},
		{[]string{contract.EnvShutdownTimeout, "30s"}},
	} {
		_, err := configFrom(env(tc.env...))
		if err == nil || !strings.Contains(err.Error(), tc.env[0]) {
			t.Errorf("%v: %v", tc.env, err)
		}
	}
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// Run fails at once, naming the port, when it cannot listen.
func TestRunNamesThePortItCannotListenOn(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Port = busy.Addr().(*net.TCPAddr).Port
	s, err := New(WithConfig(cfg), WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "HTTP port") {
		t.Errorf("Run: %v", err)
	}
}

// The server span follows OpenTelemetry's HTTP conventions: a child of the
// caller's trace, named by method and route, with the required attributes.
func TestServerSpanFollowsTheConventions(t *testing.T) {
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	})
	req, _ := http.NewRequest(http.MethodGet, r.url+"/orders/42?x=1", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("User-Agent", "checker/1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var span sdktrace.ReadOnlySpan
	for _, sp := range r.spans.Ended() {
		if sp.SpanKind() == trace.SpanKindServer {
			span = sp
		}
	}
	if span == nil {
		t.Fatalf("no server span among %d", len(r.spans.Ended()))
	}
	if span.Name() != "GET /orders/{id}" || span.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		span.Parent().SpanID().String() != "00f067aa0ba902b7" || span.Status().Code == codes.Error {
		t.Errorf("span %q, parent %v, status %v", span.Name(), span.Parent(), span.Status())
	}
	got := map[string]string{}
	for _, a := range span.Attributes() {
		got[string(a.Key)] = a.Value.Emit()
	}
	want := map[string]string{"http.request.method": "GET", "url.path": "/orders/42", "url.scheme": "http", "http.route": "/orders/{id}",
		"http.response.status_code": "202", "network.protocol.version": "1.1", "user_agent.original": "checker/1", "client.address": "127.0.0.1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// OpenTelemetry's own sampler variables apply when spans go somewhere.
func TestSamplerComesFromTheEnvironment(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	r := start(t, testConfig(), func(s *Service) { s.HandleFunc("GET /ok", func(http.ResponseWriter, *http.Request) {}) })
	if code, _ := get(t, r.url+"/ok"); code != http.StatusOK {
		t.Fatalf("GET /ok: %d", code)
	}
	if n := len(r.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded with OTEL_TRACES_SAMPLER=always_off", n)
	}
}

// A panic after the answer started aborts the connection: the client sees an
// error, not a complete 200 with half a body.
func TestPanicAfterTheAnswerStartedAbortsTheConnection(t *testing.T) {
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /half", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush()
			panicInHandler("half")
		})
	}, WithReporter(&reports{}))
	resp, err := http.Get(r.url + "/half")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the client read a complete answer (%d, %d bytes)", resp.StatusCode, len(body))
	}
	fams := scrape(t, r.metrics)
	if s := series(fams, "http_server_request_duration_seconds", map[string]string{"http_route": "/half", "http_response_status_code": "500"}); len(s) != 1 {
		t.Errorf("the failed request is not measured as a 500: %v", fams["http_server_request_duration_seconds"])
	}
}

// Streaming and upgrading handlers keep working behind servicex's writer.
func TestWrappedWriterKeepsFlusherAndHijacker(t *testing.T) {
	r := start(t, testConfig(), func(s *Service) {
		s.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
			f, ok := w.(http.Flusher)
			if !ok {
				http.Error(w, "no flusher", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("a"))
			f.Flush()
		})
		s.HandleFunc("GET /upgrade", func(w http.ResponseWriter, r *http.Request) {
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
			_ = rw.Flush()
		})
	})
	if code, body := get(t, r.url+"/stream"); code != http.StatusOK || body != "a" {
		t.Errorf("stream: %d %q", code, body)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"))
	got, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(got), "HTTP/1.1 101") || !strings.HasSuffix(string(got), "hello") {
		t.Errorf("upgrade: %q", got)
	}
}
