package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The tests run the example as a real process: this test binary, started
// again with ORDERS_RUN_MAIN=1, is the service (no build inside a test).
func TestMain(m *testing.M) {
	if os.Getenv("ORDERS_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is one running copy of the example.
type process struct {
	cmd               *exec.Cmd
	port, metricsPort int
	url               string
	logs              *syncBuffer
	exited            chan error
}

// start runs the example with the environment kube generate writes, on free
// ports, and waits until it is ready.
func start(t *testing.T, name string, env ...string) *process {
	t.Helper()
	p := &process{port: freePort(t), metricsPort: freePort(t), logs: &syncBuffer{}, exited: make(chan error, 1)}
	p.url = fmt.Sprintf("http://127.0.0.1:%d", p.port)
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), append([]string{
		"ORDERS_RUN_MAIN=1",
		"SERVICEX_SERVICE=" + name, "SERVICEX_VERSION=1.0.0", "SERVICEX_CLUSTER=test", "SERVICEX_NAMESPACE=commerce", "SERVICEX_TEAM=commerce",
		fmt.Sprintf("SERVICEX_PORT=%d", p.port), fmt.Sprintf("SERVICEX_METRICS_PORT=%d", p.metricsPort),
	}, env...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			lines := strings.Split(p.logs.String(), "\n")
			t.Logf("%s's log, last lines:\n%s", name, strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get(p.url + "/readyz"); code == http.StatusOK {
			return p
		}
		select {
		case err := <-p.exited:
			t.Fatalf("%s exited before it was ready: %v\n%s", name, err, p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready after 20s:\n%s", name, p.logs.String())
		}
	}
}

// The probes answer, requests are counted by route template and status code in
// a scrape that Prometheus's own parser reads, and a panic is a 500, reported
// once (one log record with the stack) and counted.
func TestProbesMetricsAndPanic(t *testing.T) {
	p := start(t, "orders")
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(p.url + path); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	for i := range 25 {
		if code, body := get(fmt.Sprintf("%s/orders/%d", p.url, i)); code != http.StatusOK {
			t.Fatalf("GET /orders/%d: %d %s", i, code, body)
		}
	}
	if code, _ := get(p.url + "/nowhere/at/all"); code != http.StatusNotFound {
		t.Errorf("an unknown path: %d", code)
	}
	if code, _ := get(p.url + "/panic"); code != http.StatusInternalServerError {
		t.Errorf("GET /panic: %d, want 500", code)
	}
	if code, _ := get(p.url + "/readyz"); code != http.StatusOK {
		t.Errorf("the process did not survive the panic: readyz %d", code)
	}

	families := scrape(t, p)
	counts := map[string]float64{}
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		l := labels(m)
		counts[l["http_request_method"]+" "+l["http_route"]+" "+l["http_response_status_code"]] += float64(m.GetHistogram().GetSampleCount())
	}
	want := map[string]float64{"GET /orders/{id} 200": 25, "GET /panic 500": 1, "GET  404": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("requests %q = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("series by method, route and code: %v, want %v", counts, want)
	}
	var panics float64
	for _, m := range families["servicex_panics_total"].GetMetric() {
		if labels(m)["route"] == "/panic" {
			panics += m.GetCounter().GetValue()
		}
	}
	if panics != 1 || families["go_goroutines"] == nil {
		t.Errorf("servicex_panics_total{route=\"/panic\"} = %v; go_goroutines present: %v", panics, families["go_goroutines"] != nil)
	}
	reports := 0
	for _, l := range p.logs.lines(t) {
		if strings.Contains(fmt.Sprint(l["error"]), "the example panics on purpose") {
			reports++
			if !strings.Contains(fmt.Sprint(l["stack"]), "examples/orders/main.go:") {
				t.Errorf("the report has no stack: %v", l)
			}
		}
	}
	if reports != 1 {
		t.Errorf("the panic was reported %d times, want once:\n%s", reports, p.logs.String())
	}
}

// SIGTERM in the middle of a steady load loses no request. The test is the
// load balancer: it polls readiness and stops routing to the process once it
// fails, as endpoints controllers do; readiness must fail before the listener
// closes, and every request sent must be answered 2xx.
func TestSIGTERMUnderLoadLosesNoRequest(t *testing.T) {
	p := start(t, "orders", "SERVICEX_SHUTDOWN_DRAIN=1s", "SERVICEX_SHUTDOWN_TIMEOUT=5s")
	var routing atomic.Bool
	routing.Store(true)
	var sent, ok atomic.Int64
	var failures sync.Map
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	steady := make(chan struct{}) // closed at the 50th answer
	for w := range 8 {
		wg.Go(func() {
			for i := 0; routing.Load(); i++ {
				sent.Add(1)
				resp, err := client.Get(fmt.Sprintf("%s/orders/%d-%d?delay=50ms", p.url, w, i))
				if err != nil {
					failures.Store(err.Error(), true)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					if ok.Add(1) == 50 {
						close(steady)
					}
				} else {
					failures.Store(resp.Status, true)
				}
			}
		})
	}
	// The load balancer's view, every 10ms.
	var notReadyAt, refusedAt time.Time
	lbDone := make(chan struct{})
	go func() {
		defer close(lbDone)
		for {
			code, _ := get(p.url + "/readyz")
			now := time.Now()
			switch {
			case code == http.StatusServiceUnavailable && notReadyAt.IsZero():
				notReadyAt = now
				routing.Store(false)
			case code == 0:
				refusedAt = now
				routing.Store(false)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	// A steady load first: 50 requests answered.
	select {
	case <-steady:
	case <-time.After(20 * time.Second):
		t.Fatalf("no steady load: %d of %d requests answered", ok.Load(), sent.Load())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit within 15s of SIGTERM")
	}
	<-lbDone
	var lost []string
	failures.Range(func(k, _ any) bool { lost = append(lost, k.(string)); return true })
	if sent.Load() < 50 || sent.Load() != ok.Load() {
		t.Fatalf("sent %d requests, %d answered 2xx; failures: %v", sent.Load(), ok.Load(), lost)
	}
	if notReadyAt.IsZero() || refusedAt.IsZero() || !notReadyAt.Before(refusedAt) {
		t.Fatalf("readiness failed at %v, connections refused from %v: readiness must fail first", notReadyAt, refusedAt)
	}
	t.Logf("%d requests, all answered; readiness failed %v before the listener closed", sent.Load(), refusedAt.Sub(notReadyAt).Round(time.Millisecond))
}

// One request through orders → payments → stock is one trace across the three
// services, exported over OTLP to a receiver that decodes what real collectors
// receive, and every service's server span carries the fork identifier.
func TestTraceSpansThreeServicesWithTheFork(t *testing.T) {
	rx := newReceiver(t)
	otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + rx.URL, "OTEL_BSP_SCHEDULE_DELAY=50"}
	stock := start(t, "stock", otel...)
	payments := start(t, "payments", append(otel, "NEXT_URL="+stock.url)...)
	orders := start(t, "orders", append(otel, "NEXT_URL="+payments.url)...)

	req, _ := http.NewRequest(http.MethodGet, orders.url+"/orders/7", nil)
	req.Header.Set("x-fork-identifier", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), `"fork":"alice"`) != 3 {
		t.Fatalf("%d %s: want the fork seen by all three services", resp.StatusCode, body)
	}

	// Wait for each service's server span of the request.
	deadline := time.Now().Add(20 * time.Second)
	var spans []span
	for {
		spans = rx.serverSpans("GET /orders/{id}")
		if len(spans) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	services := map[string]bool{}
	for _, s := range spans {
		services[s.service] = true
		if s.traceID != spans[0].traceID {
			t.Errorf("%s's span is in trace %s, %s's in %s", s.service, s.traceID, spans[0].service, spans[0].traceID)
		}
		if s.fork != "alice" {
			t.Errorf("%s's span has fork %q", s.service, s.fork)
		}
	}
	if len(spans) != 3 || !services["orders"] || !services["payments"] || !services["stock"] {
		t.Fatalf("server spans: %+v", spans)
	}
	// The calls between them are client spans in the same trace.
	if n := rx.clientSpans(spans[0].traceID); n != 2 {
		t.Errorf("%d client spans in the trace, want 2 (orders → payments, payments → stock)", n)
	}
}

// receiver is an OTLP/HTTP traces endpoint.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.ResourceSpans
}

type span struct{ service, traceID, fork string }

func newReceiver(t *testing.T) *receiver {
	rx := &receiver{}
	rx.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, _ := io.ReadAll(body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(data, &req) != nil {
			http.Error(w, "not an OTLP traces export", http.StatusBadRequest)
			return
		}
		rx.mu.Lock()
		rx.spans = append(rx.spans, req.GetResourceSpans()...)
		rx.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rx.Close)
	return rx
}

func (rx *receiver) each(f func(service string, s *tracepb.Span)) {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	for _, rs := range rx.spans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				f(service, s)
			}
		}
	}
}

func (rx *receiver) serverSpans(name string) []span {
	var out []span
	rx.each(func(service string, s *tracepb.Span) {
		if s.GetKind() != tracepb.Span_SPAN_KIND_SERVER || s.GetName() != name {
			return
		}
		sp := span{service: service, traceID: fmt.Sprintf("%x", s.GetTraceId())}
		for _, a := range s.GetAttributes() {
			if a.GetKey() == "kube.fork" {
				sp.fork = a.GetValue().GetStringValue()
			}
		}
		out = append(out, sp)
	})
	return out
}

func (rx *receiver) clientSpans(traceID string) int {
	n := 0
	rx.each(func(_ string, s *tracepb.Span) {
		if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && fmt.Sprintf("%x", s.GetTraceId()) == traceID {
			n++
		}
	})
	return n
}

func scrape(t *testing.T, p *process) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metricsPort))
	if code != http.StatusOK {
		t.Fatalf("scrape: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return families
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func get(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a process's output, read while it writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines are the JSON records of the output.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}
