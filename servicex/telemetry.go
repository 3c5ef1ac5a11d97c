package servicex

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is a service's metrics and traces: OpenTelemetry instruments
// exported in Prometheus format on the metrics port, with Go runtime and process
// metrics; spans exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
type telemetry struct {
	registry   *prometheus.Registry
	meters     *sdkmetric.MeterProvider
	tracers    *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
	panics     metric.Int64Counter
}

func newTelemetry(ctx context.Context, cfg Config, spans []sdktrace.SpanProcessor) (*telemetry, error) {
	res, err := resource.New(ctx, resource.WithAttributes(resourceAttributes(cfg)...))
	if err != nil {
		return nil, err
	}
	t := &telemetry{
		registry: prometheus.NewRegistry(),
		// W3C trace context and baggage: the fork identifier rides in baggage too.
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics exporter: %w", err)
	}
	// Body size histograms would triple the series of every route for little
	// use; the durations carry the counts, errors and latencies SLOs need.
	dropBodySizes := sdkmetric.NewView(sdkmetric.Instrument{Name: "http.*.body.size"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})
	t.meters = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter), sdkmetric.WithView(dropBodySizes))
	// Without anywhere to send spans, none is recorded (recording costs more
	// than the rest of a request's instrumentation); trace IDs are still made
	// and propagated, so that logs correlate.
	// Otherwise the SDK's default sampler: parent-based, always on, or what
	// OTEL_TRACES_SAMPLER says.
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint == "" && len(spans) == 0 {
		topts = append(topts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	if cfg.OTLPEndpoint != "" {
		// otlptracehttp reads the OTEL_EXPORTER_OTLP_* variables itself.
		spans, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("trace exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithBatcher(spans))
	}
	for _, sp := range spans {
		topts = append(topts, sdktrace.WithSpanProcessor(sp))
	}
	t.tracers = sdktrace.NewTracerProvider(topts...)
	t.panics, err = t.meters.Meter(instrumentation).Int64Counter("servicex.panics",
		metric.WithDescription("Panics recovered while serving a request, by route."), metric.WithUnit("{panic}"))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// instrumentation names servicex's own meter and tracer.
const instrumentation = "github.com/kube-idp/kube/servicex"

func resourceAttributes(cfg Config) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.Service)}
	add := func(k attribute.Key, v string) {
		if v != "" {
			attrs = append(attrs, k.String(v))
		}
	}
	add(semconv.ServiceVersionKey, cfg.Version)
	add(semconv.K8SNamespaceNameKey, cfg.Namespace)
	add(semconv.DeploymentEnvironmentNameKey, cfg.Cluster)
	add("team", cfg.Team)
	return attrs
}

func (t *telemetry) tracer() trace.Tracer { return t.tracers.Tracer(instrumentation) }

// shutdown flushes what was not exported yet.
func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(t.tracers.Shutdown(ctx), t.meters.Shutdown(ctx))
}
