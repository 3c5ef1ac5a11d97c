// Package fork is the kubefork controller: for each Fork it copies the chosen
// Deployments and StatefulSets (and the Services that select them) under the
// fork's identifier and programs routes so that requests carrying the
// identifier reach the copies while all others keep using the shared services.
package fork

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// Reconciler reconciles one Fork at a time; it never lists all Forks.
type Reconciler struct {
	Client client.Client
	// Reader reads uncached (the Leases of local workloads: the controller
	// watches no Lease); nil reads through Client.
	Reader   client.Reader
	Recorder events.EventRecorder
	// GatewayAPI and Istio tell which routing APIs the cluster serves.
	GatewayAPI, Istio bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// +kubebuilder:rbac:groups=fork.kube-idp.dev,resources=forks,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=fork.kube-idp.dev,resources=forks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=fork.kube-idp.dev,resources=forks/finalizers,verbs=update
// +kubebuilder:rbac:groups=fork.kube-idp.dev,resources=forkprofiles,verbs=get;list;watch
// Cluster-wide, the controller only reads workloads, Services and routes. It
// writes them only in namespaces that enabled forks: there a RoleBinding (from
// kube generate's fork generator) grants the ClusterRole kube-controller-fork
// of config/install, and an admission policy limits it to the fork's own objects.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// result collects what one reconcile made and what went wrong.
type result struct {
	copies   []forkv1.Copy
	routes   []forkv1.Route
	keep     map[string]bool // kind/name of the owned objects still wanted
	problems []string        // Degraded reasons
	url      string
}

func (res *result) problem(format string, args ...any) {
	res.problems = append(res.problems, fmt.Sprintf(format, args...))
}

// Reconcile brings one Fork's copies and routes to its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var f forkv1.Fork
	if err := r.Client.Get(ctx, req.NamespacedName, &f); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !f.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &f)
	}
	if controllerutil.AddFinalizer(&f, forkv1.Finalizer) {
		if err := r.Client.Update(ctx, &f); err != nil {
			return ctrl.Result{}, err
		}
	}
	status := f.Status.DeepCopy()
	if status.ObservedGeneration != f.Generation || status.LastChangeTime == nil {
		status.LastChangeTime = &metav1.Time{Time: r.now()}
	}
	if exp := expiry(&f, status); exp != nil {
		status.ExpiresAt = &metav1.Time{Time: *exp}
		if !r.now().Before(*exp) {
			return ctrl.Result{}, r.expire(ctx, &f, status)
		}
	}

	res := &result{keep: map[string]bool{}}
	profile, err := r.profile(ctx, &f)
	if err != nil {
		res.problem("%v", err)
	} else {
		err := r.apply(ctx, &f, profile, res)
		if err == nil {
			err = r.prune(ctx, &f, res.keep)
		}
		switch {
		case apierrors.IsForbidden(err):
			// Not a transient error: the namespace did not enable forks.
			res.problem("kube-controller may not make copies in namespace %s: enable forks for the app there (kube generate's fork generator writes the RoleBinding): %v", f.Namespace, err)
		case err != nil:
			return ctrl.Result{}, err
		}
	}
	r.setStatus(&f, status, res)
	leaseCheck := r.localConnection(ctx, &f, status)
	if err := r.updateStatus(ctx, &f, status); err != nil {
		return ctrl.Result{}, err
	}
	var after time.Duration
	if status.ExpiresAt != nil {
		after = status.ExpiresAt.Sub(r.now()) // expiry, without any periodic scan
	}
	if leaseCheck > 0 && (after == 0 || leaseCheck < after) {
		after = leaseCheck // a connection's Lease that is not renewed ends it
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// expiry is when the fork ends, or nil without a TTL.
func expiry(f *forkv1.Fork, status *forkv1.ForkStatus) *time.Time {
	if f.Spec.TTL == nil || f.Spec.TTL.Duration <= 0 {
		return nil
	}
	from := f.CreationTimestamp.Time
	if f.Spec.TTLFrom == forkv1.TTLFromLastChange && status.LastChangeTime != nil {
		from = status.LastChangeTime.Time
	}
	t := from.Add(f.Spec.TTL.Duration)
	return &t
}

// expire marks the Fork Expired and deletes it; the finalizer and owner
// references remove the rest.
func (r *Reconciler) expire(ctx context.Context, f *forkv1.Fork, status *forkv1.ForkStatus) error {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: forkv1.ConditionExpired, Status: metav1.ConditionTrue,
		Reason: "TTLPassed", Message: fmt.Sprintf("the fork expired at %s", status.ExpiresAt.UTC().Format(time.RFC3339)), ObservedGeneration: f.Generation})
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: forkv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: "Expired", Message: "the fork is being deleted", ObservedGeneration: f.Generation})
	if err := r.updateStatus(ctx, f, status); err != nil {
		return err
	}
	r.Recorder.Eventf(f, nil, corev1.EventTypeNormal, "Expired", "Delete", "TTL passed; deleting the fork")
	expired.Inc()
	return client.IgnoreNotFound(r.Client.Delete(ctx, f))
}

