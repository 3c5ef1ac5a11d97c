package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/kube-idp/kube/internal/testcluster"
)

// The examples' generated manifests are accepted by the real API server (schema
// validation, admission, CRDs) in a server-side dry-run apply.
func TestGeneratedExamplesPassServerDryRun(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Kube.Discovery()))
	files, _ := filepath.Glob("../../examples/*/kubernetes/*/*.yaml")
	if len(files) < 20 {
		t.Fatalf("only %d example manifests", len(files))
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if obj.GetKind() == "Application" {
			continue // Argo CD is not installed in the sandbox
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: %s is not served: %v", f, gvk, err)
			continue
		}
		ri := env.Dynamic.Resource(m.Resource)
		var res interface {
			Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
		} = ri
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			obj.SetNamespace(env.Namespace) // the example's namespace does not exist here
			res = ri.Namespace(env.Namespace)
		}
		body, _ := obj.MarshalJSON()
		_, err = res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: "kube-e2e", DryRun: []string{metav1.DryRunAll},
		})
		if err != nil {
			t.Errorf("%s: rejected by the API server: %v", strings.TrimPrefix(f, "../../"), err)
			continue
		}
		checked++
	}
	t.Logf("%d manifests accepted", checked)
}

// kube generate in CI mode: current examples pass, a hand edit fails with its diff.
func TestKubeGenerateCheckMode(t *testing.T) {
	r := kube(t, nil, "generate", "../../examples/storefront")
	if r.code != 0 || !strings.Contains(r.stderr, "files up to date") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := filepath.Join(t.TempDir(), "storefront")
	if err := os.CopyFS(dir, os.DirFS("../../examples/storefront")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "kubernetes/prod/service-storefront.yaml")
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), "type: ClusterIP", "type: LoadBalancer", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = kube(t, nil, "generate", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "-  type: LoadBalancer\n+  type: ClusterIP") || !strings.Contains(r.stderr, "run: kube generate --update") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r = kube(t, nil, "generate", "--update", dir); r.code != 0 {
		t.Fatalf("--update: exit %d: %s", r.code, r.stderr)
	}
	if r = kube(t, nil, "generate", dir); r.code != 0 {
		t.Fatalf("after --update: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// A rule test that evaluates for long (here a dense subquery over the whole
// input at every step) does not make kube ignore Ctrl-C or CI's SIGTERM: kube
// exits 130 within its grace period.
func TestGenerateStopsOnInterrupt(t *testing.T) {
	work := t.TempDir()
	writeApp(t, work, "slow", `app: slow
slack: "#slow"
generates:
- alerts:
    clusters: [sandbox]
    rules:
    - alert: Dense
      expr: 'max_over_time(sum_over_time(up{namespace="slow"}[1d:1s])[1h:1s]) > 0'
      severity: warning
      summary: dense
      runbook: https://runbooks.example.com/dense
    tests:
    - name: slow
      input:
      - series: 'up{namespace="slow"}'
        values: '1+0x998'
      alerts:
      - at: 998m
        alert: Dense
`)
	cmd := exec.Command(kubeBin, "generate", "--update", filepath.Join(work, "slow"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Interrupt once kube is evaluating: its first second is spent loading.
	select {
	case err := <-done:
		t.Fatalf("kube generate ended before the interrupt: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Second):
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(25 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("kube generate ignored the interrupt for 25 s\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d after %s\n%s", code, time.Since(sent).Round(time.Second), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(work, "slow", "kubernetes")); !os.IsNotExist(err) {
		t.Errorf("an interrupted generate wrote manifests: %v", err)
	}
}
