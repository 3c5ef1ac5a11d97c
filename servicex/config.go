package servicex

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kube-idp/kube/servicex/contract"
)

// Config is what a service learns from its environment.
type Config struct {
	Service, Version, Cluster, Namespace, Team string
	Port, GRPCPort, MetricsPort                int
	LogLevel                                   slog.Level
	ShutdownDrain, ShutdownTimeout             time.Duration
	// OTLPEndpoint is OpenTelemetry's OTEL_EXPORTER_OTLP_ENDPOINT (or its traces
	// variant): traces are exported there, and nowhere when it is empty.
	OTLPEndpoint string
}

// ConfigFromEnv reads the configuration kube generate writes, with defaults
// for what is not set (a service also runs on a laptop). An unreadable value is
// an error naming the variable.
func ConfigFromEnv() (Config, error) {
	return configFrom(os.Getenv)
}

func configFrom(getenv func(string) string) (Config, error) {
	c := Config{
		Service: getenv(contract.EnvService), Version: getenv(contract.EnvVersion), Cluster: getenv(contract.EnvCluster),
		Namespace: getenv(contract.EnvNamespace), Team: getenv(contract.EnvTeam),
		OTLPEndpoint: firstNonEmpty(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")),
	}
	if c.Service == "" {
		c.Service = firstNonEmpty(getenv("OTEL_SERVICE_NAME"), "unknown-service")
	}
	var errs []string
	port := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a port number", name, v))
			return def
		}
		return p
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration such as 5s", name, v))
			return def
		}
		return d
	}
	c.Port = port(contract.EnvPort, contract.DefaultPort)
	c.GRPCPort = port(contract.EnvGRPCPort, contract.DefaultGRPCPort)
	c.MetricsPort = port(contract.EnvMetricsPort, contract.DefaultMetricsPort)
	c.ShutdownDrain = duration(contract.EnvShutdownDrain, contract.DefaultShutdownDrain)
	c.ShutdownTimeout = duration(contract.EnvShutdownTimeout, contract.DefaultShutdownTimeout)
	if v := getenv(contract.EnvLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not one of debug, info, warn, error", contract.EnvLogLevel, v))
		}
	}
	if grace := time.Duration(contract.TerminationGracePeriodSeconds) * time.Second; c.ShutdownDrain+c.ShutdownTimeout+flushTimeout > grace {
		errs = append(errs, fmt.Sprintf("%s (%s) + %s (%s) + %s to flush telemetry exceed the pod's grace period of %s that kube generate writes: the kubelet would kill requests in flight",
			contract.EnvShutdownDrain, c.ShutdownDrain, contract.EnvShutdownTimeout, c.ShutdownTimeout, flushTimeout, grace))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("servicex configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
