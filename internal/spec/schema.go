package spec

import (
	"reflect"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// Schema returns the JSON Schema (draft 2020-12) of kube-generate.yaml with these
// generators, derived from the same Go types the loader decodes, so the two
// cannot drift apart.
func Schema(kinds Kinds) map[string]any {
	s := strictyaml.Schema(reflect.TypeOf(File{}))
	gen := map[string]any{"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false}
	props := map[string]any{}
	for _, k := range kinds {
		p := strictyaml.Schema(reflect.TypeOf(k.New()))
		p["description"] = k.Doc
		props[k.Key] = p
	}
	gen["properties"] = props
	s["properties"].(map[string]any)["generates"].(map[string]any)["items"] = gen
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://kube-idp.dev/schemas/kube-generate.json"
	s["title"] = FileName
	return s
}

func (PerCluster[T]) JSONSchema() map[string]any {
	var zero T
	v := strictyaml.Schema(reflect.TypeOf(zero))
	return map[string]any{
		"description": "A value, or a mapping from cluster names (and default) to values.",
		"anyOf": []any{v, map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"default": v},
			"additionalProperties": v,
		}},
	}
}

func (EnvValue) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		(PerCluster[string]{}).JSONSchema(),
		strictyaml.Schema(reflect.TypeOf(SecretRef{})),
	}}
}

func (Raw) JSONSchema() map[string]any { return map[string]any{} }
