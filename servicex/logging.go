package servicex

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"

	"go.opentelemetry.io/otel/trace"
)

// newLogger writes JSON lines with the service's fields, and each record's
// trace_id, span_id and fork from its context, so that logs and traces of one
// request are found together.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel})
	var attrs []slog.Attr
	for _, kv := range [][2]string{{"service", cfg.Service}, {"version", cfg.Version}, {"cluster", cfg.Cluster}, {"namespace", cfg.Namespace}, {"team", cfg.Team}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	return slog.New(contextHandler{h.WithAttrs(attrs)})
}

// contextHandler adds what the context knows about the request.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if id, ok := ForkFrom(ctx); ok {
		r.AddAttrs(slog.String("fork", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush and Hijack keep what the server's own writer can do: a streaming
// handler asserts http.Flusher, a WebSocket one http.Hijacker
// (http.ResponseController finds them through Unwrap).
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// unmatched is the route of a request that no pattern matched.
const unmatched = "unmatched"

// route is the pattern that matched the request (its path part), or
// unmatched: never the raw path, whose values would make every log line and
// metric series different.
func route(r *http.Request) string {
	p := r.Pattern
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[i:]
		}
	}
	return unmatched
}