// profile is the Fork's routing profile, with defaults filled.
func (r *Reconciler) profile(ctx context.Context, f *forkv1.Fork) (forkv1.ForkProfileSpec, error) {
	name := f.Spec.Profile
	if name == "" {
		name = forkv1.DefaultProfileName
	}
	var p forkv1.ForkProfile
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: f.Namespace, Name: name}, &p)
	switch {
	case apierrors.IsNotFound(err) && f.Spec.Profile == "":
		return forkv1.ForkProfileSpec{}.WithDefaults(), nil
	case apierrors.IsNotFound(err):
		return forkv1.ForkProfileSpec{}, fmt.Errorf("ForkProfile %s not found in namespace %s", name, f.Namespace)
	case err != nil:
		return forkv1.ForkProfileSpec{}, err
	}
	spec := p.Spec.WithDefaults()
	if spec.Backend == forkv1.BackendIstio && !r.Istio {
		return spec, errors.New("the profile asks for Istio but the cluster does not serve networking.istio.io/v1 VirtualServices")
	}
	if spec.Backend == forkv1.BackendGatewayAPI && !r.GatewayAPI {
		return spec, errors.New("the profile asks for Gateway API but the cluster does not serve gateway.networking.k8s.io/v1 HTTPRoutes")
	}
	return spec, nil
}

// apply makes the copies, their Services and the routes.
func (r *Reconciler) apply(ctx context.Context, f *forkv1.Fork, p forkv1.ForkProfileSpec, res *result) error {
	id := f.ID()
	var services corev1.ServiceList
	if err := r.Client.List(ctx, &services, client.InNamespace(f.Namespace)); err != nil {
		return err
	}
	sources, err := r.resolve(ctx, f, res)
	if err != nil {
		return err
	}
	forked := map[string]string{} // shared Service -> the fork's copy
	for _, s := range sources {
		for _, o := range s.w.Containers {
			if o.Name != "" && !slices.ContainsFunc(s.tpl.Spec.Containers, func(c corev1.Container) bool { return c.Name == o.Name }) {
				res.problem("%s %s has no container %q", s.kind, s.obj.GetName(), o.Name)
			}
		}
		if s.w.Local != nil && p.Local != nil && p.Local.Disabled {
			res.problem("Deployment %s: the ForkProfile disables local workloads (local.disabled) in namespace %s", s.obj.GetName(), f.Namespace)
			continue
		}
		var refused []string
		s.w, refused = allowedOverrides(s.tpl, s.w)
		for _, msg := range refused {
			res.problem("%s %s: %s", s.kind, s.obj.GetName(), msg)
		}
		c, err := r.copyWorkload(ctx, f, s, p)
		var local localError
		if errors.As(err, &local) {
			res.problem("%v", err)
			continue
		}
		if err != nil {
			return err
		}
		res.keep[c.Kind+"/"+c.Name] = true
		for i := range services.Items {
			svc := &services.Items[i]
			if svc.Labels[forkv1.LabelIdentifier] != "" || !(selects(svc, s.tpl.Labels) || slices.Contains(s.w.Services, svc.Name)) {
				continue
			}
			cp := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: copyName(svc.Name, id), Namespace: f.Namespace}}
			if err := r.ensure(ctx, f, cp, func() { desiredService(cp, svc, id, s.obj.GetName()) }); err != nil {
				return err
			}
			res.keep["Service/"+cp.Name] = true
			c.Services = append(c.Services, svc.Name+"="+cp.Name)
			forked[svc.Name] = cp.Name
			if headless(svc) {
				continue // pods are addressed one by one, not routed
			}
			if err := r.route(ctx, f, svc, p, res); err != nil {
				return err
			}
		}
		for _, name := range s.w.Services {
			if _, ok := forked[name]; !ok {
				res.problem("Service %s (%s %s) not found", name, s.kind, s.obj.GetName())
			}
		}
		res.copies = append(res.copies, c)
	}
	if p.Preview != nil {
		return r.preview(ctx, f, p, forked, res)
	}
	return nil
}

