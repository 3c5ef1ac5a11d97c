package servicex

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// The cost servicex adds to a request, next to the same handler on a bare
// net/http ServeMux: fork propagation, the server span and metrics, panic
// recovery and the request log line (written, to io.Discard). Goal: at most
// 3µs and 15 allocations more per request. Run with
//
//	go test -run '^$' -bench Overhead -benchmem ./servicex
//
// (or bench/servicex.sh): it prints the figures and ratios.
func BenchmarkOverhead(b *testing.B) {
	handle := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	bare := http.NewServeMux()
	bare.HandleFunc("GET /orders/{id}", handle)
	withoutExporter := benchService(b, "")
	withoutExporter.HandleFunc("GET /orders/{id}", handle)
	// An exporter to a real OTLP endpoint that accepts and discards.
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer collector.Close()
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	withExporter := benchService(b, collector.URL)
	withExporter.HandleFunc("GET /orders/{id}", handle)

	// Sub-benchmarks, one after the other; the parent compares their figures.
	results := map[string][2]float64{} // ns/op, allocs/op
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"net/http", bare}, {"without-exporter", withoutExporter.Handler()}, {"with-exporter", withExporter.Handler()}} {
		b.Run(c.name, func(b *testing.B) { results[c.name] = serveLoop(b, c.h) })
	}
	base := results["net/http"]
	for _, name := range []string{"without-exporter", "with-exporter"} {
		r := results[name]
		extraNs, extraAllocs := r[0]-base[0], r[1]-base[1]
		verdict := "meets"
		if extraNs > 3000 || extraAllocs > 15 {
			verdict = "MISSES"
		}
		fmt.Printf("servicex %-16s %6.0f ns/op %3.0f allocs/op | net/http %5.0f ns/op %2.0f allocs/op | +%.0f ns +%.0f allocs, ratio %.1fx (%s the goal of at most +3000 ns, +15 allocs)\n",
			name, r[0], r[1], base[0], base[1], extraNs, extraAllocs, r[0]/base[0], verdict)
	}
}

func benchService(b *testing.B, otlp string) *Service {
	cfg := testConfig()
	cfg.OTLPEndpoint = otlp
	s, err := New(WithConfig(cfg), WithLogOutput(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.tel.shutdown(b.Context()) })
	return s
}

// serveLoop serves one request again and again to a writer that keeps
// nothing, so that only the handlers' cost is measured; it returns ns and
// allocations per request.
func serveLoop(b *testing.B, h http.Handler) [2]float64 {
	req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
	w := &nullWriter{header: http.Header{}}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, req)
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N)
	return [2]float64{float64(b.Elapsed().Nanoseconds()) / n, float64(after.Mallocs-before.Mallocs) / n}
}

type nullWriter struct{ header http.Header }

func (w *nullWriter) Header() http.Header         { return w.header }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(int)             {}
