package spec

import (
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// PerCluster is a value that may differ by cluster. In the file it is either the
// value itself (`replicas: 3`) or a mapping from cluster names to values with an
// optional `default` (`replicas: {default: 2, prod: 6}`). When the value is itself
// a mapping (resources), the per-cluster form must have a `default` key.
type PerCluster[T any] struct {
	Default  T
	Clusters map[string]T
	// Set is true when the key was present in the file.
	Set bool
	// Loc holds the positions of the cluster keys, for validation.
	Loc Loc
}

// For returns the value for a cluster.
func (p PerCluster[T]) For(cluster string) T {
	if v, ok := p.Clusters[cluster]; ok {
		return v
	}
	return p.Default
}

// Of returns a PerCluster with only a default value (for defaulting and tests).
func Of[T any](v T) PerCluster[T] { return PerCluster[T]{Default: v, Set: true} }

func (p *PerCluster[T]) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	p.Set = true
	p.Loc = Loc{Pos: strictyaml.At(n), Keys: map[string]Pos{}}
	var zero T
	isStruct := reflect.TypeOf(zero).Kind() == reflect.Struct
	if n.Kind != yaml.MappingNode || (isStruct && !strictyaml.HasKey(n, "default")) {
		d.Decode(n, reflect.ValueOf(&p.Default).Elem())
		return
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if _, dup := p.Loc.Keys[k.Value]; dup {
			d.Errorf(k, "duplicate key %q", k.Value)
			continue
		}
		p.Loc.Keys[k.Value] = strictyaml.At(k)
		if k.Value == "default" {
			d.Decode(val, reflect.ValueOf(&p.Default).Elem())
			continue
		}
		var v T
		d.Decode(val, reflect.ValueOf(&v).Elem())
		if p.Clusters == nil {
			p.Clusters = map[string]T{}
		}
		p.Clusters[k.Value] = v
	}
}
