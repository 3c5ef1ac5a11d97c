package generate

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

// Kinds are the generators of kube-generate.yaml. Adding one is a new file with
// its settings (fields, defaults, checks, objects) and one line here.
var Kinds = spec.Kinds{
	namespaceKind,
	webKind,
	workerKind,
	cronJobKind,
	serviceAccountKind,
	configMapKind,
	routeKind,
	argoCDKind,
	forkKind,
	alertsKind,
	sloKind,
}

// Generator is a generator's settings and how it makes its objects for one
// cluster.
type Generator interface {
	spec.GeneratorSpec
	Objects(b *builder) ([]runtime.Object, error)
}

// LoadSpec reads a kube-generate.yaml with kube's generators.
// A file with slack: and no alerts entry gets one (withImplicitAlerts).
func LoadSpec(path string) (*spec.File, error) { return implicit(spec.Load(path, Kinds)) }

// ParseSpec is LoadSpec for data already read.
func ParseSpec(path string, data []byte) (*spec.File, error) {
	return implicit(spec.Parse(path, data, Kinds))
}

func implicit(f *spec.File, err error) (*spec.File, error) {
	if err != nil {
		return nil, err
	}
	return withImplicitAlerts(f), nil
}

// Schema is the JSON Schema of kube-generate.yaml with kube's generators.
func Schema() map[string]any { return spec.Schema(Kinds) }
