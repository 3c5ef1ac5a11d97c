package generate

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kube-idp/kube/internal/spec"
)

// Labels and annotations that kube writes.
const (
	LabelApp       = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelTeam      = "kube-idp.dev/team"
	// AnnotationNotify names the Slack channel the CronJob notifier reports to.
	AnnotationNotify = "kube-idp.dev/notify-channel"
)

// builder makes the objects of one generator for one cluster.
type builder struct {
	f       *spec.File
	root    string // directory of the spec: configMap files are read inside it only
	cluster string
}

func (b *builder) meta(name, component string) metav1.ObjectMeta {
	labels := map[string]string{LabelApp: b.f.App, LabelManagedBy: "kube"}
	if component != "" {
		labels[LabelComponent] = component
	}
	if b.f.Team != "" {
		labels[LabelTeam] = b.f.Team
	}
	return metav1.ObjectMeta{Name: name, Namespace: b.f.Namespace, Labels: labels}
}

func selector(app, component string) map[string]string {
	return map[string]string{LabelApp: app, LabelComponent: component}
}

func (b *builder) objects(g *spec.Generator) ([]runtime.Object, error) {
	switch {
	case g.Namespace != nil:
		m := b.meta(b.f.Namespace, "")
		m.Namespace = ""
		for k, v := range g.Namespace.Labels {
			m.Labels[k] = v
		}
		return []runtime.Object{&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: m}}, nil
	case g.Web != nil:
		return b.web(g.Web), nil
	case g.Worker != nil:
		w := g.Worker
		replicas := w.Replicas.For(b.cluster)
		return []runtime.Object{b.deployment(w.Name, &w.Container, &replicas, nil)}, nil
	case g.CronJob != nil:
		return []runtime.Object{b.cronJob(g.CronJob)}, nil
	case g.ServiceAccount != nil:
		s := g.ServiceAccount
		m := b.meta(s.Name, "")
		m.Annotations = s.Annotations
		return []runtime.Object{&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: m}}, nil
	case g.ConfigMap != nil:
		cm, err := b.configMap(g.ConfigMap)
		return []runtime.Object{cm}, err
	case g.Route != nil:
		return []runtime.Object{b.route(g.Route)}, nil
	case g.ArgoCD != nil:
		return []runtime.Object{b.argoApplication(g.ArgoCD)}, nil
	case g.Fork != nil:
		return []runtime.Object{b.forkBinding(g.Fork)}, nil
	}
	return nil, fmt.Errorf("empty generator")
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (b *builder) web(w *spec.WebGen) []runtime.Object {
	var replicas *int32
	if w.Autoscale == nil {
		replicas = ptr.To(w.Replicas.For(b.cluster))
	}
	port := &corev1.ContainerPort{Name: "http", ContainerPort: w.Port, Protocol: corev1.ProtocolTCP}
	objs := []runtime.Object{b.deployment(w.Name, &w.Container, replicas, func(c *corev1.Container) {
		c.Ports = []corev1.ContainerPort{*port}
		probe := func(failures int32) *corev1.Probe {
			return &corev1.Probe{
				ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: w.Health, Port: intstr.FromString("http")}},
				PeriodSeconds:    10,
				TimeoutSeconds:   2,
				FailureThreshold: failures,
			}
		}
		c.ReadinessProbe = probe(3)
		c.LivenessProbe = probe(6)
		c.StartupProbe = &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: w.Health, Port: intstr.FromString("http")}},
			PeriodSeconds:    2,
			FailureThreshold: 60,
		}
	})}
	objs = append(objs, &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: b.meta(w.Name, w.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector(b.f.App, w.Name),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	})
	maxReplicas := w.Replicas.For(b.cluster)
	if a := w.Autoscale; a != nil {
		maxReplicas = a.Max.For(b.cluster)
		objs = append(objs, &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   typeMeta("autoscaling/v2", "HorizontalPodAutoscaler"),
			ObjectMeta: b.meta(w.Name, w.Name),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: w.Name},
				MinReplicas:    ptr.To(a.Min.For(b.cluster)),
				MaxReplicas:    a.Max.For(b.cluster),
				Metrics: []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.ResourceMetricSourceType,
					Resource: &autoscalingv2.ResourceMetricSource{
						Name:   corev1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(a.CPU)},
					},
				}},
			},
		})
	}
	pdbWanted := maxReplicas > 1 && (w.PDB == nil || !w.PDB.Disabled)
	if pdbWanted {
		maxUnavailable := intstr.FromInt32(1)
		if w.PDB != nil && w.PDB.MaxUnavailable != "" {
			maxUnavailable = intstr.Parse(w.PDB.MaxUnavailable)
		}
		objs = append(objs, &policyv1.PodDisruptionBudget{
			TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
			ObjectMeta: b.meta(w.Name, w.Name),
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: &maxUnavailable,
				Selector:       &metav1.LabelSelector{MatchLabels: selector(b.f.App, w.Name)},
			},
		})
	}
	return objs
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

