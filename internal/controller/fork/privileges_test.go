package fork

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// A Fork may set literal variables and reuse the original's Secret keys, but may
// not make its copy read a Secret the original does not read.
func TestCopyGainsNoSecretAccess(t *testing.T) {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "DB", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "url"}}}}}},
		Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}},
	}}
	secretRef := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	w := forkv1.Workload{Containers: []forkv1.ContainerOverride{{Env: []corev1.EnvVar{
		{Name: "LOG_LEVEL", Value: "debug"},
		{Name: "DB2", ValueFrom: secretRef("db", "url")},
		{Name: "STOLEN", ValueFrom: secretRef("payments-admin", "token")},
		{Name: "CFG", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "x"}}},
		{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}}}}
	got, problems := allowedOverrides(tpl, w)
	var names []string
	for _, e := range got.Containers[0].Env {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "LOG_LEVEL,DB2,CFG,POD" {
		t.Errorf("kept %v", names)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "env STOLEN: the original does not read key token of Secret payments-admin") {
		t.Errorf("problems = %q", problems)
	}
	// The Fork itself is not changed.
	if len(w.Containers[0].Env) != 5 {
		t.Errorf("the Fork's overrides were modified")
	}
	copied := copyTemplate(tpl, "alice", "web", got)
	if copied.Spec.Volumes[0].ConfigMap.Name != "cfg" || len(copied.Spec.Containers[0].Env) != 5 {
		t.Errorf("copy: %+v", copied.Spec)
	}
}
