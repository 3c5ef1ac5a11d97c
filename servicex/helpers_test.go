package servicex

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// syncBuffer is a log output tests read while the service writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines are the JSON log records written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// withMessage are the records with that msg.
func withMessage(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

type reports struct {
	mu   sync.Mutex
	errs []error
}

func (r *reports) Report(_ context.Context, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *reports) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// running is a Service serving on free local ports.
type running struct {
	*Service
	logs         *syncBuffer
	spans        *tracetest.SpanRecorder
	url, metrics string
	grpcAddr     string
	cancel       context.CancelFunc
	done         chan error
	stopped      bool
	testingT     *testing.T
}

func testConfig() Config {
	return Config{Service: "orders", Version: "1.2.3", Cluster: "qa", Namespace: "shop", Team: "checkout",
		ShutdownTimeout: 5 * time.Second}
}

// start serves a Service made with cfg (ports are chosen here), after setup
// registered its handlers; the service stops at the end of the test.
func start(t *testing.T, cfg Config, setup func(*Service), opts ...Option) *running {
	t.Helper()
	logs, spans := &syncBuffer{}, tracetest.NewSpanRecorder()
	s, err := New(append([]Option{WithConfig(cfg), WithLogOutput(logs), WithSpanProcessor(spans)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ls := listeners{http: listen(), metrics: listen()}
	r := &running{Service: s, logs: logs, spans: spans, url: "http://" + ls.http.Addr().String(),
		metrics: "http://" + ls.metrics.Addr().String() + "/metrics", done: make(chan error, 1), testingT: t}
	if s.grpcServer != nil {
		ls.grpc = listen()
		r.grpcAddr = ls.grpc.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- s.serve(ctx, ls, func() {}) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// stop is SIGTERM: it returns what Run returns.
func (r *running) stop() error {
	if r.stopped {
		return nil
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		r.testingT.Fatal("the service did not stop within 30s")
		return nil
	}
}

// scrape reads the metrics port with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	return fams
}

// labels of a series as a map.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series returns the series of a family whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range fams[name].GetMetric() {
		ls := labels(m)
		ok := true
		for k, v := range want {
			if ls[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}
