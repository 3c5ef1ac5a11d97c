//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package fork_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/controller"
	"github.com/kube-idp/kube/internal/testcluster"
)

func init() {
	_ = forkv1.AddToScheme(testcluster.Scheme)
	_ = gwv1.Install(testcluster.Scheme)
	_ = istiov1.AddToScheme(testcluster.Scheme)
}

// clock is the controller's clock: real time plus an offset the test moves.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func startController(t *testing.T, env *testcluster.Env, c *clock) {
	t.Helper()
	mgr, err := controller.NewManager(env.Config, controller.Options{
		MetricsAddr: "0", HealthAddr: "0", Restartable: true, Namespace: env.Namespace, Now: c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// service creates a shared Deployment and its Service (app=<name>, port 80).
func service(t *testing.T, env *testcluster.Env, name string) {
	t.Helper()
	ctx := context.Background()
	lbls := map[string]string{"app": name, "tier": "shared"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example.com/" + name + ":v1",
					Env: []corev1.EnvVar{{Name: "MODE", Value: "shared"}, {Name: "KEEP", Value: "1"}},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	for _, o := range []client.Object{dep, svc} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot is the resource versions of the shared objects, to show they are untouched.
func snapshot(t *testing.T, env *testcluster.Env, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
			if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: env.Namespace, Name: n}, o); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%T/%s", o, n)] = o.GetResourceVersion()
		}
	}
	return out
}

// stableSnapshot waits for the Deployment controller to settle the shared
// Deployments' status, then takes the snapshot.
func stableSnapshot(t *testing.T, env *testcluster.Env, names ...string) map[string]string {
	t.Helper()
	var snap map[string]string
	_ = wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		next := snapshot(t, env, names...)
		same := fmt.Sprint(next) == fmt.Sprint(snap)
		snap = next
		return same, nil
	})
	return snap
}

func waitFork(t *testing.T, env *testcluster.Env, name string, ok func(*forkv1.Fork) bool) *forkv1.Fork {
	t.Helper()
	var f forkv1.Fork
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, &f); err != nil {
			return false, nil
		}
		return ok(&f), nil
	})
	if err != nil {
		t.Fatalf("fork %s: %v; status %+v", name, err, f.Status)
	}
	return &f
}

func ready(f *forkv1.Fork) bool {
	return meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionReady) && f.Status.ObservedGeneration == f.Generation
}

func get(t *testing.T, env *testcluster.Env, name string, obj client.Object) {
	t.Helper()
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: env.Namespace, Name: name}, obj); err != nil {
		t.Fatalf("%T %s: %v", obj, name, err)
	}
}

