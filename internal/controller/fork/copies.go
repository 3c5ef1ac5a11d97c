package fork

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// copyName is the name of a fork's copy of an object.
func copyName(source, id string) string { return source + "-fork-" + id }

// copyLabels are the only labels of a copy's pods: no selector of the shared
// system uses them, so no shared Service can ever send traffic to a copy.
func copyLabels(id, source string) map[string]string {
	return map[string]string{forkv1.LabelIdentifier: id, forkv1.LabelWorkload: source}
}

// ownedLabels mark every object made for a fork.
func ownedLabels(id string) map[string]string {
	return map[string]string{forkv1.LabelIdentifier: id, "app.kubernetes.io/managed-by": "kube-fork"}
}

// desiredDeployment fills dst as the fork's copy of src with w's overrides.
func desiredDeployment(dst, src *appsv1.Deployment, id string, w forkv1.Workload) {
	dst.Labels = ownedLabels(id)
	dst.Labels[forkv1.LabelWorkload] = src.Name
	tpl := *src.Spec.Template.DeepCopy()
	tpl.Labels = copyLabels(id, src.Name)
	for i := range tpl.Spec.Containers {
		c := &tpl.Spec.Containers[i]
		for _, o := range w.Containers {
			if o.Name != c.Name && !(o.Name == "" && i == 0) {
				continue
			}
			if o.Image != "" {
				c.Image = o.Image
			}
			if o.Args != nil {
				c.Args = o.Args
			}
			if o.Resources != nil {
				c.Resources = *o.Resources
			}
			c.Env = mergeEnv(c.Env, o.Env)
		}
	}
	dst.Spec = appsv1.DeploymentSpec{
		Replicas:                ptr.To(ptr.Deref(w.Replicas, 1)),
		Selector:                &metav1.LabelSelector{MatchLabels: copyLabels(id, src.Name)},
		Template:                tpl,
		Strategy:                src.Spec.Strategy,
		MinReadySeconds:         src.Spec.MinReadySeconds,
		RevisionHistoryLimit:    ptr.To[int32](2),
		ProgressDeadlineSeconds: src.Spec.ProgressDeadlineSeconds,
	}
}

// mergeEnv replaces same-named variables and appends the others.
func mergeEnv(env, overrides []corev1.EnvVar) []corev1.EnvVar {
	if len(overrides) == 0 {
		return env
	}
	out := make([]corev1.EnvVar, 0, len(env)+len(overrides))
	replaced := map[string]bool{}
	for _, e := range env {
		for _, o := range overrides {
			if o.Name == e.Name {
				e, replaced[o.Name] = o, true
			}
		}
		out = append(out, e)
	}
	for _, o := range overrides {
		if !replaced[o.Name] {
			out = append(out, o)
		}
	}
	return out
}

// selects tells whether a Service sends traffic to pods with these labels.
func selects(svc *corev1.Service, podLabels map[string]string) bool {
	return len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels))
}

// desiredService fills dst as the fork's copy of svc, selecting only the copy's pods.
func desiredService(dst, svc *corev1.Service, id, source string) {
	dst.Labels = ownedLabels(id)
	dst.Labels[forkv1.LabelWorkload] = source
	ports := make([]corev1.ServicePort, len(svc.Spec.Ports))
	for i, p := range svc.Spec.Ports {
		ports[i] = corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, AppProtocol: p.AppProtocol, Port: p.Port, TargetPort: p.TargetPort}
	}
	// The API server fills clusterIP and friends; keep what it set.
	dst.Spec.Type = corev1.ServiceTypeClusterIP
	dst.Spec.Ports = ports
	dst.Spec.Selector = copyLabels(id, source)
}
