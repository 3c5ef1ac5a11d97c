package fork

import (
	"context"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// indexWorkload indexes Forks by the Deployments they copy, so a change of a
// shared Deployment wakes only its forks.
const indexWorkload = "spec.workloads.name"

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
		var names []string
		for _, w := range o.(*forkv1.Fork).Spec.Workloads {
			names = append(names, w.Name)
		}
		return names
	})
	if err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).Named("fork").For(&forkv1.Fork{}).
		Owns(&appsv1.Deployment{}).Owns(&corev1.Service{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.forksCopying)).
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

// forksCopying maps a shared Deployment to the Forks that copy it.
func (r *Reconciler) forksCopying(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetLabels()[forkv1.LabelIdentifier] != "" {
		return nil // a copy: Owns handles it
	}
	return r.forks(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexWorkload: o.GetName()})
}

// forksInNamespace maps a profile or a foreign route to the namespace's Forks.
func (r *Reconciler) forksInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetLabels()[forkv1.LabelIdentifier] != "" || o.GetLabels()[forkv1.LabelManaged] != "" {
		return nil
	}
	return r.forks(ctx, client.InNamespace(o.GetNamespace()))
}

func (r *Reconciler) forks(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list forkv1.ForkList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i, f := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: f.Namespace, Name: f.Name}}
	}
	return reqs
}
