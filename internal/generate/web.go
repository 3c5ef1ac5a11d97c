package generate

import (
	"fmt"
	"regexp"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/spec"
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
	Health         string                 `yaml:"health" doc:"HTTP path of the readiness and liveness probes. Default: /healthz."`
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
	spec.Default(&w.Health, "/healthz")
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
	if !strings.HasPrefix(w.Health, "/") {
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

// Objects: the Deployment with its probes, the Service, and the autoscaler and
// disruption budget when wanted.
func (w *WebGen) Objects(b *builder) ([]runtime.Object, error) {
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
	return objs, nil
}
