package generate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

var namespaceKind = spec.Kind{Key: "namespace", Doc: "The app's Namespace.", New: func() spec.GeneratorSpec { return &NamespaceGen{} }}

// NamespaceGen generates the app's Namespace.
type NamespaceGen struct {
	spec.Common `yaml:",inline"`
	Labels      map[string]string `yaml:"labels" doc:"Extra labels, e.g. for Pod Security admission."`
}

func (n *NamespaceGen) Base() *spec.Common { return &n.Common }
func (n *NamespaceGen) Describe() string   { return "namespace" }
func (n *NamespaceGen) Default(*spec.File) {}

func (n *NamespaceGen) Validate(v *spec.Validator) {
	v.Common(v.Entry(), &n.Common, "namespace", "Namespace", v.File().Namespace)
}

func (n *NamespaceGen) Objects(b *builder) ([]runtime.Object, error) {
	m := b.meta(b.f.Namespace, "")
	m.Namespace = ""
	for k, v := range n.Labels {
		m.Labels[k] = v
	}
	return []runtime.Object{&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: m}}, nil
}