// route sends the fork's requests for one shared Service to its copy.
func (r *Reconciler) route(ctx context.Context, f *forkv1.Fork, svc *corev1.Service, p forkv1.ForkProfileSpec, res *result) error {
	id := f.ID()
	if p.Backend == forkv1.BackendIstio {
		return r.istioRoute(ctx, f, svc, p, res)
	}
	for _, port := range routePorts(svc) {
		route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: routeName(svc, port, id), Namespace: f.Namespace}}
		if err := r.ensure(ctx, f, route, func() { desiredMeshRoute(route, svc, port, id, p) }); err != nil {
			return err
		}
		res.keep["HTTPRoute/"+route.Name] = true
		res.routes = append(res.routes, forkv1.Route{Kind: "HTTPRoute", Name: route.Name, Service: svc.Name})
	}
	return nil
}

// istioRoute adds the fork's rules to the controller's VirtualService for the
// Service, unless a VirtualService it does not own already routes that host:
// merging into someone else's routing is how forks break shared traffic.
func (r *Reconciler) istioRoute(ctx context.Context, f *forkv1.Fork, svc *corev1.Service, p forkv1.ForkProfileSpec, res *result) error {
	var list istiov1.VirtualServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(f.Namespace)); err != nil {
		return err
	}
	for _, vs := range list.Items {
		if vs.Labels[forkv1.LabelManaged] != "true" && vs.Labels[forkv1.LabelIdentifier] == "" && hostsMatch(vs.Spec.Hosts, svc.Name, f.Namespace) {
			res.problem("VirtualService %s (not managed by kube-fork) already routes %s; the fork is not routed there", vs.Name, svc.Name)
			return nil
		}
	}
	vs := &istiov1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: sharedVirtualServiceName(svc.Name), Namespace: f.Namespace}}
	op, err := createOrUpdate(ctx, r.Client, vs, func() error {
		if vs.Labels == nil {
			vs.Labels = map[string]string{}
		}
		vs.Labels[forkv1.LabelManaged] = "true"
		vs.Spec.Hosts = []string{svc.Name}
		vs.Spec.Http = withForkRules(vs.Spec.Http, svc.Name, f.ID(), p, true)
		return nil
	})
	if err != nil {
		return fmt.Errorf("VirtualService %s: %w", vs.Name, err)
	}
	r.event(f, op, "VirtualService", vs.Name)
	res.keep["VirtualService/"+vs.Name] = true
	res.routes = append(res.routes, forkv1.Route{Kind: "VirtualService", Name: vs.Name, Service: svc.Name})
	return nil
}

// preview programs <id>.<base-domain> on the profile's Gateway.
func (r *Reconciler) preview(ctx context.Context, f *forkv1.Fork, p forkv1.ForkProfileSpec, forked map[string]string, res *result) error {
	id := f.ID()
	entry := p.Preview.Service
	if c, ok := forked[entry]; ok {
		entry = c // straight to the copy: a Gateway need not be in the mesh
	}
	name := "fork-" + id + "-preview"
	if p.Backend == forkv1.BackendIstio {
		vs := &istiov1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.Namespace}}
		if err := r.ensure(ctx, f, vs, func() { desiredPreviewVirtualService(vs, f.Namespace, id, entry, p) }); err != nil {
			return err
		}
		res.keep["VirtualService/"+name] = true
		res.routes = append(res.routes, forkv1.Route{Kind: "VirtualService", Name: name})
	} else {
		route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.Namespace}}
		if err := r.ensure(ctx, f, route, func() { desiredPreviewRoute(route, f.Namespace, id, entry, p) }); err != nil {
			return err
		}
		res.keep["HTTPRoute/"+name] = true
		res.routes = append(res.routes, forkv1.Route{Kind: "HTTPRoute", Name: name})
	}
	res.url = p.Preview.Scheme + "://" + previewHost(id, p.Preview) + "/"
	return nil
}

