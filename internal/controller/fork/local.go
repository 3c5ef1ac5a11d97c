package fork

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/forkagent"
)

// DefaultAgentImage runs a local workload's agent unless the profile names
// another: kube-controller's own image, which holds the agent.
const DefaultAgentImage = "ghcr.io/kube-idp/kube-controller:latest"

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get

// localTemplate is the pod of a local workload's copy: the agent alone, on
// the container's ports (same names, so Services' named target ports still
// match), with its own readiness probe and nothing of the original's
// environment, volumes, Secrets or service-account token. It keeps the
// ServiceAccount name and the pod annotations, so that a mesh gives it the
// workload's identity.
func localTemplate(src *corev1.PodTemplateSpec, f *forkv1.Fork, source string, w forkv1.Workload, p forkv1.ForkProfileSpec) (corev1.PodTemplateSpec, error) {
	containers := src.Spec.Containers
	i := 0
	if w.Local.Container != "" {
		i = slices.IndexFunc(containers, func(c corev1.Container) bool { return c.Name == w.Local.Container })
		if i < 0 {
			return corev1.PodTemplateSpec{}, fmt.Errorf("Deployment %s has no container %q", source, w.Local.Container)
		}
	}
	if len(containers) == 0 {
		return corev1.PodTemplateSpec{}, fmt.Errorf("Deployment %s has no container", source)
	}
	orig := containers[i]
	var ports []corev1.ContainerPort
	var numbers []string
	for _, cp := range orig.Ports {
		if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
			ports = append(ports, corev1.ContainerPort{Name: cp.Name, ContainerPort: cp.ContainerPort, Protocol: corev1.ProtocolTCP})
			numbers = append(numbers, strconv.Itoa(int(cp.ContainerPort)))
		}
	}
	if len(ports) == 0 {
		return corev1.PodTemplateSpec{}, fmt.Errorf("container %s of Deployment %s declares no TCP port: a local workload needs the ports its Services send to", orig.Name, source)
	}
	control := forkv1.AgentControlPort
	for slices.ContainsFunc(ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == control }) {
		control++
	}
	image, allowed := DefaultAgentImage, []string(forkagent.DefaultAllowlist(f.Namespace))
	if p.Local != nil {
		if p.Local.AgentImage != "" {
			image = p.Local.AgentImage
		}
		if len(p.Local.AllowedDestinations) > 0 {
			allowed = p.Local.AllowedDestinations
		}
	}
	annotations := map[string]string{}
	for k, v := range src.Annotations {
		annotations[k] = v
	}
	annotations[forkv1.AnnotationAgentControlPort] = strconv.Itoa(int(control))
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: copyLabels(f.ID(), source), Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName:           src.Spec.ServiceAccountName,
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			NodeSelector:                 src.Spec.NodeSelector,
			Tolerations:                  src.Spec.Tolerations,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  orig.Name,
				Image: image,
				Args: []string{"agent", "--control=127.0.0.1:" + strconv.Itoa(int(control)), "--ports=" + strings.Join(numbers, ","),
					"--fork=" + f.ID(), "--workload=" + source, "--namespace=" + f.Namespace, "--allow=" + strings.Join(allowed, ",")},
				Ports: ports,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(ports[0].ContainerPort)}},
					PeriodSeconds: 5,
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					RunAsNonRoot:             ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}, nil
}

// LocalLeaseName is the Lease kube fork connect holds while a developer's
// process stands in for the fork's local workload.
func LocalLeaseName(f *forkv1.Fork) string { return f.Name + "-local" }

// localConnection sets the LocalConnected condition from the fork's Lease and
// returns when to look again (the Lease's expiry), or 0.
func (r *Reconciler) localConnection(ctx context.Context, f *forkv1.Fork, status *forkv1.ForkStatus) time.Duration {
	if !slices.ContainsFunc(f.Spec.Workloads, func(w forkv1.Workload) bool { return w.Local != nil }) {
		meta.RemoveStatusCondition(&status.Conditions, forkv1.ConditionLocalConnected)
		return 0
	}
	cond := metav1.Condition{Type: forkv1.ConditionLocalConnected, Status: metav1.ConditionFalse, Reason: "NotConnected",
		Message: "nobody is connected: kube fork connect " + f.ID() + " --workload ...", ObservedGeneration: f.Generation}
	var lease coordinationv1.Lease
	var after time.Duration
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	err := reader.Get(ctx, types.NamespacedName{Namespace: f.Namespace, Name: LocalLeaseName(f)}, &lease)
	switch {
	case err == nil && lease.Spec.HolderIdentity != nil && lease.Spec.RenewTime != nil && lease.Spec.LeaseDurationSeconds != nil:
		expires := lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second)
		if r.now().Before(expires) {
			since := lease.Spec.RenewTime.Time
			if lease.Spec.AcquireTime != nil {
				since = lease.Spec.AcquireTime.Time
			}
			cond.Status, cond.Reason = metav1.ConditionTrue, "Connected"
			cond.Message = fmt.Sprintf("%s since %s", *lease.Spec.HolderIdentity, since.UTC().Format(time.RFC3339))
			after = expires.Sub(r.now()) + time.Second
		}
	case client.IgnoreNotFound(err) != nil:
		cond.Reason, cond.Message = "LeaseUnreadable", err.Error()
	}
	meta.SetStatusCondition(&status.Conditions, cond)
	return after
}