func TestForkWithGatewayAPI(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	service(t, env, "web")
	service(t, env, "api")
	profile := &forkv1.ForkProfile{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: env.Namespace}, Spec: forkv1.ForkProfileSpec{
		Preview: &forkv1.Preview{Gateway: forkv1.GatewayRef{Name: "public", Namespace: "gateways"}, BaseDomain: "preview.example.com", Service: "web", Port: 80},
	}}
	if err := env.Client.Create(ctx, profile); err != nil {
		t.Fatal(err)
	}
	before := stableSnapshot(t, env, "web", "api")
	c := &clock{}
	startController(t, env, c)

	f := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: env.Namespace}, Spec: forkv1.ForkSpec{
		Owner: "alice@example.com", TTL: &metav1.Duration{Duration: time.Hour},
		Workloads: []forkv1.Workload{{Name: "web", Containers: []forkv1.ContainerOverride{{
			Name: "app", Image: "registry.example.com/web:my-branch", Env: []corev1.EnvVar{{Name: "MODE", Value: "fork"}},
		}}}},
	}}
	if err := env.Client.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	// The API server keeps identifiers unique in a namespace.
	clash := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "not-alice", Namespace: env.Namespace},
		Spec: forkv1.ForkSpec{Identifier: "alice", Workloads: f.Spec.Workloads}}
	if err := env.Client.Create(ctx, clash); err == nil || !strings.Contains(err.Error(), "one fork per identifier") {
		t.Fatalf("a second fork with identifier alice: %v", err)
	}
	f = waitFork(t, env, "alice", ready)
	if f.Status.URL != "https://alice.preview.example.com/" || f.Status.ExpiresAt == nil ||
		f.Status.ExpiresAt.Sub(f.CreationTimestamp.Time) != time.Hour {
		t.Fatalf("status: %+v", f.Status)
	}

	// The copy: overrides applied, pods labelled so no shared Service selects them.
	var dep appsv1.Deployment
	get(t, env, "web-fork-alice", &dep)
	ctr := dep.Spec.Template.Spec.Containers[0]
	if ctr.Image != "registry.example.com/web:my-branch" || fmt.Sprint(ctr.Env) != fmt.Sprint([]corev1.EnvVar{{Name: "MODE", Value: "fork"}, {Name: "KEEP", Value: "1"}}) {
		t.Fatalf("copy container: %+v", ctr)
	}
	if !metav1.IsControlledBy(&dep, f) {
		t.Fatal("the copy is not owned by the Fork")
	}
	var services corev1.ServiceList
	if err := env.Client.List(ctx, &services, client.InNamespace(env.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, s := range services.Items {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		switch {
		case s.Name == "web-fork-alice" && !sel.Matches(labels.Set(dep.Spec.Template.Labels)):
			t.Fatalf("the fork's Service does not select the copy: %v", s.Spec.Selector)
		case s.Name != "web-fork-alice" && sel.Matches(labels.Set(dep.Spec.Template.Labels)):
			t.Fatalf("shared Service %s selects the copy's pods", s.Name)
		}
	}
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(env.Namespace), client.MatchingLabels{"app": "web"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Labels[forkv1.LabelIdentifier] != "" {
			t.Fatalf("pod %s of the copy is selected by the shared Service's selector", p.Name)
		}
	}

	// The mesh route: the identifier (header or baggage) to the copy, the rest to the shared Service.
	var route gwv1.HTTPRoute
	get(t, env, "web-fork-alice", &route)
	if p := route.Spec.ParentRefs[0]; string(*p.Kind) != "Service" || p.Name != "web" {
		t.Fatalf("route parent: %+v", p)
	}
	rules := route.Spec.Rules
	if len(rules) != 3 || rules[0].Matches[0].Headers[0].Value != "alice" || string(rules[0].Matches[0].Headers[0].Name) != forkv1.DefaultHeader ||
		rules[0].BackendRefs[0].Name != "web-fork-alice" || rules[2].BackendRefs[0].Name != "web" || len(rules[2].Matches[0].Headers) != 0 {
		t.Fatalf("route rules: %+v", rules)
	}
	baggage := regexp.MustCompile(rules[1].Matches[0].Headers[0].Value)
	for header, want := range map[string]bool{
		"kube-fork=alice": true, "a=b, kube-fork=alice;ttl=1, c=d": true, "kube-fork = alice": true,
		"kube-fork=alicex": false, "xkube-fork=alice": false, "a=kube-fork=alice": false, "kube-fork=bob,x=alice": false,
	} {
		if baggage.MatchString(header) != want {
			t.Errorf("baggage %q matches = %v, want %v", header, !want, want)
		}
	}
	// The preview: the host on the Gateway, the header added, straight to the copy.
	get(t, env, "fork-alice-preview", &route)
	if route.Spec.Hostnames[0] != "alice.preview.example.com" || route.Spec.ParentRefs[0].Name != "public" ||
		route.Spec.Rules[0].Filters[0].RequestHeaderModifier.Set[0].Value != "alice" || route.Spec.Rules[0].BackendRefs[0].Name != "web-fork-alice" {
		t.Fatalf("preview route: %+v", route.Spec)
	}

	// A new image reaches the copy (the Fork read afresh: the controller may
	// have written its status since).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, env, "alice", f)
		f.Spec.Workloads[0].Containers[0].Image = "registry.example.com/web:my-branch-2"
		return env.Client.Update(ctx, f)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFork(t, env, "alice", ready)
	get(t, env, "web-fork-alice", &dep)
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/web:my-branch-2" {
		t.Fatalf("copy image %s after the update", got)
	}

	// The TTL passes: the Fork and everything made for it go; shared objects are as before.
	c.advance(2 * time.Hour)
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"test/poke":"1"}}}`))
	if err := env.Client.Patch(ctx, f, patch); err != nil { // an event, since the requeue is an hour away in real time
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, o := range []client.Object{&forkv1.Fork{}, &appsv1.Deployment{}, &corev1.Service{}, &gwv1.HTTPRoute{}} {
			name := "web-fork-alice"
			if _, ok := o.(*forkv1.Fork); ok {
				name = "alice"
			}
			if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, o); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("after the TTL, the fork's objects are still there: %v", err)
	}
	if after := snapshot(t, env, "web", "api"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("shared objects changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestForkWithIstio(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	service(t, env, "web")
	service(t, env, "api")
	profile := &forkv1.ForkProfile{ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: env.Namespace}, Spec: forkv1.ForkProfileSpec{Backend: forkv1.BackendIstio}}
	foreign := &istiov1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "api-canary", Namespace: env.Namespace}}
	foreign.Spec.Hosts = []string{"api." + env.Namespace + ".svc.cluster.local"}
	foreign.Spec.Http = []*networkingapi.HTTPRoute{{Route: []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{Host: "api"}}}}}
	for _, o := range []client.Object{profile, foreign} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	foreignVersion := foreign.ResourceVersion
	startController(t, env, &clock{})

	fork := func(name string, workloads ...string) {
		f := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace}, Spec: forkv1.ForkSpec{Profile: "mesh"}}
		for _, w := range workloads {
			f.Spec.Workloads = append(f.Spec.Workloads, forkv1.Workload{Name: w})
		}
		if err := env.Client.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	ruleNames := func() []string {
		var vs istiov1.VirtualService
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "web-kube-fork"}, &vs); err != nil {
			return []string{err.Error()}
		}
		var names []string
		for _, r := range vs.Spec.Http {
			names = append(names, r.Name)
		}
		return names
	}
	waitRules := func(want string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return strings.Join(ruleNames(), ",") == want, nil
		})
		if err != nil {
			t.Fatalf("web-kube-fork rules %v, want %s", ruleNames(), want)
		}
	}

	// api has a VirtualService kube-fork does not own: Degraded, and it is left alone.
	fork("bob", "web", "api")
	f := waitFork(t, env, "bob", func(f *forkv1.Fork) bool {
		return meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionDegraded)
	})
	if msg := meta.FindStatusCondition(f.Status.Conditions, forkv1.ConditionDegraded).Message; !strings.Contains(msg, "api-canary") {
		t.Fatalf("Degraded message: %s", msg)
	}
	if meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionReady) {
		t.Fatal("a degraded fork is Ready")
	}
	get(t, env, "api-canary", foreign)
	if foreign.ResourceVersion != foreignVersion {
		t.Fatal("the foreign VirtualService was changed")
	}
	waitRules("fork-bob-header,fork-bob-baggage,shared")

	// A second fork of web shares the controller's VirtualService.
	fork("carol", "web")
	waitFork(t, env, "carol", ready)
	waitRules("fork-bob-header,fork-bob-baggage,fork-carol-header,fork-carol-baggage,shared")
	var vs istiov1.VirtualService
	get(t, env, "web-kube-fork", &vs)
	if m := vs.Spec.Http[2].Match[0].Headers[forkv1.DefaultHeader]; m.GetExact() != "carol" || vs.Spec.Http[2].Route[0].Destination.Host != "web-fork-carol" {
		t.Fatalf("carol's header rule: %v", vs.Spec.Http[2])
	}

	// Deleting forks removes exactly their rules, then the VirtualService.
	for _, name := range []string{"bob", "carol"} {
		if err := env.Client.Delete(ctx, &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace}}); err != nil {
			t.Fatal(err)
		}
		if name == "bob" {
			waitRules("fork-carol-header,fork-carol-baggage,shared")
		}
	}
	waitRules(`virtualservices.networking.istio.io "web-kube-fork" not found`)
	get(t, env, "api-canary", foreign)
	if foreign.ResourceVersion != foreignVersion {
		t.Fatal("the foreign VirtualService was changed")
	}
}

// TestForkStatefulSetAndSelector copies a StatefulSet (own volumes, headless
// Service, no route) and the Deployments a label selector picks.
func TestForkStatefulSetAndSelector(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	for _, name := range []string{"cart", "checkout", "search"} {
		service(t, env, name)
	}
	labelShop := func(name string) {
		t.Helper()
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"shop"}}}`))
		if err := env.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace}}, patch); err != nil {
			t.Fatal(err)
		}
	}
	labelShop("cart")
	labelShop("checkout")
	dbLabels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: env.Namespace},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: dbLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dbLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example.com/db:16"}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}},
		},
	}
	headlessSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: env.Namespace}, Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone, Selector: dbLabels, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}
	// The sandbox has no volume provisioner: a volume waiting for the copy's claim.
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "fork-test-" + env.Namespace}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/fork-test"}},
		ClaimRef:               &corev1.ObjectReference{Namespace: env.Namespace, Name: "data-db-fork-dave-0"},
	}}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pv) })
	for _, o := range []client.Object{db, headlessSvc, pv} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	before := stableSnapshot(t, env, "cart", "checkout", "search")
	startController(t, env, &clock{})

	f := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "dave", Namespace: env.Namespace}, Spec: forkv1.ForkSpec{Workloads: []forkv1.Workload{
		{Kind: forkv1.KindStatefulSet, Name: "db"},
		{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}, Containers: []forkv1.ContainerOverride{{Image: "registry.example.com/shop:branch"}}},
		{Name: "cart", Containers: []forkv1.ContainerOverride{{Image: "registry.example.com/cart:own"}}}, // a name wins over a selector
	}}}
	if err := env.Client.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	invalid := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "erin", Namespace: env.Namespace},
		Spec: forkv1.ForkSpec{Workloads: []forkv1.Workload{{Name: "cart", Selector: &metav1.LabelSelector{}}}}}
	if err := env.Client.Create(ctx, invalid); err == nil || !strings.Contains(err.Error(), "exactly one of name and selector") {
		t.Fatalf("a workload with both a name and a selector: %v", err)
	}
	f = waitFork(t, env, "dave", ready)
	var kinds []string
	for _, c := range f.Status.Copies {
		kinds = append(kinds, c.Kind+"/"+c.Name)
	}
	if got := strings.Join(kinds, " "); got != "StatefulSet/db-fork-dave Deployment/cart-fork-dave Deployment/checkout-fork-dave" {
		t.Fatalf("copies: %s", got)
	}

	// The StatefulSet copy: its own claims (deleted with it), its own headless Service, no route.
	var sts appsv1.StatefulSet
	get(t, env, "db-fork-dave", &sts)
	if sts.Spec.ServiceName != "db-fork-dave" || len(sts.Spec.VolumeClaimTemplates) != 1 ||
		sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		t.Fatalf("statefulset copy: %+v", sts.Spec)
	}
	var svc corev1.Service
	get(t, env, "db-fork-dave", &svc)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Selector[forkv1.LabelIdentifier] != "dave" {
		t.Fatalf("headless copy: %+v", svc.Spec)
	}
	var pvc corev1.PersistentVolumeClaim
	get(t, env, "data-db-fork-dave-0", &pvc)
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "data-db-0"}, &pvc); err == nil && metav1.IsControlledBy(&pvc, &sts) {
		t.Fatal("the shared claim belongs to the copy")
	}
	for _, r := range f.Status.Routes {
		if r.Service == "db" {
			t.Fatalf("a headless Service is routed: %+v", r)
		}
	}
	// The selector's Deployments, with the selector's overrides unless named.
	var dep appsv1.Deployment
	for name, image := range map[string]string{"cart-fork-dave": "registry.example.com/cart:own", "checkout-fork-dave": "registry.example.com/shop:branch"} {
		get(t, env, name, &dep)
		if got := dep.Spec.Template.Spec.Containers[0].Image; got != image {
			t.Fatalf("%s image %s, want %s", name, got, image)
		}
	}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "search-fork-dave"}, &dep); !apierrors.IsNotFound(err) {
		t.Fatalf("search is not selected but was copied: %v", err)
	}
	// A Deployment that starts to match the selector joins the fork.
	labelShop("search")
	waitFork(t, env, "dave", func(f *forkv1.Fork) bool { return ready(f) && len(f.Status.Copies) == 4 })
	get(t, env, "search-fork-dave", &dep)

	// Deleting the fork takes the copies and their volumes' claims with it.
	if err := env.Client.Delete(ctx, f); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		for name, o := range map[string]client.Object{"db-fork-dave": &appsv1.StatefulSet{}, "data-db-fork-dave-0": &corev1.PersistentVolumeClaim{}, "cart-fork-dave": &appsv1.Deployment{}} {
			if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, o); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the fork's copies or claims outlived it: %v", err)
	}
	labelled := stableSnapshot(t, env, "cart", "checkout", "search")
	for k, v := range before {
		if strings.Contains(k, "Service/") && labelled[k] != v {
			t.Fatalf("shared %s changed", k)
		}
	}
}
