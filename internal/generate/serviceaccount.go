package generate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

var serviceAccountKind = spec.Kind{Key: "serviceAccount", Doc: "A ServiceAccount.", New: func() spec.GeneratorSpec { return &ServiceAccountGen{} }}

// ServiceAccountGen generates a ServiceAccount.
type ServiceAccountGen struct {
	spec.Common `yaml:",inline"`
	Name        string            `yaml:"name" doc:"Default: the app name."`
	Annotations map[string]string `yaml:"annotations" doc:"E.g. a cloud IAM role binding."`
	Loc         spec.Loc
}

func (s *ServiceAccountGen) Base() *spec.Common   { return &s.Common }
func (s *ServiceAccountGen) Describe() string     { return fmt.Sprintf("serviceAccount %q", s.Name) }
func (s *ServiceAccountGen) Default(f *spec.File) { spec.Default(&s.Name, f.App) }

func (s *ServiceAccountGen) Validate(v *spec.Validator) {
	v.Common(s.Loc, &s.Common, "serviceAccount", "ServiceAccount", s.Name)
	v.Name(s.Loc, "name", s.Name)
}

func (s *ServiceAccountGen) Objects(b *builder) ([]runtime.Object, error) {
	m := b.meta(s.Name, "")
	m.Annotations = s.Annotations
	return []runtime.Object{&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: m}}, nil
}
