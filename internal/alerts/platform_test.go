package alerts

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kube-idp/kube/internal/sandbox"
)

var update = flag.Bool("update", false, "rewrite config/monitoring/monitoring.yaml")

const monitoringFile = "../../config/monitoring/monitoring.yaml"

// RenderPlatform writes the platform's objects as config/monitoring holds them.
func renderPlatform(t *testing.T) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by `go test ./internal/alerts -update` from internal/alerts (the catalogue\n" +
		"# and platform.go); do not edit. Install once per cluster after prometheus-operator,\n" +
		"# with externalLabels.cluster set to the cluster's registry name (docs/alerts.md).\n")
	for _, o := range (Platform{Cluster: "prod"}).Objects() {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes()
}

func TestConfigMonitoringIsCurrent(t *testing.T) {
	want := renderPlatform(t)
	if *update {
		if err := os.WriteFile(monitoringFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(monitoringFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not current (%v): run go test ./internal/alerts -update", monitoringFile, err)
	}
}

// The platform's monitoring runs the versions the tests build and run.
func TestPlatformVersionsAreTheTestedOnes(t *testing.T) {
	if PrometheusRelease != sandbox.PrometheusRelease || AlertmanagerRelease != sandbox.AlertmanagerRelease {
		t.Fatalf("platform: Prometheus %s, Alertmanager %s; tests: %s, %s", PrometheusRelease, AlertmanagerRelease, sandbox.PrometheusRelease, sandbox.AlertmanagerRelease)
	}
}
