package generate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/kube-idp/kube/internal/testsupport"
	"github.com/kube-idp/kube/servicex"
	sxc "github.com/kube-idp/kube/servicex/contract"
)

// One source of truth: a web process rendered with servicex: true, run as a
// real servicex.Service with exactly the environment kube generate wrote,
// answers its probes on the ports and paths they name, serves metrics where
// the PodMonitor scrapes, and shuts down within the pod's grace period.
func TestServicexAnswersWhereGenerateLooks(t *testing.T) {
	port := testsupport.FreePort(t)
	src := fmt.Sprintf(`app: orders
team: commerce
generates:
- web:
    clusters: [qa]
    image: registry.example.com/commerce/orders
    tag: "1.4.0"
    servicex: true
    port: %d
`, port)
	f, err := ParseSpec("orders/kube-generate.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(f, "orders")
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	var monitor struct {
		Spec struct {
			PodMetricsEndpoints []struct{ Port, Path string } `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	for _, file := range files {
		switch file.Path {
		case "kubernetes/qa/deployment-orders.yaml":
			err = yaml.Unmarshal(file.Content, &dep)
		case "kubernetes/qa/podmonitor-orders.yaml":
			err = yaml.Unmarshal(file.Content, &monitor)
		}
		if err != nil {
			t.Fatalf("%s: %v", file.Path, err)
		}
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(monitor.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("generated:\n%+v\n%+v", pod, monitor)
	}
	c := pod.Containers[0]

	// The environment as the kubelet would set it.
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			t.Setenv(e.Name, "orders-qa")
		case e.ValueFrom != nil:
			t.Fatalf("env %s comes from %+v", e.Name, e.ValueFrom)
		default:
			t.Setenv(e.Name, e.Value)
		}
	}
	cfg, err := servicex.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := servicex.Config{Service: "orders", Version: "1.4.0", Cluster: "qa", Namespace: "orders-qa", Team: "commerce", Port: port, MetricsPort: sxc.DefaultMetricsPort}
	if cfg.Service != want.Service || cfg.Version != want.Version || cfg.Cluster != want.Cluster || cfg.Namespace != want.Namespace ||
		cfg.Team != want.Team || cfg.Port != want.Port || cfg.MetricsPort != want.MetricsPort {
		t.Fatalf("servicex reads %+v from the generated environment, want %+v", cfg, want)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if cfg.ShutdownDrain+cfg.ShutdownTimeout >= grace {
		t.Fatalf("shutdown takes %v + %v, the pod's grace period is %v", cfg.ShutdownDrain, cfg.ShutdownTimeout, grace)
	}

	cfg.ShutdownDrain = time.Second // the test need not wait the full drain
	svc, err := servicex.New(servicex.WithConfig(cfg), servicex.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	portNamed := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		t.Fatalf("no container port named %q in %+v", name, c.Ports)
		return 0
	}
	get := func(port int32, path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	for name, p := range probes {
		h := p.HTTPGet
		var code int
		var body string
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			code, body = get(portNamed(h.Port.StrVal), h.Path)
			return code == http.StatusOK, nil
		})
		if err != nil {
			t.Errorf("%s probe GET port %s %s: %d %s", name, h.Port.StrVal, h.Path, code, body)
		}
	}
	ep := monitor.Spec.PodMetricsEndpoints[0]
	code, body := get(portNamed(ep.Port), ep.Path)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if code != http.StatusOK || err != nil || families["go_goroutines"] == nil {
		t.Fatalf("PodMonitor scrape of port %s %s: %d, %v, %d families", ep.Port, ep.Path, code, err, len(families))
	}

	// Shutting down: readiness fails first, then Run returns.
	cancel()
	readiness := c.ReadinessProbe.HTTPGet
	err = wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, cfg.ShutdownDrain, true, func(context.Context) (bool, error) {
		code, _ := get(portNamed(readiness.Port.StrVal), readiness.Path)
		return code == http.StatusServiceUnavailable, nil
	})
	if err != nil {
		t.Errorf("readiness did not fail while draining: %v", err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(grace):
		t.Fatalf("the service did not stop within the pod's grace period of %v", grace)
	}
}

// What servicex decides may not be set by hand; each refusal names the line.
func TestServicexSpecErrors(t *testing.T) {
	for _, c := range []struct{ web, want string }{
		{"servicex: true\n    health: /ready", "kube-generate.yaml:8:5: health is set by servicex (readiness /readyz, liveness /healthz): remove it"},
		{"servicex: true\n    env: {SERVICEX_PORT: \"80\"}", "env SERVICEX_PORT is written by kube generate for servicex: remove it"},
		{"servicex: true\n    port: 9102", "port 9102 is servicex's metrics port"},
		{"servicex: true\n    grpcPort: 8080", "grpcPort 8080 is already port"},
		{"grpcPort: 9090", "grpcPort is for processes on servicex"},
	} {
		src := "app: orders\ngenerates:\n- web:\n    clusters: [qa]\n    image: registry.example.com/orders\n    tag: \"1\"\n    " + c.web + "\n"
		f, err := ParseSpec("kube-generate.yaml", []byte(src))
		if err == nil {
			_, err = Generate(f, t.TempDir())
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s", c.web, err, c.want)
		}
	}
	// SERVICEX_LOG_LEVEL and the shutdown timings stay the service's to set.
	f, err := ParseSpec("kube-generate.yaml", []byte("app: orders\ngenerates:\n- web:\n    clusters: [qa]\n    image: registry.example.com/orders\n    tag: \"1\"\n    servicex: true\n    env: {SERVICEX_LOG_LEVEL: debug}\n"))
	if err == nil {
		_, err = Generate(f, t.TempDir())
	}
	if err != nil {
		t.Fatal(err)
	}
}
