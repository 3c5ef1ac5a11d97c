package servicex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kube-idp/kube/servicex/contract"
)

// Service is one service on the platform: its HTTP (and gRPC) server with
// health endpoints and graceful shutdown, its metrics, traces and logs, its
// error reporter and its clients. Make it with New, register handlers, Run it.
type Service struct {
	cfg      Config
	log      *slog.Logger
	tel      *telemetry
	reporter ErrorReporter
	rec      recoverer

	mux        *http.ServeMux
	handler    http.Handler
	tuneServer func(*http.Server)

	grpcOnce   sync.Once
	grpcOpts   []grpc.ServerOption
	grpcServer *grpc.Server
	health     *health.Server

	ready, started atomic.Bool
}

// Option changes how New makes a Service.
type Option func(*options)

type options struct {
	cfg        *Config
	reporter   ErrorReporter
	logOutput  io.Writer
	tuneServer func(*http.Server)
	grpcOpts   []grpc.ServerOption
	spans      []sdktrace.SpanProcessor
}

// WithSpanProcessor also hands every span to sp (an error tracker's, or a
// test's recorder), next to the OTLP exporter.
func WithSpanProcessor(sp sdktrace.SpanProcessor) Option {
	return func(o *options) { o.spans = append(o.spans, sp) }
}

// WithConfig uses cfg instead of the environment.
func WithConfig(cfg Config) Option { return func(o *options) { o.cfg = &cfg } }

// WithReporter sends panics and reported errors to r (an error tracker)
// instead of the log.
func WithReporter(r ErrorReporter) Option { return func(o *options) { o.reporter = r } }

// WithLogOutput writes the JSON log lines to w instead of standard error.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// WithHTTPServer lets the service change the HTTP server's defaults (see
// NewHTTPServer) before it starts.
func WithHTTPServer(tune func(*http.Server)) Option { return func(o *options) { o.tuneServer = tune } }

// WithGRPCServerOptions adds options to the gRPC server, after servicex's own.
func WithGRPCServerOptions(opts ...grpc.ServerOption) Option {
	return func(o *options) { o.grpcOpts = append(o.grpcOpts, opts...) }
}

// New makes a Service configured from the environment that kube generate
// writes (see Config). It fails on an unreadable variable or when the
// telemetry cannot start.
func New(opts ...Option) (*Service, error) {
	o := options{logOutput: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	var cfg Config
	if o.cfg != nil {
		cfg = *o.cfg
	} else {
		var err error
		if cfg, err = ConfigFromEnv(); err != nil {
			return nil, err
		}
	}
	tel, err := newTelemetry(context.Background(), cfg, o.spans)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: newLogger(o.logOutput, cfg), tel: tel, mux: http.NewServeMux(),
		tuneServer: o.tuneServer, grpcOpts: o.grpcOpts}
	s.reporter = o.reporter
	if s.reporter == nil {
		s.reporter = logReporter{s.log}
	}
	s.rec = recoverer{reporter: s.reporter, panics: tel.panics}
	served, err := newHTTPServer(tel, s.rec, s.log, cfg.Service)
	if err != nil {
		return nil, err
	}
	s.handler = s.chain(served.wrap(s.mux))
	return s, nil
}

// MustNew is New for main functions: it exits with the error logged.
func MustNew(opts ...Option) *Service {
	s, err := New(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "servicex:", err)
		os.Exit(2)
	}
	return s
}

// Config is the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// Logger is the service's JSON logger; pass a request's context to its
// ...Context methods so that the line carries the trace and fork.
func (s *Service) Logger() *slog.Logger { return s.log }

// Meter makes the service's own metrics, exported with servicex's.
func (s *Service) Meter(name string) metric.Meter { return s.tel.meters.Meter(name) }

// Tracer starts the service's own spans, exported with servicex's.
func (s *Service) Tracer(name string) trace.Tracer { return s.tel.tracers.Tracer(name) }

// Report sends an error the service cannot handle to the reporter.
func (s *Service) Report(ctx context.Context, err error) { s.reporter.Report(ctx, err) }

// Handle registers a handler for a net/http ServeMux pattern such as
// "GET /orders/{id}". The pattern is the route of metrics, spans and logs.
func (s *Service) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers a handler function for a pattern.
func (s *Service) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, f)
}

// Handler is everything the HTTP port serves: the health endpoints, and the
// registered handlers behind fork propagation, tracing, metrics, panic
// recovery and request logging.
func (s *Service) Handler() http.Handler { return s.handler }

// chain answers the probes before anything else (they are neither traced,
// measured nor logged), and reads the fork identifier before the request is
// traced.
func (s *Service) chain(served http.Handler) http.Handler {
	app := ForkMiddleware(served)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case contract.LivenessPath:
			// Alive as long as the process serves, also while shutting down:
			// a failing liveness probe would restart it in the middle.
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "ok\n")
		case contract.ReadinessPath:
			if !s.ready.Load() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok\n")
		default:
			app.ServeHTTP(w, r)
		}
	})
}

// SetReady says whether the service can take traffic. Run makes it ready once
// it listens and not ready when it shuts down; a service that needs to warm up
// first calls SetReady(false) before Run and SetReady(true) when it is done.
func (s *Service) SetReady(ready bool) {
	s.started.Store(true)
	s.setReady(ready)
}

func (s *Service) setReady(ready bool) {
	s.ready.Store(ready)
	if s.health != nil {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if ready {
			st = healthpb.HealthCheckResponse_SERVING
		}
		s.health.SetServingStatus("", st)
	}
}

