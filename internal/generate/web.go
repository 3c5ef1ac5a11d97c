package generate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/spec"
	sxc "github.com/kube-idp/kube/servicex/contract"
)

var webKind = spec.Kind{Key: "web", Doc: "A Deployment serving HTTP with its Service, probes, and optional HorizontalPodAutoscaler and PodDisruptionBudget.",
	New: func() spec.GeneratorSpec { return &WebGen{} }}

// WebGen generates a web process: Deployment + Service (+ HPA, PDB).
type WebGen struct {
	spec.Common    `yaml:",inline"`
	spec.Container `yaml:",inline"`
	Name           string                 `yaml:"name" doc:"Process name. Default: the app name."`
	Replicas       spec.PerCluster[int32] `yaml:"replicas" doc:"Replicas per cluster (ignored when autoscale is set). Default: 2."`
	Port           int32                  `yaml:"port" doc:"Container port serving HTTP. Default: 8080."`
	Health         string                 `yaml:"health" doc:"HTTP path of the readiness and liveness probes. Default: /healthz (with servicex: its /readyz and /healthz, and health must not be set)."`
	Servicex       bool                   `yaml:"servicex" doc:"The process runs on servicex: probes on its /readyz and /healthz, its environment (docs/servicex.md), a metrics port scraped by a PodMonitor, and the grace period its shutdown needs."`
	GRPCPort       int32                  `yaml:"grpcPort" doc:"Container port serving gRPC, also on the Service (servicex processes only)."`
	Autoscale      *Autoscale             `yaml:"autoscale" doc:"HorizontalPodAutoscaler on CPU."`
	PDB            *PDB                   `yaml:"pdb" doc:"PodDisruptionBudget. Default: maxUnavailable 1 when more than one replica."`
	Loc            spec.Loc
}

// Autoscale configures a HorizontalPodAutoscaler.
type Autoscale struct {
	Min spec.PerCluster[int32] `yaml:"min" required:"true" doc:"Minimum replicas."`
	Max spec.PerCluster[int32] `yaml:"max" required:"true" doc:"Maximum replicas."`
	CPU int32                  `yaml:"cpu" doc:"Target CPU utilisation in percent. Default: 70."`
	Loc spec.Loc
}

// PDB configures a PodDisruptionBudget.
type PDB struct {
	MaxUnavailable string `yaml:"maxUnavailable" doc:"Number or percentage, e.g. 1 or 25%."`
	Disabled       bool   `yaml:"disabled" doc:"No PodDisruptionBudget."`
	Loc            spec.Loc
}

