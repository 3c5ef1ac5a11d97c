package fork

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// A copy runs with its original's pod template: service account, volumes and
// security context are copied, never taken from the Fork. The one override that
// could reach further is an environment variable read from a Secret or a
// ConfigMap: it may only name what the original already reads, so that whoever
// may create a Fork cannot use it to read other Secrets of the namespace.

// refsOf lists the Secret and ConfigMap keys (and whole objects) a pod template
// already reads: env, envFrom and volumes.
func refsOf(tpl *corev1.PodTemplateSpec) map[string]bool {
	refs := map[string]bool{}
	containers := append(append([]corev1.Container{}, tpl.Spec.InitContainers...), tpl.Spec.Containers...)
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if s := e.ValueFrom.SecretKeyRef; s != nil {
				refs["Secret/"+s.Name+"/"+s.Key] = true
			}
			if m := e.ValueFrom.ConfigMapKeyRef; m != nil {
				refs["ConfigMap/"+m.Name+"/"+m.Key] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				refs["Secret/"+e.SecretRef.Name] = true
			}
			if e.ConfigMapRef != nil {
				refs["ConfigMap/"+e.ConfigMapRef.Name] = true
			}
		}
	}
	for _, v := range tpl.Spec.Volumes {
		if v.Secret != nil {
			refs["Secret/"+v.Secret.SecretName] = true
		}
		if v.ConfigMap != nil {
			refs["ConfigMap/"+v.ConfigMap.Name] = true
		}
	}
	return refs
}

// allowedOverrides drops the environment overrides that would read a Secret or
// ConfigMap key the original does not read (or from the pod's fields and
// resources, which are the original's to choose), and says why.
func allowedOverrides(tpl *corev1.PodTemplateSpec, w forkv1.Workload) (forkv1.Workload, []string) {
	refs := refsOf(tpl)
	var problems []string
	out := w
	out.Containers = make([]forkv1.ContainerOverride, len(w.Containers))
	for i, o := range w.Containers {
		o.Env = nil
		for _, e := range w.Containers[i].Env {
			if msg := envRefProblem(e, refs); msg != "" {
				problems = append(problems, fmt.Sprintf("env %s: %s", e.Name, msg))
				continue
			}
			o.Env = append(o.Env, e)
		}
		out.Containers[i] = o
	}
	return out, problems
}

func envRefProblem(e corev1.EnvVar, refs map[string]bool) string {
	f := e.ValueFrom
	switch {
	case f == nil:
		return ""
	case f.SecretKeyRef != nil && !refs["Secret/"+f.SecretKeyRef.Name+"/"+f.SecretKeyRef.Key] && !refs["Secret/"+f.SecretKeyRef.Name]:
		return fmt.Sprintf("the original does not read key %s of Secret %s, so its copy may not either", f.SecretKeyRef.Key, f.SecretKeyRef.Name)
	case f.ConfigMapKeyRef != nil && !refs["ConfigMap/"+f.ConfigMapKeyRef.Name+"/"+f.ConfigMapKeyRef.Key] && !refs["ConfigMap/"+f.ConfigMapKeyRef.Name]:
		return fmt.Sprintf("the original does not read key %s of ConfigMap %s, so its copy may not either", f.ConfigMapKeyRef.Key, f.ConfigMapKeyRef.Name)
	case f.FieldRef != nil || f.ResourceFieldRef != nil || f.SecretKeyRef != nil || f.ConfigMapKeyRef != nil:
		return ""
	}
	return "only literal values and the original's own Secret and ConfigMap keys may be set"
}
