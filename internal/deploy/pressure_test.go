//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package deploy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/testcluster"
)

var apiextGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func newClient(t *testing.T, env *testcluster.Env) *Client {
	t.Helper()
	c, err := NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func configMaps(ns, prefix string, n int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range n {
		out = append(out, configMap(ns, fmt.Sprintf("%s%03d", prefix, i)))
	}
	return out
}

// assertInventoryIsCluster checks that the inventory names exactly the objects
// labelled as part of the app (no orphan, nothing missing) and that each exists.
func assertInventoryIsCluster(t *testing.T, c *Client, app, ns string) *Inventory {
	t.Helper()
	ctx := context.Background()
	inv, err := c.readInventory(ctx, app, ns)
	if err != nil {
		t.Fatal(err)
	}
	assertNoOrphans(t, c, inv)
	for _, id := range inv.Objects {
		if id.Kind != "ConfigMap" {
			continue
		}
		if _, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, id.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s is in the inventory but not in the cluster: %v", id.Short(), err)
		}
	}
	return inv
}

// Two deploys of one app at once: the second waits for the first (the lock),
// every deploy records its revision, and the inventory always equals the
// cluster. Before the lock, half of such pairs failed after applying and left
// objects labelled as the app's but outside its inventory.
func TestConcurrentDeploysAreSerialised(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	for trial := range 4 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		revs := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Different contents: 20 ConfigMaps each, half of them shared.
				objs := append(configMaps(ns, "shared", 10), configMaps(ns, fmt.Sprintf("own%d-", i), 10)...)
				res, err := c.Deploy(context.Background(), Options{App: "same", Namespace: ns, Objects: objs,
					Lock: LockOptions{Wait: time.Minute, Holder: fmt.Sprintf("deploy %d", i)}})
				errs[i] = err
				if res != nil {
					revs[i] = res.Revision
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d, deploy %d: %v", trial, i, err)
			}
		}
		inv := assertInventoryIsCluster(t, c, "same", ns)
		if len(inv.Objects) != 20 {
			t.Fatalf("trial %d: the inventory has %d objects, want the 20 of the deploy that ran last", trial, len(inv.Objects))
		}
		// A deploy records a revision unless the other left exactly its set.
		if revs[0] == revs[1] || revs[0]+revs[1] == 0 {
			t.Fatalf("trial %d: revisions %v", trial, revs)
		}
	}
}

// With --lock-wait 0 a deploy fails at once and names who deploys; a holder
// that crashed loses the lock when its lease expires.
func TestLockNamesTheHolderAndExpires(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	held, err := c.Lock(ctx, "locked", ns, LockOptions{Holder: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Deploy(ctx, Options{App: "locked", Namespace: ns, Objects: configMaps(ns, "a", 1), Lock: LockOptions{Holder: "bob"}})
	var locked *LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), "is being deployed by alice@example.com on ") || !strings.Contains(err.Error(), "since ") {
		t.Fatalf("deploy while locked: %v", err)
	}
	var waited []string
	_, err = c.Deploy(ctx, Options{App: "locked", Namespace: ns, Objects: configMaps(ns, "a", 1),
		Lock: LockOptions{Holder: "bob", Wait: 3 * time.Second, Waiting: func(h string) { waited = append(waited, h) }}})
	if !errors.As(err, &locked) || len(waited) != 1 || !strings.Contains(waited[0], "alice@example.com") {
		t.Fatalf("deploy waiting for the lock: %v, told %q", err, waited)
	}
	held.release()
	if _, err := c.Deploy(ctx, Options{App: "locked", Namespace: ns, Objects: configMaps(ns, "a", 1), Lock: LockOptions{Holder: "bob"}}); err != nil {
		t.Fatalf("deploy after the release: %v", err)
	}

	// A crashed holder: its lease of 3 seconds was renewed a minute ago.
	past := metav1.NewMicroTime(time.Now().Add(-time.Minute))
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LockName("crashed"), Namespace: ns},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("ghost"), LeaseDurationSeconds: ptr.To[int32](3), AcquireTime: &past, RenewTime: &past}}
	if _, err := env.Kube.CoordinationV1().Leases(ns).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lk := LockOptions{Holder: "bob", Duration: 3 * time.Second, Wait: 20 * time.Second}
	if _, err := c.Deploy(ctx, Options{App: "crashed", Namespace: ns, Objects: configMaps(ns, "b", 1), Lock: lk}); err != nil {
		t.Fatalf("deploy after a crashed holder: %v", err)
	}
	// Taken over only once seen unrenewed for the lease's duration.
	if waited := time.Since(start); waited < 3*time.Second {
		t.Errorf("took over a lease seen for %s only", waited)
	}
}