// ensure creates or updates an object the Fork owns.
func (r *Reconciler) ensure(ctx context.Context, f *forkv1.Fork, obj client.Object, mutate func()) error {
	op, err := createOrUpdate(ctx, r.Client, obj, func() error {
		mutate()
		return controllerutil.SetControllerReference(f, obj, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("%T %s: %w", obj, obj.GetName(), err)
	}
	r.event(f, op, strings.TrimPrefix(fmt.Sprintf("%T", obj), "*"), obj.GetName())
	return nil
}

// createOrUpdate is controllerutil.CreateOrUpdate, except that Istio objects are
// compared with proto.Equal: their specs are protobuf messages, whose
// unexported fields make reflection-based equality panic.
func createOrUpdate(ctx context.Context, c client.Client, obj client.Object, mutate func() error) (controllerutil.OperationResult, error) {
	vs, ok := obj.(*istiov1.VirtualService)
	if !ok {
		return controllerutil.CreateOrUpdate(ctx, c, obj, mutate)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
		if !apierrors.IsNotFound(err) {
			return controllerutil.OperationResultNone, err
		}
		if err := mutate(); err != nil {
			return controllerutil.OperationResultNone, err
		}
		if err := c.Create(ctx, vs); err != nil {
			return controllerutil.OperationResultNone, err
		}
		return controllerutil.OperationResultCreated, nil
	}
	before := vs.DeepCopy()
	if err := mutate(); err != nil {
		return controllerutil.OperationResultNone, err
	}
	if proto.Equal(&before.Spec, &vs.Spec) && equality.Semantic.DeepEqual(before.ObjectMeta, vs.ObjectMeta) {
		return controllerutil.OperationResultNone, nil
	}
	if err := c.Update(ctx, vs); err != nil {
		return controllerutil.OperationResultNone, err
	}
	return controllerutil.OperationResultUpdated, nil
}

func (r *Reconciler) event(f *forkv1.Fork, op controllerutil.OperationResult, kind, name string) {
	if op == controllerutil.OperationResultCreated || op == controllerutil.OperationResultUpdated {
		r.Recorder.Eventf(f, nil, corev1.EventTypeNormal, string(op), "Reconcile", "%s %s %s", kind, name, op)
	}
}

// setStatus records the outcome and the conditions.
func (r *Reconciler) setStatus(f *forkv1.Fork, status *forkv1.ForkStatus, res *result) {
	status.ObservedGeneration = f.Generation
	status.Copies, status.Routes, status.URL = res.copies, res.routes, res.url
	cond := func(t string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: f.Generation})
	}
	if len(res.problems) > 0 {
		cond(forkv1.ConditionDegraded, true, "RoutingIncomplete", strings.Join(res.problems, "; "))
	} else {
		cond(forkv1.ConditionDegraded, false, "AsExpected", "every copy and route is in place")
	}
	waiting := []string{}
	for _, c := range res.copies {
		if !c.Available {
			waiting = append(waiting, c.Name)
		}
	}
	switch {
	case len(res.problems) > 0:
		cond(forkv1.ConditionReady, false, "Degraded", strings.Join(res.problems, "; "))
		cond(forkv1.ConditionStalled, true, "Degraded", strings.Join(res.problems, "; "))
		cond(forkv1.ConditionReconciling, false, "Degraded", "the fork needs a change before it can become ready")
	case len(waiting) > 0:
		cond(forkv1.ConditionReady, false, "CopiesNotAvailable", "waiting for "+strings.Join(waiting, ", "))
		cond(forkv1.ConditionReconciling, true, "CopiesNotAvailable", "waiting for "+strings.Join(waiting, ", "))
		cond(forkv1.ConditionStalled, false, "Progressing", "copies are being made available")
	default:
		cond(forkv1.ConditionReconciling, false, "Ready", "reconciled")
		cond(forkv1.ConditionStalled, false, "Ready", "reconciled")
		cond(forkv1.ConditionReady, true, "Ready", count(len(res.copies), "copy", "copies")+" and "+count(len(res.routes), "route", "routes")+" in place")
		if status.ReadyTime == nil {
			status.ReadyTime = &metav1.Time{Time: r.now()}
			readySeconds.Observe(status.ReadyTime.Sub(f.CreationTimestamp.Time).Seconds())
			r.Recorder.Eventf(f, nil, corev1.EventTypeNormal, "Ready", "Reconcile", "fork %s is ready", f.ID())
		}
	}
}

