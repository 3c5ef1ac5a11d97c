package fork

import (
	"context"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// indexWorkload indexes Forks by the workloads they copy ("Kind/name", or
// "Kind/*" for a selector), so a change of a shared workload wakes only the
// forks that may copy it.
const indexWorkload = "spec.workloads"

func workloadKey(kind, name string) string { return kind + "/" + name }

// Served tells whether the cluster serves a kind (the routing APIs are optional).
func Served(mapper meta.RESTMapper, gvk schema.GroupVersionKind) bool {
	_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}

// SetupWithManager registers the controller, its watches and its index.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	mapper := mgr.GetRESTMapper()
	r.GatewayAPI = Served(mapper, gwv1.SchemeGroupVersion.WithKind("HTTPRoute"))
	r.Istio = Served(mapper, istiov1.SchemeGroupVersion.WithKind("VirtualService"))
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &forkv1.Fork{}, indexWorkload, func(o client.Object) []string {
		var keys []string
		for _, w := range o.(*forkv1.Fork).Spec.Workloads {
			name := w.Name
			if w.Selector != nil {
				name = "*"
			}
			keys = append(keys, workloadKey(w.KindOrDefault(), name))
		}
		return keys
	})
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).Named("fork").For(&forkv1.Fork{}).
		Owns(&appsv1.Deployment{}).Owns(&appsv1.StatefulSet{}).Owns(&corev1.Service{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.forksCopying)).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(r.forksCopying)).
		Watches(&forkv1.ForkProfile{}, handler.EnqueueRequestsFromMapFunc(r.forksInNamespace))
	if r.GatewayAPI {
		b = b.Owns(&gwv1.HTTPRoute{})
	}
	if r.Istio {
		// Owned preview routes, and foreign VirtualServices appearing or going.
		b = b.Owns(&istiov1.VirtualService{}).
			Watches(&istiov1.VirtualService{}, handler.EnqueueRequestsFromMapFunc(r.forksInNamespace))
	}
	return b.Complete(r)
}

// forksCopying maps a shared workload to the Forks that name it or whose
// selector matches it.
func (r *Reconciler) forksCopying(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetLabels()[forkv1.LabelIdentifier] != "" {
		return nil // a copy: Owns handles it
	}
	kind := forkv1.KindDeployment
	if _, ok := o.(*appsv1.StatefulSet); ok {
		kind = forkv1.KindStatefulSet
	}
	ns := client.InNamespace(o.GetNamespace())
	reqs := r.forks(ctx, everyFork, ns, client.MatchingFields{indexWorkload: workloadKey(kind, o.GetName())})
	bySelector := r.forks(ctx, func(f *forkv1.Fork) bool {
		for _, w := range f.Spec.Workloads {
			if w.Selector == nil || w.KindOrDefault() != kind {
				continue
			}
			if sel, err := metav1.LabelSelectorAsSelector(w.Selector); err == nil && sel.Matches(labels.Set(o.GetLabels())) {
				return true
			}
		}
		return false
	}, ns, client.MatchingFields{indexWorkload: workloadKey(kind, "*")})
	return append(reqs, bySelector...)
}

// forksInNamespace maps a profile or a foreign route to the namespace's Forks.
func (r *Reconciler) forksInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetLabels()[forkv1.LabelIdentifier] != "" || o.GetLabels()[forkv1.LabelManaged] != "" {
		return nil
	}
	return r.forks(ctx, everyFork, client.InNamespace(o.GetNamespace()))
}

func everyFork(*forkv1.Fork) bool { return true }

// forks are requests for the Forks the options list and keep accepts.
func (r *Reconciler) forks(ctx context.Context, keep func(*forkv1.Fork) bool, opts ...client.ListOption) []reconcile.Request {
	var list forkv1.ForkList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if f := &list.Items[i]; keep(f) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: f.Namespace, Name: f.Name}})
		}
	}
	return reqs
}