// randomConfigMap holds size bytes that do not compress.
func randomConfigMap(ns, name string, size int) *unstructured.Unstructured {
	b := make([]byte, size*3/4)
	_, _ = rand.Read(b)
	cm := configMap(ns, name)
	cm.Object["data"] = map[string]any{"blob": base64.StdEncoding.EncodeToString(b)}
	return cm
}

// A revision over 1 MiB is stored in parts: the deploy records it, history
// shows it and rollback returns to it. It used to fail after applying, and the
// next deploy said "No changes", so nothing could be rolled back.
func TestLargeRevisionsAreStoredInParts(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	big := []*unstructured.Unstructured{randomConfigMap(ns, "big1", 700<<10), randomConfigMap(ns, "big2", 700<<10), randomConfigMap(ns, "big3", 700<<10)}
	res, err := c.Deploy(ctx, Options{App: "big", Namespace: ns, Objects: big})
	if err != nil || res.Revision != 1 {
		t.Fatalf("first deploy: %v %+v", err, res)
	}
	parts, _ := env.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: contract.LabelRevisionPart + "=1"})
	if len(parts.Items) < 1 {
		t.Fatalf("no parts stored for a %d KiB record", 2100)
	}
	if _, err := c.Deploy(ctx, Options{App: "big", Namespace: ns, Objects: configMaps(ns, "small", 2)}); err != nil {
		t.Fatal(err)
	}
	objs, err := c.RevisionObjects(ctx, "big", ns, 1)
	if err != nil || len(objs) != 3 {
		t.Fatalf("revision 1: %v, %d objects", err, len(objs))
	}
	if _, _, err := c.Rollback(ctx, Options{App: "big", Namespace: ns}, 1); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	got, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "big2", metav1.GetOptions{})
	if err != nil || got.Data["blob"] != big[1].Object["data"].(map[string]any)["blob"] {
		t.Fatalf("big2 after rollback: %v", err)
	}
	hist, _ := c.History(ctx, "big", ns)
	if len(hist) != 3 {
		t.Fatalf("history: %+v", hist)
	}
	// Trimming the history removes the parts with their revision.
	for range 3 {
		if _, err := c.Deploy(ctx, Options{App: "big", Namespace: ns, Objects: configMaps(ns, fmt.Sprintf("x%d-", time.Now().UnixNano()), 1), Keep: 2}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ = env.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: contract.LabelRevisionPart})
	for _, p := range parts.Items {
		if p.Labels[contract.LabelRevisionPart] == "1" || p.Labels[contract.LabelRevisionPart] == "3" {
			t.Errorf("part %s outlived its revision", p.Name)
		}
	}
}

// unschedulable never becomes ready in the sandbox: no node has its label.
func unschedulable(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "stuck", "namespace": ns},
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "stuck"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "stuck"}},
				"spec": map[string]any{
					"nodeSelector": map[string]any{"no-such-node": "true"},
					"containers":   []any{map[string]any{"name": "c", "image": "registry.example.com/x:1"}},
				},
			},
		},
	}}
}

// Interrupted (Ctrl-C) while waiting: the applied objects are recorded as a
// revision all the same. A rerun without changes still waits for readiness,
// and fails while the app is not ready (a CI retry must not go green).
func TestInterruptedWaitRecordsTheRevision(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	objs := []*unstructured.Unstructured{configMap(ns, "a"), unschedulable(ns)}
	_, err := c.Deploy(ctx, Options{App: "int", Namespace: ns, Objects: objs, Timeout: time.Minute})
	if err == nil {
		t.Fatal("the interrupted deploy succeeded")
	}
	hist, err := c.History(context.Background(), "int", ns)
	if err != nil || len(hist) != 1 || hist[0].Objects != 2 {
		t.Fatalf("history after the interruption: %v %+v", err, hist)
	}
	res, err := c.Deploy(context.Background(), Options{App: "int", Namespace: ns, Objects: objs, Timeout: 2 * time.Second})
	var werr *WaitError
	if !errors.As(err, &werr) || res.Plan.HasChanges() || !strings.Contains(err.Error(), "Deployment/stuck") {
		t.Fatalf("rerun without changes: %v", err)
	}
}