func (r *Reconciler) updateStatus(ctx context.Context, f *forkv1.Fork, status *forkv1.ForkStatus) error {
	if equalStatus(&f.Status, status) {
		return nil
	}
	// A patch, not an update: the status is the controller's alone, and a
	// cached Fork one event behind would only cause a conflict and a retry.
	orig := f.DeepCopy()
	f.Status = *status
	return r.Client.Status().Patch(ctx, f, client.MergeFrom(orig))
}

// prune deletes the objects made for workloads or services no longer in the
// spec, and the fork's rules from shared VirtualServices it no longer uses.
func (r *Reconciler) prune(ctx context.Context, f *forkv1.Fork, keep map[string]bool) error {
	if err := r.removeIstioRules(ctx, f, keep); err != nil {
		return err
	}
	sel := client.MatchingLabels{forkv1.LabelIdentifier: f.ID()}
	lists := map[string]client.ObjectList{
		forkv1.KindDeployment: &appsv1.DeploymentList{}, forkv1.KindStatefulSet: &appsv1.StatefulSetList{}, "Service": &corev1.ServiceList{},
	}
	if r.GatewayAPI {
		lists["HTTPRoute"] = &gwv1.HTTPRouteList{}
	}
	if r.Istio {
		lists["VirtualService"] = &istiov1.VirtualServiceList{}
	}
	for kind, list := range lists {
		if err := r.Client.List(ctx, list, client.InNamespace(f.Namespace), sel); err != nil {
			return err
		}
		err := meta.EachListItem(list, func(o runtime.Object) error {
			obj := o.(client.Object)
			if keep[kind+"/"+obj.GetName()] || !metav1.IsControlledBy(obj, f) {
				return nil
			}
			r.Recorder.Eventf(f, nil, corev1.EventTypeNormal, "Deleted", "Prune", "%s %s no longer wanted", kind, obj.GetName())
			return client.IgnoreNotFound(r.Client.Delete(ctx, obj))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finalize removes the fork's rules from the shared VirtualServices; the
// objects it owns go with it by garbage collection.
func (r *Reconciler) finalize(ctx context.Context, f *forkv1.Fork) error {
	if !controllerutil.ContainsFinalizer(f, forkv1.Finalizer) {
		return nil
	}
	if err := r.removeIstioRules(ctx, f, nil); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(f, forkv1.Finalizer)
	return r.Client.Update(ctx, f)
}

// removeIstioRules takes the fork's rules out of the controller's shared
// VirtualServices, except those in keep, and deletes a VirtualService left
// with no fork at all.
func (r *Reconciler) removeIstioRules(ctx context.Context, f *forkv1.Fork, keep map[string]bool) error {
	if !r.Istio {
		return nil
	}
	var list istiov1.VirtualServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(f.Namespace), client.MatchingLabels{forkv1.LabelManaged: "true"}); err != nil {
		return err
	}
	for _, vs := range list.Items {
		if keep["VirtualService/"+vs.Name] {
			continue
		}
		svc := strings.TrimSuffix(vs.Name, "-kube-fork")
		rules := withForkRules(vs.Spec.Http, svc, f.ID(), forkv1.ForkProfileSpec{}, false)
		var err error
		switch {
		case len(rules) == len(vs.Spec.Http):
			continue
		case len(rules) == 0:
			err = client.IgnoreNotFound(r.Client.Delete(ctx, vs))
		default:
			vs.Spec.Http = rules
			err = r.Client.Update(ctx, vs)
		}
		if err != nil {
			return fmt.Errorf("removing fork %s from VirtualService %s: %w", f.ID(), vs.Name, err)
		}
		r.Recorder.Eventf(f, nil, corev1.EventTypeNormal, "Unrouted", "Cleanup", "rules removed from VirtualService %s", vs.Name)
	}
	return nil
}

// count is "1 copy", "2 copies".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// equalStatus ignores nothing: any difference is written.
func equalStatus(a, b *forkv1.ForkStatus) bool { return equality.Semantic.DeepEqual(a, b) }
