// Package contract is what kube generate and servicex agree on: the
// environment variables kube generate writes for a process that uses servicex,
// the paths and ports its probes and scrape object point at, and the pod's
// grace period. It has no dependencies, so that kube imports it without
// servicex's (docs/servicex.md).
package contract

import "time"

const (
	EnvService         = "SERVICEX_SERVICE"          // the process name
	EnvVersion         = "SERVICEX_VERSION"          // the image tag
	EnvCluster         = "SERVICEX_CLUSTER"          // the cluster's name in the registry
	EnvNamespace       = "SERVICEX_NAMESPACE"        // the pod's namespace
	EnvTeam            = "SERVICEX_TEAM"             // the owning team
	EnvPort            = "SERVICEX_PORT"             // the HTTP port (default 8080)
	EnvGRPCPort        = "SERVICEX_GRPC_PORT"        // the gRPC port, when the service serves gRPC (default 9090)
	EnvMetricsPort     = "SERVICEX_METRICS_PORT"     // the metrics port (default 9102)
	EnvLogLevel        = "SERVICEX_LOG_LEVEL"        // debug, info (default), warn or error
	EnvShutdownDrain   = "SERVICEX_SHUTDOWN_DRAIN"   // how long readiness fails before the listener closes (default 5s)
	EnvShutdownTimeout = "SERVICEX_SHUTDOWN_TIMEOUT" // how long in-flight requests may take to finish (default 15s)

	LivenessPath  = "/healthz"
	ReadinessPath = "/readyz"
	MetricsPath   = "/metrics"

	DefaultPort        = 8080
	DefaultGRPCPort    = 9090
	DefaultMetricsPort = 9102

	DefaultShutdownDrain   = 5 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	// TerminationGracePeriodSeconds leaves room for the drain, the shutdown and
	// the exporters' flush before the kubelet kills the container.
	TerminationGracePeriodSeconds = 30
)

// The container ports' names: probes and the scrape object refer to ports by
// name, so a service may change a number without touching them.
const (
	PortName        = "http"
	GRPCPortName    = "grpc"
	MetricsPortName = "metrics"
)

// HTTPServerDuration is the Prometheus name of servicex's
// http.server.request.duration histogram; its _count, labelled with
// http_response_status_code, is the default SLI of kube generate's SLOs.
const HTTPServerDuration = "http_server_request_duration_seconds"

// DurationBuckets are its bucket bounds in seconds, the semantic conventions'
// advice: a latency SLO's threshold must be one of them.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