// A deploy killed after applying and before recording: the next deploy has
// nothing to apply but records what runs, so that rollback returns to the right
// version.
func TestHistoryDescribesWhatWasApplied(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	if _, err := c.Deploy(ctx, Options{App: "h", Namespace: ns, Objects: configMaps(ns, "v1-", 2)}); err != nil {
		t.Fatal(err)
	}
	// What a killed deploy leaves: applied, inventory written, no revision.
	plan, err := c.MakePlan(ctx, PlanOptions{App: "h", Namespace: ns, Objects: configMaps(ns, "v2-", 2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, plan, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Deploy(ctx, Options{App: "h", Namespace: ns, Objects: configMaps(ns, "v2-", 2)})
	if err != nil || !res.Recorded || res.Revision != 2 {
		t.Fatalf("rerun: %v %+v", err, res)
	}
	objs, err := c.RevisionObjects(ctx, "h", ns, 2)
	if err != nil || len(objs) != 2 || objs[0].GetName() != "v2-000" {
		t.Fatalf("revision 2 does not describe what runs: %v %v", err, objs)
	}
	// And a third run records nothing.
	if res, err := c.Deploy(ctx, Options{App: "h", Namespace: ns, Objects: configMaps(ns, "v2-", 2)}); err != nil || res.Recorded {
		t.Fatalf("third run: %v %+v", err, res)
	}
}

func deployment(ns, name string, replicas int64) *unstructured.Unstructured {
	d := unschedulable(ns)
	d.SetName(name)
	spec := d.Object["spec"].(map[string]any)
	spec["replicas"] = replicas
	spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": name}}
	tpl := spec["template"].(map[string]any)
	tpl["metadata"] = map[string]any{"labels": map[string]any{"app": name}}
	delete(tpl["spec"].(map[string]any), "nodeSelector")
	return d
}

// kube scale, then a deploy of the same manifests: the manifests' count comes
// back (it used to fail on a field conflict with kube scale). A workload an
// autoscaler scales keeps the autoscaler's count, and kube scale refuses it.
func TestScaleAndDeployAgree(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	objs := []*unstructured.Unstructured{deployment(ns, "web", 2)}
	if _, err := c.Deploy(ctx, Options{App: "sc", Namespace: ns, Objects: objs}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scale(ctx, "sc", ns, "web", 5); err != nil {
		t.Fatal(err)
	}
	plan, err := c.MakePlan(ctx, PlanOptions{App: "sc", Namespace: ns, Objects: objs})
	if err != nil || plan.Changes[0].Action != Update || !strings.Contains(plan.Changes[0].Diff, "-  replicas: 5\n+  replicas: 2") {
		t.Fatalf("plan after scale: %v\n%+v", err, plan)
	}
	if _, err := c.Deploy(ctx, Options{App: "sc", Namespace: ns, Objects: objs}); err != nil {
		t.Fatalf("deploy after kube scale: %v", err)
	}
	d, _ := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 2 {
		t.Fatalf("replicas after the deploy: %d", *d.Spec.Replicas)
	}

	hpa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
		"metadata": map[string]any{"name": "web", "namespace": ns},
		"spec": map[string]any{
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
			"minReplicas":    int64(3), "maxReplicas": int64(6),
		},
	}}
	// Adding the autoscaler: the manifests' replicas go, and the workload keeps
	// its 2 until the autoscaler changes them (it used to fall to the default
	// of 1 for a moment, as with kubectl apply).
	w, err := env.Kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=web", ResourceVersion: d.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := c.Deploy(ctx, Options{App: "sc", Namespace: ns, Objects: append(objs, hpa)}); err != nil {
		t.Fatal(err)
	}
	// The sandbox's controller manager runs the real autoscaler: below its
	// minimum, it scales to 3.
	var seen []int32
	timeout := time.After(time.Minute)
	for len(seen) == 0 || seen[len(seen)-1] != 3 {
		select {
		case ev := <-w.ResultChan():
			if dep, ok := ev.Object.(*appsv1.Deployment); ok {
				seen = append(seen, *dep.Spec.Replicas)
			}
		case <-timeout:
			t.Fatalf("the autoscaler did not scale to its minimum of 3; replicas seen: %v", seen)
		}
	}
	if slices.Min(seen) < 2 {
		t.Fatalf("adding the autoscaler dropped the replicas: %v", seen)
	}
	plan, err = c.MakePlan(ctx, PlanOptions{App: "sc", Namespace: ns, Objects: append(objs, hpa)})
	if err != nil || plan.Changes[0].Action != Unchanged {
		t.Fatalf("plan of an autoscaled workload: %v\n%+v", err, plan)
	}
	changed := deployment(ns, "web", 2)
	changed.SetAnnotations(map[string]string{"release": "2"})
	if _, err := c.Deploy(ctx, Options{App: "sc", Namespace: ns, Objects: []*unstructured.Unstructured{changed, hpa}}); err != nil {
		t.Fatalf("deploy of an autoscaled workload: %v", err)
	}
	d, _ = env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 3 {
		t.Fatalf("the deploy changed the autoscaler's replicas to %d", *d.Spec.Replicas)
	}
	if _, err := c.Scale(ctx, "sc", ns, "web", 1); err == nil || !strings.Contains(err.Error(), "scaled by HorizontalPodAutoscaler web") {
		t.Fatalf("kube scale of an autoscaled workload: %v", err)
	}
}

// countingConfig counts the API requests made through it, by method.
func countingConfig(cfg *rest.Config) (*rest.Config, func() map[string]int) {
	cfg = rest.CopyConfig(cfg)
	var mu sync.Mutex
	counts := map[string]int{}
	var total atomic.Int64
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			verb := r.Method
			if strings.Contains(r.URL.RawQuery, "dryRun") {
				verb += " (dry run)"
			}
			counts[verb]++
			mu.Unlock()
			total.Add(1)
			return rt.RoundTrip(r)
		})
	})
	return cfg, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range counts {
			out[k] = v
		}
		clear(counts)
		return out
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A redeploy without changes does not grow with the app: one list per kind and
// namespace, no dry run, no per-object request (it used to be a get and a dry
// run per object: 3,005 requests for 1,500 ConfigMaps). bench/deploy.sh times it.
func TestNoOpRedeployIsConstantInRequests(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	for _, n := range []int{20, 200} {
		cfg, counts := countingConfig(env.Config)
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		app := fmt.Sprintf("noop%d", n)
		objs := configMaps(ns, app+"-", n)
		if _, err := c.Deploy(context.Background(), Options{App: app, Namespace: ns, Objects: objs, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		counts()
		res, err := c.Deploy(context.Background(), Options{App: app, Namespace: ns, Objects: objs, Timeout: time.Minute})
		if err != nil || res.Plan.HasChanges() {
			t.Fatalf("no-op: %v", err)
		}
		got := counts()
		total := 0
		var verbs []string
		for v, k := range got {
			total += k
			verbs = append(verbs, fmt.Sprintf("%s %d", v, k))
		}
		sort.Strings(verbs)
		if total > 20 || got["PATCH (dry run)"] > 0 || got["PATCH"] > 0 {
			t.Errorf("no-op redeploy of %d ConfigMaps: %d requests (%s)", n, total, strings.Join(verbs, ", "))
		}
	}
}

// An object changed in the cluster behind kube's back is not "unchanged":
// the fast path compares the live values, and the deploy puts them back.
func TestDriftIsNotHiddenByTheFastPath(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	objs := configMaps(ns, "d", 3)
	if _, err := c.Deploy(ctx, Options{App: "drift", Namespace: ns, Objects: objs}); err != nil {
		t.Fatal(err)
	}
	cm, _ := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "d001", metav1.GetOptions{})
	cm.Data["k"] = "changed by hand"
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Deploy(ctx, Options{App: "drift", Namespace: ns, Objects: objs, ApplyOptions: ApplyOptions{ForceConflicts: true}})
	if err != nil || res.Plan.Count()[Update] != 1 {
		t.Fatalf("redeploy after drift: %v %+v", err, res.Plan.Count())
	}
	cm, _ = env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "d001", metav1.GetOptions{})
	if cm.Data["k"] != "d001" {
		t.Fatalf("drift not repaired: %q", cm.Data["k"])
	}
}