var maxUnavailableRE = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]?%)$`)

func (w *WebGen) Base() *spec.Common { return &w.Common }
func (w *WebGen) Describe() string   { return fmt.Sprintf("web %q", w.Name) }

func (w *WebGen) Default(f *spec.File) {
	spec.Default(&w.Name, f.App)
	spec.Default(&w.Port, 8080)
	if !w.Servicex {
		spec.Default(&w.Health, "/healthz")
	}
	if !w.Replicas.Set {
		w.Replicas = spec.Of[int32](2)
	}
	if w.Autoscale != nil {
		spec.Default(&w.Autoscale.CPU, 70)
	}
}

func (w *WebGen) Validate(v *spec.Validator) {
	v.Process(w.Loc, &w.Common, &w.Container, "web", "Deployment", w.Name)
	if errs := validation.IsDNS1035Label(w.Name); len(errs) > 0 && spec.ValidName(w.Name) {
		v.Errorf(w.Loc.At("name"), "web name %q also names its Service, which must start with a letter: %s", w.Name, errs[0])
	}
	v.PerCluster(w.Replicas.Loc)
	v.Replicas(w.Loc, w.Clusters, w.Replicas)
	v.Port(w.Loc, "port", w.Port)
	switch {
	case w.Servicex:
		w.validateServicex(v)
	case w.GRPCPort != 0:
		v.Errorf(w.Loc.At("grpcPort"), "grpcPort is for processes on servicex: set servicex: true, or serve gRPC on port")
	case !strings.HasPrefix(w.Health, "/"):
		v.Errorf(w.Loc.At("health"), "health %q must be an HTTP path starting with /", w.Health)
	}
	if a := w.Autoscale; a != nil {
		v.PerCluster(a.Min.Loc)
		v.PerCluster(a.Max.Loc)
		for _, c := range w.Clusters {
			if lo, hi := a.Min.For(c), a.Max.For(c); lo < 1 || hi < lo {
				v.Errorf(a.Loc.Pos, "autoscale for cluster %s: need 1 <= min (%d) <= max (%d)", c, lo, hi)
			}
		}
		if a.CPU < 1 || a.CPU > 100 {
			v.Errorf(a.Loc.At("cpu"), "autoscale cpu %d must be a percentage between 1 and 100", a.CPU)
		}
	}
	if p := w.PDB; p != nil && p.MaxUnavailable != "" {
		if !maxUnavailableRE.MatchString(p.MaxUnavailable) {
			v.Errorf(p.Loc.At("maxUnavailable"), "pdb maxUnavailable %q must be a positive number or a percentage such as 25%%", p.MaxUnavailable)
		}
	}
}

// servicexEnv are the variables kube generate writes for servicex; the spec
// may not set them.
var servicexEnv = []string{sxc.EnvService, sxc.EnvVersion, sxc.EnvCluster, sxc.EnvNamespace, sxc.EnvTeam, sxc.EnvPort, sxc.EnvGRPCPort, sxc.EnvMetricsPort}

func (w *WebGen) validateServicex(v *spec.Validator) {
	if w.Health != "" {
		v.Errorf(w.Loc.At("health"), "health is set by servicex (readiness %s, liveness %s): remove it", sxc.ReadinessPath, sxc.LivenessPath)
	}
	for _, n := range servicexEnv {
		if _, ok := w.Env[n]; ok {
			v.Errorf(w.Loc.At("env"), "env %s is written by kube generate for servicex: remove it", n)
		}
	}
	ports := map[int32]string{w.Port: "port", sxc.DefaultMetricsPort: "servicex's metrics port"}
	if w.GRPCPort != 0 {
		v.Port(w.Loc, "grpcPort", w.GRPCPort)
		if other, ok := ports[w.GRPCPort]; ok {
			v.Errorf(w.Loc.At("grpcPort"), "grpcPort %d is already %s", w.GRPCPort, other)
		}
	}
	if w.Port == sxc.DefaultMetricsPort {
		v.Errorf(w.Loc.At("port"), "port %d is servicex's metrics port: pick another", w.Port)
	}
}

// Objects: the Deployment with its probes, the Service, and the autoscaler and
// disruption budget when wanted.
func (w *WebGen) Objects(b *builder) ([]runtime.Object, error) {
	var replicas *int32
	if w.Autoscale == nil {
		replicas = ptr.To(w.Replicas.For(b.cluster))
	}
	ready, live := w.Health, w.Health
	ports := []corev1.ContainerPort{{Name: sxc.PortName, ContainerPort: w.Port, Protocol: corev1.ProtocolTCP}}
	if w.Servicex {
		ready, live = sxc.ReadinessPath, sxc.LivenessPath
		ports = append(ports, corev1.ContainerPort{Name: sxc.MetricsPortName, ContainerPort: sxc.DefaultMetricsPort, Protocol: corev1.ProtocolTCP})
		if w.GRPCPort != 0 {
			ports = append(ports, corev1.ContainerPort{Name: sxc.GRPCPortName, ContainerPort: w.GRPCPort, Protocol: corev1.ProtocolTCP})
		}
	}
	httpGet := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(sxc.PortName)}}
	}
	deployment := b.deployment(w.Name, &w.Container, replicas, func(c *corev1.Container) {
		c.Ports = ports
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: httpGet(ready), PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: httpGet(live), PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 6}
		c.StartupProbe = &corev1.Probe{ProbeHandler: httpGet(live), PeriodSeconds: 2, FailureThreshold: 60}
		if w.Servicex {
			c.Env = append(w.servicexEnv(b), c.Env...)
		}
	})
	if w.Servicex {
		// servicex's shutdown (drain, then in-flight requests, then the
		// exporters' flush) fits in it.
		deployment.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](sxc.TerminationGracePeriodSeconds)
	}
	objs := []runtime.Object{deployment}
	servicePorts := []corev1.ServicePort{{Name: sxc.PortName, Port: 80, TargetPort: intstr.FromString(sxc.PortName), Protocol: corev1.ProtocolTCP}}
	if w.Servicex && w.GRPCPort != 0 {
		servicePorts = append(servicePorts, corev1.ServicePort{Name: sxc.GRPCPortName, Port: w.GRPCPort, TargetPort: intstr.FromString(sxc.GRPCPortName), Protocol: corev1.ProtocolTCP})
	}
	objs = append(objs, &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: b.meta(w.Name, w.Name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector(b.f.App, w.Name),
			Ports:    servicePorts,
		},
	})
	if w.Servicex {
		objs = append(objs, w.podMonitor(b))
	}
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
	return objs, nil
}

// servicexEnv is the environment of servicex's contract (docs/servicex.md).
func (w *WebGen) servicexEnv(b *builder) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: sxc.EnvService, Value: w.Name},
		{Name: sxc.EnvVersion, Value: w.Tag.For(b.cluster)},
		{Name: sxc.EnvCluster, Value: b.cluster},
		{Name: sxc.EnvNamespace, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
		{Name: sxc.EnvPort, Value: strconv.Itoa(int(w.Port))},
		{Name: sxc.EnvMetricsPort, Value: strconv.Itoa(sxc.DefaultMetricsPort)},
	}
	if b.f.Team != "" {
		env = append(env, corev1.EnvVar{Name: sxc.EnvTeam, Value: b.f.Team})
	}
	if w.GRPCPort != 0 {
		env = append(env, corev1.EnvVar{Name: sxc.EnvGRPCPort, Value: strconv.Itoa(int(w.GRPCPort))})
	}
	return env
}

// podMonitor asks prometheus-operator to scrape servicex's metrics port. It is
// unstructured: prometheus-operator's Go module would be a large dependency
// for one small object.
func (w *WebGen) podMonitor(b *builder) runtime.Object {
	meta := b.meta(w.Name, w.Name)
	metadata := map[string]any{"name": meta.Name, "labels": stringsAny(meta.Labels)}
	if meta.Namespace != "" {
		metadata["namespace"] = meta.Namespace
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PodMonitor",
		"metadata":   metadata,
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": stringsAny(selector(b.f.App, w.Name))},
			"podMetricsEndpoints": []any{map[string]any{"port": sxc.MetricsPortName, "path": sxc.MetricsPath}},
		},
	}}
}