// GRPCServer is the service's gRPC server, with tracing, metrics, fork
// propagation, panic recovery, call logging and the standard health service.
// Register services on it before Run, which serves it on the gRPC port; a
// service that never calls GRPCServer serves no gRPC.
func (s *Service) GRPCServer() *grpc.Server {
	s.grpcOnce.Do(func() {
		fork := ForkPropagation{}
		opts := append([]grpc.ServerOption{
			grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(s.tel.tracers),
				otelgrpc.WithMeterProvider(s.tel.meters), otelgrpc.WithPropagators(s.tel.propagator))),
			grpc.ChainUnaryInterceptor(fork.UnaryServerInterceptor(), s.rec.unary(s.log)),
			grpc.ChainStreamInterceptor(fork.StreamServerInterceptor(), s.rec.stream(s.log)),
			// As the HTTP server's MaxHeaderBytes: gRPC's default is 16 MiB.
			grpc.MaxHeaderListSize(MaxHeaderBytes),
		}, s.grpcOpts...)
		s.grpcServer = grpc.NewServer(opts...)
		s.health = health.NewServer()
		healthpb.RegisterHealthServer(s.grpcServer, s.health)
		s.setReady(s.ready.Load())
	})
	return s.grpcServer
}

// MaxHeaderBytes bounds a request's headers, on HTTP and on gRPC.
const MaxHeaderBytes = 64 << 10

// NewHTTPServer is an http.Server with the defaults servicex serves with:
// bounded time to read headers and body, to write the answer and to keep an
// idle connection, and bounded headers.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Run serves until the process gets SIGTERM or SIGINT, or ctx ends, and then
// shuts down gracefully: readiness fails at once, the service keeps serving
// for the drain period while the platform takes it out of its endpoints, then
// the listeners close and in-flight requests get the shutdown timeout to
// finish; last, the telemetry not yet exported is flushed. Kube generate sets
// the pod's grace period to cover all of it.
func (s *Service) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ls, err := s.listen()
	if err != nil {
		return errors.Join(err, s.tel.shutdown(context.Background()))
	}
	return s.serve(ctx, ls, stop)
}

type listeners struct{ http, grpc, metrics net.Listener }

func (s *Service) listen() (listeners, error) {
	var ls listeners
	var errs []error
	open := func(port int, what string) net.Listener {
		l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s port: %w", what, err))
		}
		return l
	}
	ls.http = open(s.cfg.Port, "HTTP")
	ls.metrics = open(s.cfg.MetricsPort, "metrics")
	if s.grpcServer != nil {
		ls.grpc = open(s.cfg.GRPCPort, "gRPC")
	}
	if len(errs) > 0 {
		for _, l := range []net.Listener{ls.http, ls.grpc, ls.metrics} {
			if l != nil {
				_ = l.Close()
			}
		}
		return ls, errors.Join(errs...)
	}
	return ls, nil
}

func (s *Service) serve(ctx context.Context, ls listeners, stopSignals func()) error {
	srv := NewHTTPServer(s.handler)
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	if s.tuneServer != nil {
		s.tuneServer(srv)
	}
	metrics := NewHTTPServer(promhttp.HandlerFor(s.tel.registry, promhttp.HandlerOpts{Registry: s.tel.registry}))
	metrics.ErrorLog = srv.ErrorLog

	failed := make(chan error, 3)
	serve := func(what string, f func() error) {
		go func() {
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				failed <- fmt.Errorf("%s server: %w", what, err)
			}
		}()
	}
	serve("HTTP", func() error { return srv.Serve(ls.http) })
	serve("metrics", func() error { return metrics.Serve(ls.metrics) })
	if ls.grpc != nil {
		serve("gRPC", func() error { return s.grpcServer.Serve(ls.grpc) })
	}
	if !s.started.Load() {
		s.setReady(true)
	}
	s.log.Info("serving", "http", ls.http.Addr().String(), "metrics", ls.metrics.Addr().String(), "grpc", addrOf(ls.grpc))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
	}
	stopSignals() // a second Ctrl-C on a laptop ends the process at once
	s.setReady(false)
	srv.SetKeepAlivesEnabled(false) // answers during the drain tell clients to reconnect elsewhere
	if runErr == nil && s.cfg.ShutdownDrain > 0 {
		s.log.Info("shutting down: readiness fails while endpoints are removed", "drain", s.cfg.ShutdownDrain.String())
		time.Sleep(s.cfg.ShutdownDrain)
	}
	s.log.Info("shutting down: closing listeners, waiting for requests in flight", "timeout", s.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := []error{runErr}
	var mu sync.Mutex
	wg.Go(func() {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("HTTP requests still in flight after %s: %w", s.cfg.ShutdownTimeout, err))
			mu.Unlock()
			_ = srv.Close()
		}
	})
	if ls.grpc != nil {
		wg.Go(func() { stopGRPC(shutdownCtx, s.grpcServer) })
	}
	wg.Wait()
	// Metrics last, so that the shutdown itself is scraped; then the flush.
	_ = metrics.Shutdown(shutdownCtx)
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), flushTimeout)
	defer cancelFlush()
	errs = append(errs, s.tel.shutdown(flushCtx))
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("stopped", "error", err.Error())
	} else {
		s.log.Info("stopped")
	}
	return err
}

// flushTimeout bounds the export of the last spans at shutdown.
const flushTimeout = 5 * time.Second

// stopGRPC waits for calls in flight until ctx ends, then cancels them.
func stopGRPC(ctx context.Context, g *grpc.Server) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.Stop()
		<-done
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}