// job runs for runTime in the sandbox (its pods are fake), in a sync wave.
func job(ns, name, runTime string, wave int, ttl *int64) *unstructured.Unstructured {
	j := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": name, "namespace": ns, "annotations": map[string]any{contract.AnnotationSyncWave: fmt.Sprint(wave)}},
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"sandbox.kube-idp.dev/run-time": runTime}},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{map[string]any{"name": "migrate", "image": "registry.example.com/app:1"}},
				},
			},
		},
	}}
	if ttl != nil {
		j.Object["spec"].(map[string]any)["ttlSecondsAfterFinished"] = *ttl
	}
	return j
}

// A migration Job in sync wave -1 completes before the Deployment of wave 0 is
// applied; a Job that its TTL deletes right after completing counts as done and
// is not created again by the next deploy.
func TestSyncWavesAndCompletedJobs(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	objs := []*unstructured.Unstructured{job(ns, "migrate", "2s", -1, nil), deployment(ns, "web", 1)}
	if _, err := c.Deploy(ctx, Options{App: "waves", Namespace: ns, Objects: objs, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
	if err != nil || j.Status.CompletionTime == nil {
		t.Fatalf("the migration did not complete: %v %+v", err, j.Status)
	}
	d, _ := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if d.CreationTimestamp.Before(j.Status.CompletionTime) {
		t.Fatalf("the Deployment was created at %s, before the migration completed at %s", d.CreationTimestamp, j.Status.CompletionTime)
	}

	zero := int64(0)
	once := []*unstructured.Unstructured{job(ns, "once", "1s", 0, &zero), configMap(ns, "a")}
	if _, err := c.Deploy(ctx, Options{App: "ttl", Namespace: ns, Objects: once, Timeout: time.Minute}); err != nil {
		t.Fatalf("deploy of a Job deleted when it completes: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the TTL controller did not delete the completed Job")
		}
		time.Sleep(200 * time.Millisecond)
	}
	res, err := c.Deploy(ctx, Options{App: "ttl", Namespace: ns, Objects: once, Timeout: time.Minute})
	if err != nil || res.Plan.HasChanges() || !strings.Contains(res.Plan.Changes[1].Note, "ttlSecondsAfterFinished") {
		t.Fatalf("redeploy: %v %+v", err, res.Plan)
	}
}

func TestOrderPutsReferencesAfterWorkloads(t *testing.T) {
	ids := []ID{
		{"autoscaling", "HorizontalPodAutoscaler", "n", "web"}, {"policy", "PodDisruptionBudget", "n", "web"},
		{"apps", "Deployment", "n", "web"}, {"", "Service", "n", "web"},
	}
	sortForApply(ids)
	var got []string
	for _, id := range ids {
		got = append(got, id.Kind)
	}
	if strings.Join(got, ",") != "Service,Deployment,HorizontalPodAutoscaler,PodDisruptionBudget" {
		t.Fatalf("apply order %v", got)
	}
}

// A CRD (or a Namespace) that leaves the manifests is kept, and says so: deleting
// it would delete every custom resource of the kind for everyone. It leaves the
// inventory and loses the app's label; --delete-crds-and-namespaces deletes it.
func TestCRDsAndNamespacesAreNotPrunedSilently(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	c := newClient(t, env)
	ctx := context.Background()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gadgets.example.com"},
		"spec": map[string]any{
			"group": "example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	crds := env.Dynamic.Resource(apiextGVR)
	t.Cleanup(func() { _ = crds.Delete(context.Background(), "gadgets.example.com", metav1.DeleteOptions{}) })
	if _, err := c.Deploy(ctx, Options{App: "crd", Namespace: ns, Objects: []*unstructured.Unstructured{crd, configMap(ns, "a")}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Deploy(ctx, Options{App: "crd", Namespace: ns, Objects: []*unstructured.Unstructured{configMap(ns, "a")}})
	if err != nil {
		t.Fatal(err)
	}
	var kept *Change
	for i, ch := range res.Plan.Changes {
		if ch.ID.Name == "gadgets.example.com" {
			kept = &res.Plan.Changes[i]
		}
	}
	if kept == nil || kept.Action != Keep || !strings.Contains(kept.Note, "--delete-crds-and-namespaces") {
		t.Fatalf("plan: %+v", res.Plan.Changes)
	}
	live, err := crds.Get(ctx, "gadgets.example.com", metav1.GetOptions{})
	if err != nil || live.GetLabels()[contract.LabelPartOf] != "" {
		t.Fatalf("the CRD after the deploy: %v, labels %v", err, live.GetLabels())
	}
	inv := assertInventoryIsCluster(t, c, "crd", ns)
	if len(inv.Objects) != 1 {
		t.Fatalf("inventory %v", inv.Objects)
	}
	// With the flag, a CRD that leaves is deleted.
	if _, err := c.Deploy(ctx, Options{App: "crd", Namespace: ns, Objects: []*unstructured.Unstructured{crd, configMap(ns, "a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(ctx, Options{App: "crd", Namespace: ns, Objects: []*unstructured.Unstructured{configMap(ns, "a")}, ApplyOptions: ApplyOptions{DeleteCRDsAndNamespaces: true}}); err != nil {
		t.Fatal(err)
	}
	if live, err := crds.Get(ctx, "gadgets.example.com", metav1.GetOptions{}); err == nil && live.GetDeletionTimestamp() == nil {
		t.Fatal("the CRD was not deleted with --delete-crds-and-namespaces")
	}
}