func imageRef(image, tag string) string {
	if strings.HasPrefix(tag, "sha256:") {
		return image + "@" + tag
	}
	return image + ":" + tag
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
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []corev1.EnvVar
	for _, n := range names {
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

func (b *builder) cronJob(c *spec.CronJobGen) *batchv1.CronJob {
	deadline, _ := time.ParseDuration(c.Deadline) // validated
	pod := b.podSpec(c.Name, &c.Container)
	pod.RestartPolicy = corev1.RestartPolicyNever
	m := b.meta(c.Name, c.Name)
	if c.Notify != "" {
		m.Annotations = map[string]string{AnnotationNotify: c.Notify}
	}
	return &batchv1.CronJob{
		TypeMeta:   typeMeta("batch/v1", "CronJob"),
		ObjectMeta: m,
		Spec: batchv1.CronJobSpec{
			Schedule:                   c.Schedule.For(b.cluster),
			TimeZone:                   ptr.To(c.TimeZone),
			ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(c.ConcurrencyPolicy),
			StartingDeadlineSeconds:    ptr.To[int64](300),
			Suspend:                    ptr.To(c.Suspend.For(b.cluster)),
			SuccessfulJobsHistoryLimit: ptr.To(c.History.Succeeded),
			FailedJobsHistoryLimit:     ptr.To(c.History.Failed),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: b.meta(c.Name, c.Name).Labels},
				Spec: batchv1.JobSpec{
					ActiveDeadlineSeconds: ptr.To(int64(deadline.Seconds())),
					BackoffLimit:          ptr.To(c.Retries),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: b.meta(c.Name, c.Name).Labels},
						Spec:       pod,
					},
				},
			},
		},
	}
}

func (b *builder) configMap(c *spec.ConfigMapGen) (*corev1.ConfigMap, error) {
	data := map[string]string{}
	for k, v := range c.Data {
		data[k] = v
	}
	if len(c.Files) == 0 {
		return &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: b.meta(c.Name, ""), Data: data}, nil
	}
	// os.Root refuses any path, symbolic links included, that leaves the directory.
	repo, err := os.OpenRoot(b.root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	for _, cf := range c.FileEntries() {
		content, err := repo.ReadFile(filepath.FromSlash(cf.Path))
		if err != nil {
			return nil, fmt.Errorf("configMap %s: %w", c.Name, err)
		}
		data[cf.Key] = string(content)
	}
	return &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: b.meta(c.Name, ""), Data: data}, nil
}

func (b *builder) route(r *spec.RouteGen) runtime.Object {
	host := r.Host.For(b.cluster)
	if r.Kind == "ingress" {
		var class *string
		if r.IngressClass != "" {
			class = ptr.To(r.IngressClass)
		}
		return &networkingv1.Ingress{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
			ObjectMeta: b.meta(r.Name, ""),
			Spec: networkingv1.IngressSpec{
				IngressClassName: class,
				Rules: []networkingv1.IngressRule{{
					Host: host,
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
						Path:     r.Path,
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: r.Service, Port: networkingv1.ServiceBackendPort{Number: r.Port},
						}},
					}}}},
				}},
			},
		}
	}
	gwNamespace, gwName, _ := strings.Cut(r.Gateway, "/")
	return &gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "HTTPRoute"),
		ObjectMeta: b.meta(r.Name, ""),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Namespace: ptr.To(gatewayv1.Namespace(gwNamespace)),
				Name:      gatewayv1.ObjectName(gwName),
			}}},
			Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(host)},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type:  ptr.To(gatewayv1.PathMatchPathPrefix),
					Value: ptr.To(r.Path),
				}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(r.Service),
					Port: ptr.To(gatewayv1.PortNumber(r.Port)),
				}}}},
			}},
		},
	}
}

// argoApplication is unstructured: Argo CD's Go module is far too large to import
// for one type.
func (b *builder) argoApplication(a *spec.ArgoCDGen) runtime.Object {
	m := b.meta(b.f.App+"-"+b.cluster, "")
	spec := map[string]any{
		"project": a.Project,
		"source": map[string]any{
			"repoURL":        a.Repo,
			"targetRevision": a.Revision,
			"path":           "kubernetes/" + b.cluster,
			// The Application lives in the directory it deploys; do not deploy it into the app's cluster.
			"directory": map[string]any{"exclude": FileName("Application", m.Name)},
		},
		"destination": map[string]any{"server": a.Server, "namespace": b.f.Namespace},
	}
	if a.AutoSync {
		spec["syncPolicy"] = map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}}
	}
	labels := map[string]any{}
	for k, v := range m.Labels {
		labels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": m.Name, "namespace": a.Namespace, "labels": labels},
		"spec":       spec,
	}}
}

// ForkClusterRole is what kube-controller may write where forks are enabled
// (config/install/kube-controller.yaml); a RoleBinding grants it per namespace.
const ForkClusterRole = "kube-controller-fork"

// forkBinding lets kube-controller make fork copies in the app's namespace, and
// nowhere else.
func (b *builder) forkBinding(fk *spec.ForkGen) runtime.Object {
	ns, name, _ := strings.Cut(fk.Controller, "/")
	return &rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: b.meta(ForkClusterRole, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ForkClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}
}
