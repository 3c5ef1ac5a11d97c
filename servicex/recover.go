package servicex

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorReporter receives the errors a service cannot handle (panics, and what
// the service reports itself with Service.Report). The platform team plugs its
// error tracker in here; the default one logs.
type ErrorReporter interface {
	Report(ctx context.Context, err error)
}

// PanicError is a recovered panic, with the stack where it happened.
type PanicError struct {
	Value any
	Stack []byte
	// Route is the HTTP route or gRPC method being served.
	Route string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic serving %s: %v", e.Route, e.Value) }

// logReporter logs each error once, with its stack when it is a panic.
type logReporter struct{ log *slog.Logger }

func (r logReporter) Report(ctx context.Context, err error) {
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if p, ok := err.(*PanicError); ok {
		attrs = append(attrs, slog.String("stack", string(p.Stack)))
	}
	r.log.LogAttrs(ctx, slog.LevelError, "error reported", attrs...)
}

// recoverer turns a panic into an answer (500 for HTTP, Internal for gRPC), and
// tells the reporter, the metric and the span: the process keeps serving.
type recoverer struct {
	reporter ErrorReporter
	panics   metric.Int64Counter
}

func (rc recoverer) recovered(ctx context.Context, v any, routeName string) {
	err := &PanicError{Value: v, Stack: debug.Stack(), Route: routeName}
	rc.panics.Add(ctx, 1, metric.WithAttributes(attribute.String("route", routeName)))
	span := trace.SpanFromContext(ctx)
	span.RecordError(err)
	span.SetStatus(codes.Error, "panic")
	rc.reporter.Report(ctx, err)
}

// unary recovers and logs unary calls.
func (rc recoverer) unary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		markFork(ctx)
		defer func() {
			if v := recover(); v != nil {
				rc.recovered(ctx, v, info.FullMethod)
				resp, err = nil, status.Error(grpccodes.Internal, "internal error")
			}
			logCall(ctx, log, info.FullMethod, err, start)
		}()
		return handler(ctx, req)
	}
}

// stream recovers and logs streams.
func (rc recoverer) stream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		markFork(ss.Context())
		defer func() {
			if v := recover(); v != nil {
				rc.recovered(ss.Context(), v, info.FullMethod)
				err = status.Error(grpccodes.Internal, "internal error")
			}
			logCall(ss.Context(), log, info.FullMethod, err, start)
		}()
		return handler(srv, ss)
	}
}

// markFork puts the fork identifier on the server span, so that a trace shows
// which fork served it.
func markFork(ctx context.Context) {
	if id, ok := ForkFrom(ctx); ok {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String(ForkSpanAttribute, id))
	}
}

func logCall(ctx context.Context, log *slog.Logger, method string, err error, start time.Time) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch code {
	case grpccodes.Internal, grpccodes.Unknown, grpccodes.DataLoss, grpccodes.Unavailable:
		level = slog.LevelError
	}
	log.LogAttrs(ctx, level, "call", slog.String("method", method), slog.String("code", code.String()),
		slog.Float64("duration_ms", millis(time.Since(start))))
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
