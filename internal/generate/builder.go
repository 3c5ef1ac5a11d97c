package generate

import (
	"maps"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/spec"
)

// builder makes the objects of one generator for one cluster.
type builder struct {
	f       *spec.File
	root    string // directory of the spec: configMap files are read inside it only
	cluster string
}

func (b *builder) meta(name, component string) metav1.ObjectMeta {
	labels := map[string]string{contract.LabelName: b.f.App, contract.LabelManagedBy: "kube"}
	if component != "" {
		labels[contract.LabelComponent] = component
	}
	if b.f.Team != "" {
		labels[contract.LabelTeam] = b.f.Team
	}
	return metav1.ObjectMeta{Name: name, Namespace: b.f.Namespace, Labels: labels}
}

func selector(app, component string) map[string]string {
	return map[string]string{contract.LabelName: app, contract.LabelComponent: component}
}

// stringsAny converts labels for an unstructured object.
func stringsAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// deployment builds a Deployment for a long-running process; web adds ports and probes.
func (b *builder) deployment(name string, c *spec.Container, replicas *int32, customize func(*corev1.Container)) *appsv1.Deployment {
	pod := b.podSpec(name, c)
	if customize != nil {
		customize(&pod.Containers[0])
	}
	maxSurge, maxUnavailable := intstr.FromString("25%"), intstr.FromInt32(0)
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: b.meta(name, name),
		Spec: appsv1.DeploymentSpec{
			Replicas:             replicas,
			RevisionHistoryLimit: ptr.To[int32](5),
			Selector:             &metav1.LabelSelector{MatchLabels: selector(b.f.App, name)},
			// Never go below the desired capacity during a rollout.
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: b.meta(name, name).Labels},
				Spec:       pod,
			},
		},
	}
}

// podSpec is the hardened pod every process gets: non-root, read-only root file
// system with a writable /tmp, no privilege escalation, no capabilities.
func (b *builder) podSpec(name string, c *spec.Container) corev1.PodSpec {
	container := corev1.Container{
		Name:            name,
		Image:           imageRef(c.Image, c.Tag.For(b.cluster)),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         c.Command,
		Args:            c.Args,
		Env:             b.env(c.Env),
		Resources:       resources(c.Resources.For(b.cluster)),
		VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	pod := corev1.PodSpec{
		Containers: []corev1.Container{container},
		Volumes:    []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		ServiceAccountName: c.ServiceAccount,
		// Only pods that name a service account talk to the API server.
		AutomountServiceAccountToken: ptr.To(c.ServiceAccount != ""),
	}
	return pod
}

// imageRef joins a validated image name and tag (or sha256 digest).
func imageRef(image, tag string) string {
	named, err := reference.ParseNamed(image)
	if err != nil {
		named, _ = reference.WithName(image)
	}
	var ref reference.Reference
	if strings.HasPrefix(tag, "sha256:") {
		ref, err = reference.WithDigest(named, digest.Digest(tag))
	} else {
		ref, err = reference.WithTag(named, tag)
	}
	if err != nil || named == nil {
		return image + ":" + tag // unreachable once the spec is valid
	}
	return ref.String()
}

func resources(r spec.Resources) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q string) {
		if q == "" {
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = resource.MustParse(q)
	}
	set(&out.Requests, corev1.ResourceCPU, r.CPU)
	set(&out.Requests, corev1.ResourceMemory, r.Memory)
	memLimit := r.MemoryLimit
	if memLimit == "" {
		memLimit = r.Memory
	}
	set(&out.Limits, corev1.ResourceMemory, memLimit)
	set(&out.Limits, corev1.ResourceCPU, r.CPULimit)
	return out
}

func (b *builder) env(env map[string]spec.EnvValue) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, n := range slices.Sorted(maps.Keys(env)) {
		e := env[n]
		if e.Secret != nil {
			out = append(out, corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret.Secret}, Key: e.Secret.Key},
			}})
			continue
		}
		out = append(out, corev1.EnvVar{Name: n, Value: e.Value.For(b.cluster)})
	}
	return out
}
