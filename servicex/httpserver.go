package servicex

import (
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kube-idp/kube/servicex/contract"
)

// httpServer traces and measures the requests a service serves, recovers
// their panics and logs them, in one wrapper. The span, the metric and their
// attributes follow OpenTelemetry's HTTP semantic conventions, as otelhttp
// (which the clients use) does; the server side does not use otelhttp's
// handler because it alone costs about 30 allocations and 7 µs a request
// (bench_test.go), over the budget of the whole middleware. The savings:
// metric attributes are built once per series, span attributes only for a
// recorded span, and one response writer serves all.
type httpServer struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
	rec        recoverer
	log        *slog.Logger
	// address is server.address: the service's name, never the Host header,
	// which any client could vary to add series.
	address string

	mu     sync.RWMutex
	series map[seriesKey]metric.RecordOption
}

type seriesKey struct {
	method, route        string
	status, major, minor int
	tls                  bool
}

var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

func newHTTPServer(tel *telemetry, rec recoverer, log *slog.Logger, address string) (*httpServer, error) {
	duration, err := tel.meters.Meter(instrumentation).Float64Histogram("http.server.request.duration",
		metric.WithDescription("Duration of HTTP server requests."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(contract.DurationBuckets...))
	if err != nil {
		return nil, err
	}
	return &httpServer{
		tracer: tel.tracer(), propagator: tel.propagator, duration: duration, rec: rec, log: log,
		address: address, series: map[seriesKey]metric.RecordOption{},
	}, nil
}

// wrap instruments next, a ServeMux: it records the route on the request it is
// given, which is how the route is known here afterwards.
func (h *httpServer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := h.propagator.Extract(r.Context(), headerCarrier(r.Header))
		ctx, span := h.tracer.Start(ctx, r.Method, serverSpan...)
		r = r.WithContext(ctx)
		markFork(ctx)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					span.End()
					panic(v) // net/http's own way to abort a response
				}
				h.rec.recovered(ctx, v, route(r))
				if sw.status == 0 {
					http.Error(sw, "internal server error", http.StatusInternalServerError)
				} else {
					// The answer has started: finishing it would hand the client
					// a complete 200 with half a body. Abort the connection (the
					// client sees an error) once this request is recorded.
					sw.status = http.StatusInternalServerError
					defer panic(http.ErrAbortHandler)
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			elapsed := time.Since(start)
			h.duration.Record(ctx, elapsed.Seconds(), h.seriesOf(r, sw.status))
			if span.IsRecording() {
				h.annotate(span, r, sw.status)
			}
			span.End()
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			h.log.LogAttrs(ctx, level, "request", slog.String("method", r.Method), slog.String("route", route(r)),
				slog.Int("status", sw.status), slog.Float64("duration_ms", millis(elapsed)))
		}()
		next.ServeHTTP(sw, r)
	})
}

// seriesOf is the metric's attribute set for a request, made once per series.
func (h *httpServer) seriesOf(r *http.Request, status int) metric.RecordOption {
	k := seriesKey{method: method(r.Method), route: r.Pattern, status: status, major: r.ProtoMajor, minor: r.ProtoMinor, tls: r.TLS != nil}
	h.mu.RLock()
	opt, ok := h.series[k]
	h.mu.RUnlock()
	if ok {
		return opt
	}
	// network.protocol.name is "http", which the span leaves out as the
	// conventions allow, but otelhttp's metrics have it.
	attrs := append(h.common(r, 5), semconv.NetworkProtocolName("http"), semconv.ServerAddress(h.address), semconv.HTTPResponseStatusCode(status))
	if rt := route(r); rt != unmatched {
		attrs = append(attrs, semconv.HTTPRoute(rt))
	}
	if status >= 500 {
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}
	opt = metric.WithAttributeSet(attribute.NewSet(attrs...))
	h.mu.Lock()
	h.series[k] = opt
	h.mu.Unlock()
	return opt
}

// common are the attributes of both the span and the metric, in a slice with
// room for the others.
func (h *httpServer) common(r *http.Request, extra int) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	version := strconv.Itoa(r.ProtoMajor)
	if r.ProtoMajor == 1 {
		version += "." + strconv.Itoa(r.ProtoMinor)
	}
	attrs := make([]attribute.KeyValue, 0, 3+extra)
	return append(attrs, semconv.HTTPRequestMethodKey.String(method(r.Method)), semconv.URLScheme(scheme), semconv.NetworkProtocolVersion(version))
}

// annotate gives a recorded span its name and attributes (server.address is
// the resource's service.name already).
func (h *httpServer) annotate(span trace.Span, r *http.Request, status int) {
	attrs := append(h.common(r, 5), semconv.URLPath(r.URL.Path), semconv.HTTPResponseStatusCode(status))
	if rt := route(r); rt != unmatched {
		span.SetName(method(r.Method) + " " + rt)
		attrs = append(attrs, semconv.HTTPRoute(rt))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}

// method is the request method, or _OTHER for one HTTP does not define: a
// client may not invent label values.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// headerCarrier reads the propagators' headers without canonicalising their
// names on every request (http.Header.Get allocates for a lower-case name).
type headerCarrier http.Header

var canonical = map[string]string{"traceparent": "Traceparent", "tracestate": "Tracestate", "baggage": "Baggage"}

func (c headerCarrier) Get(key string) string {
	k, ok := canonical[key]
	if !ok {
		k = textproto.CanonicalMIMEHeaderKey(key)
	}
	return firstValue(c[k])
}

func (c headerCarrier) Set(key, value string) { http.Header(c).Set(key, value) }
func (c headerCarrier) Keys() []string        { return propagation.HeaderCarrier(c).Keys() }
