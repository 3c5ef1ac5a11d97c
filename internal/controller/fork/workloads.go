package fork

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// shared is one workload of the shared system that a fork copies.
type shared struct {
	kind string
	obj  client.Object // *appsv1.Deployment or *appsv1.StatefulSet
	tpl  *corev1.PodTemplateSpec
	w    forkv1.Workload // the entry that picked it: its overrides
}

func newWorkload(kind string) client.Object {
	if kind == forkv1.KindStatefulSet {
		return &appsv1.StatefulSet{}
	}
	return &appsv1.Deployment{}
}

func newWorkloadList(kind string) client.ObjectList {
	if kind == forkv1.KindStatefulSet {
		return &appsv1.StatefulSetList{}
	}
	return &appsv1.DeploymentList{}
}

func asShared(kind string, obj client.Object, w forkv1.Workload) shared {
	s := shared{kind: kind, obj: obj, w: w}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		s.tpl = &o.Spec.Template
	case *appsv1.StatefulSet:
		s.tpl = &o.Spec.Template
	}
	return s
}

// notCopies excludes the fork copies from a selector's matches.
func notCopies() labels.Requirement {
	req, _ := labels.NewRequirement(forkv1.LabelIdentifier, selection.DoesNotExist, nil)
	return *req
}

// resolve finds the shared workloads the spec picks, each once: entries that
// name a workload first, then selectors, in spec order.
func (r *Reconciler) resolve(ctx context.Context, f *forkv1.Fork, res *result) ([]shared, error) {
	var out []shared
	seen := map[string]bool{}
	add := func(s shared) {
		if key := s.kind + "/" + s.obj.GetName(); !seen[key] {
			seen[key] = true
			out = append(out, s)
		}
	}
	for _, w := range f.Spec.Workloads {
		if w.Selector != nil {
			continue
		}
		kind := w.KindOrDefault()
		obj := newWorkload(kind)
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: f.Namespace, Name: w.Name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				res.problem("%s %s not found", kind, w.Name)
				continue
			}
			return nil, err
		}
		add(asShared(kind, obj, w))
	}
	for _, w := range f.Spec.Workloads {
		if w.Selector == nil {
			continue
		}
		kind := w.KindOrDefault()
		sel, err := metav1.LabelSelectorAsSelector(w.Selector)
		if err != nil {
			res.problem("%s selector: %v", kind, err)
			continue
		}
		sel = sel.Add(notCopies())
		list := newWorkloadList(kind)
		if err := r.Client.List(ctx, list, client.InNamespace(f.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, err
		}
		var objs []client.Object
		switch l := list.(type) {
		case *appsv1.DeploymentList:
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
		case *appsv1.StatefulSetList:
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
		}
		if len(objs) == 0 {
			res.problem("no %s matches the selector %s", kind, metav1.FormatLabelSelector(w.Selector))
		}
		slices.SortFunc(objs, func(a, b client.Object) int { return strings.Compare(a.GetName(), b.GetName()) })
		for _, o := range objs {
			add(asShared(kind, o, w))
		}
	}
	return out, nil
}

// copyWorkload creates or updates the fork's copy of s.
func (r *Reconciler) copyWorkload(ctx context.Context, f *forkv1.Fork, s shared, p forkv1.ForkProfileSpec) (forkv1.Copy, error) {
	id := f.ID()
	name := copyName(s.obj.GetName(), id)
	c := forkv1.Copy{Kind: s.kind, Source: s.obj.GetName(), Name: name, Local: s.w.Local != nil}
	switch src := s.obj.(type) {
	case *appsv1.Deployment:
		dst := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.Namespace}}
		tpl := copyTemplate(&src.Spec.Template, id, src.Name, s.w)
		if s.w.Local != nil {
			var err error
			if tpl, err = localTemplate(&src.Spec.Template, f, src.Name, s.w, p); err != nil {
				return c, localError{err}
			}
		}
		if err := r.ensure(ctx, f, dst, func() { desiredDeployment(dst, src, id, s.w, tpl) }); err != nil {
			return c, err
		}
		c.Available = deploymentAvailable(dst)
	case *appsv1.StatefulSet:
		dst := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.Namespace}}
		err := r.ensure(ctx, f, dst, func() { desiredStatefulSet(dst, src, id, s.w) })
		if apierrors.IsInvalid(err) {
			// The shared StatefulSet was recreated with a field a StatefulSet
			// cannot change (claims, service name): a fork is disposable, so
			// start its copy again.
			if derr := r.Client.Delete(ctx, dst, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(derr) != nil {
				return c, derr
			}
			return c, fmt.Errorf("%w; the copy is deleted and will be made again", err)
		}
		if err != nil {
			return c, err
		}
		c.Available = statefulSetAvailable(dst)
	}
	return c, nil
}

// localError is a local workload that cannot be made: a problem of the
// spec, shown in the status, not a reason to retry.
type localError struct{ error }

func deploymentAvailable(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want
}

func statefulSetAvailable(s *appsv1.StatefulSet) bool {
	want := ptr.Deref(s.Spec.Replicas, 1)
	return s.Status.ObservedGeneration >= s.Generation && s.Status.UpdatedReplicas >= want && s.Status.AvailableReplicas >= want
}
