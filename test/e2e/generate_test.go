package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
