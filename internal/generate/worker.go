package generate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

var workerKind = spec.Kind{Key: "worker", Doc: "A Deployment of a background process (no Service).", New: func() spec.GeneratorSpec { return &WorkerGen{} }}

// WorkerGen generates a background process: a Deployment without Service.
type WorkerGen struct {
	spec.Common    `yaml:",inline"`
	spec.Container `yaml:",inline"`
	Name           string                 `yaml:"name" required:"true" doc:"Process name, e.g. worker."`
	Replicas       spec.PerCluster[int32] `yaml:"replicas" doc:"Replicas per cluster. Default: 1."`
	Loc            spec.Loc
}

func (w *WorkerGen) Base() *spec.Common { return &w.Common }
func (w *WorkerGen) Describe() string   { return fmt.Sprintf("worker %q", w.Name) }

func (w *WorkerGen) Default(*spec.File) {
	if !w.Replicas.Set {
		w.Replicas = spec.Of[int32](1)
	}
}

func (w *WorkerGen) Validate(v *spec.Validator) {
	v.Process(w.Loc, &w.Common, &w.Container, "worker", "Deployment", w.Name)
	v.PerCluster(w.Replicas.Loc)
	v.Replicas(w.Loc, w.Clusters, w.Replicas)
}

func (w *WorkerGen) Objects(b *builder) ([]runtime.Object, error) {
	replicas := w.Replicas.For(b.cluster)
	return []runtime.Object{b.deployment(w.Name, &w.Container, &replicas, nil)}, nil
}
