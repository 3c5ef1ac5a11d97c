package fork

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/contract"
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
	return map[string]string{forkv1.LabelIdentifier: id, contract.LabelManagedBy: "kube-fork"}
}

// desiredDeployment fills dst as the fork's copy of src running tpl.
func desiredDeployment(dst, src *appsv1.Deployment, id string, w forkv1.Workload, tpl corev1.PodTemplateSpec) {
	dst.Labels = copyObjectLabels(id, src.Name)
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

// desiredStatefulSet fills dst as the fork's copy of src with w's overrides.
// The copy has its own volumes, made from the same claim templates and deleted
// with it: a fork must never write to the shared system's data.
func desiredStatefulSet(dst, src *appsv1.StatefulSet, id string, w forkv1.Workload) {
	dst.Labels = copyObjectLabels(id, src.Name)
	serviceName := ""
	if src.Spec.ServiceName != "" {
		serviceName = copyName(src.Spec.ServiceName, id) // the copy of the governing Service
	}
	claims := make([]corev1.PersistentVolumeClaim, len(src.Spec.VolumeClaimTemplates))
	for i, c := range src.Spec.VolumeClaimTemplates {
		claims[i] = corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.Name, Labels: c.Labels, Annotations: c.Annotations}, Spec: c.Spec}
		claims[i].Status.Phase = corev1.ClaimPending // the API server's default, spelled out so an unchanged copy is not rewritten
	}
	dst.Spec = appsv1.StatefulSetSpec{
		Replicas:             ptr.To(ptr.Deref(w.Replicas, 1)),
		Selector:             &metav1.LabelSelector{MatchLabels: copyLabels(id, src.Name)},
		Template:             copyTemplate(&src.Spec.Template, id, src.Name, w),
		VolumeClaimTemplates: claims,
		ServiceName:          serviceName,
		PodManagementPolicy:  src.Spec.PodManagementPolicy,
		UpdateStrategy:       src.Spec.UpdateStrategy,
		RevisionHistoryLimit: ptr.To[int32](2),
		MinReadySeconds:      src.Spec.MinReadySeconds,
		Ordinals:             src.Spec.Ordinals,
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
			WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		},
	}
}

// copyObjectLabels are the labels of a copy (Deployment, StatefulSet, Service).
func copyObjectLabels(id, source string) map[string]string {
	l := ownedLabels(id)
	l[forkv1.LabelWorkload] = source
	return l
}

// copyTemplate is src's pod template with the copy's labels and w's overrides.
func copyTemplate(src *corev1.PodTemplateSpec, id, source string, w forkv1.Workload) corev1.PodTemplateSpec {
	tpl := *src.DeepCopy()
	tpl.Labels = copyLabels(id, source)
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
	return tpl
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
	dst.Labels = copyObjectLabels(id, source)
	ports := make([]corev1.ServicePort, len(svc.Spec.Ports))
	for i, p := range svc.Spec.Ports {
		ports[i] = corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, AppProtocol: p.AppProtocol, Port: p.Port, TargetPort: p.TargetPort}
	}
	// The API server fills clusterIP and friends; keep what it set.
	dst.Spec.Type = corev1.ServiceTypeClusterIP
	if headless(svc) {
		dst.Spec.ClusterIP = corev1.ClusterIPNone // a StatefulSet's governing Service: pods' DNS names
	}
	dst.Spec.PublishNotReadyAddresses = svc.Spec.PublishNotReadyAddresses
	dst.Spec.Ports = ports
	dst.Spec.Selector = copyLabels(id, source)
}

func headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }
