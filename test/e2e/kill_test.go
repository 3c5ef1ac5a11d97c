package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/testcluster"
)

// bigApp writes an app of n objects (a Namespace, then ConfigMaps, Services and
// Deployments in turn) into dir, replacing what was there.
func bigApp(t *testing.T, dir, ns string, n int) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	ids := []string{"/Namespace//" + ns}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("000-namespace.yaml", fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns))
	for i := 1; i < n; i++ {
		switch i % 5 {
		case 0, 1, 2:
			write(fmt.Sprintf("cm-%03d.yaml", i), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%03d, namespace: %s, labels: {app: big}}\ndata: {k: v}\n", i, ns))
			ids = append(ids, fmt.Sprintf("/ConfigMap/%s/c%03d", ns, i))
		case 3:
			write(fmt.Sprintf("svc-%03d.yaml", i), fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: s%03d, namespace: %s, labels: {app: big}}\nspec: {selector: {app: d%03d}, ports: [{port: 80}]}\n", i, ns, i))
			ids = append(ids, fmt.Sprintf("/Service/%s/s%03d", ns, i))
		case 4:
			write(fmt.Sprintf("deploy-%03d.yaml", i), fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d%03d, namespace: %s, labels: {app: big}}
spec:
  replicas: 1
  selector: {matchLabels: {app: d%03d}}
  template:
    metadata: {labels: {app: d%03d}}
    spec: {containers: [{name: c, image: "registry.example.com/app:1"}]}
`, i, ns, i, i))
			ids = append(ids, fmt.Sprintf("apps/Deployment/%s/d%03d", ns, i))
		}
	}
	slices.Sort(ids)
	return ids
}

// A real kube deploy of a 200-object app, killed with SIGKILL at 20 points
// spread over its run, each followed by a normal deploy of a smaller set: every
// time the inventory equals the cluster (no object labelled as the app's outside
// it, none of it missing) and no object of someone else was deleted.
func TestDeployKilledAnywhereConverges(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace + "-kill"
	t.Cleanup(func() { _ = env.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	dir := t.TempDir()
	args := []string{"deploy", "-f", dir, "--app", "big", "--yes", "--timeout", "2m", "--lock-lease", "2s", "--lock-wait", "1m"}

	// The full deploy once, to know how long it takes.
	bigApp(t, dir, ns, 200)
	start := time.Now()
	if r := kube(t, nil, args...); r.code != 0 {
		t.Fatalf("full deploy: exit %d\n%s", r.code, r.stderr)
	}
	full := time.Since(start)
	// Someone else's objects in the namespace, one of them with the app's labels.
	for _, name := range []string{"foreign-1", "c001-copy"} {
		cm := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q,"labels":{"app":"big"}}}`, name, ns)
		if _, err := env.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).
			Create(ctx, mustUnstructured(t, cm), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for i := range 20 {
		// Alternate what the killed deploy goes to: the full app, or a different small one.
		killedSize := []int{200, 120}[i%2]
		bigApp(t, dir, ns, killedSize)
		after := full * time.Duration(i+1) / 21
		cmd := exec.Command(kubeBin, args...)
		cmd.Env = os.Environ()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		smaller := 100 + 10*(i%5)
		want := bigApp(t, dir, ns, smaller)
		if r := kube(t, nil, args...); r.code != 0 {
			t.Fatalf("point %d (%s): the deploy after the kill: exit %d\n%s", i, after, r.code, r.stderr)
		}
		inv := inventory(t, env, ns)
		if !slices.Equal(inv, want) {
			t.Fatalf("point %d (%s): inventory has %d objects, want the %d deployed", i, after, len(inv), len(want))
		}
		if labelled := labelledObjects(t, env, ns); !slices.Equal(labelled, withoutNamespace(inv)) {
			t.Fatalf("point %d (%s): %d objects labelled as the app's, %d in its inventory:\n%v", i, after, len(labelled), len(inv), diffLists(labelled, withoutNamespace(inv)))
		}
		for _, name := range []string{"foreign-1", "c001-copy"} {
			if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Fatalf("point %d: someone else's ConfigMap %s was deleted: %v", i, name, err)
			}
		}
	}
}

// inventory reads the app's inventory as sorted identities.
func inventory(t *testing.T, env *testcluster.Env, ns string) []string {
	t.Helper()
	s, err := env.Kube.CoreV1().Secrets(ns).Get(context.Background(), deploy.InventoryName("big"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(s.Data["inventory"])), "\n") {
		id, _, _ := strings.Cut(line, " ")
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// labelledObjects are the app's ConfigMaps, Services and Deployments according
// to their part-of label.
func labelledObjects(t *testing.T, env *testcluster.Env, ns string) []string {
	t.Helper()
	ctx := context.Background()
	inv, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, deploy.InventoryName("big"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: contract.LabelPartOf + "=" + inv.Labels[contract.LabelApplySetID]}
	var out []string
	cms, _ := env.Kube.CoreV1().ConfigMaps(ns).List(ctx, sel)
	for _, o := range cms.Items {
		out = append(out, "/ConfigMap/"+ns+"/"+o.Name)
	}
	svcs, _ := env.Kube.CoreV1().Services(ns).List(ctx, sel)
	for _, o := range svcs.Items {
		out = append(out, "/Service/"+ns+"/"+o.Name)
	}
	deps, _ := env.Kube.AppsV1().Deployments(ns).List(ctx, sel)
	for _, o := range deps.Items {
		out = append(out, "apps/Deployment/"+ns+"/"+o.Name)
	}
	slices.Sort(out)
	return out
}

func withoutNamespace(ids []string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return strings.HasPrefix(s, "/Namespace/") })
}

func diffLists(a, b []string) string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, "labelled only: "+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, "in the inventory only: "+x)
		}
	}
	return strings.Join(out, "\n")
}

func mustUnstructured(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(text)); err != nil {
		t.Fatal(err)
	}
	return u
}
