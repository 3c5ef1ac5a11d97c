package spec

import (
	"github.com/kube-idp/kube/internal/strictyaml"
	"reflect"
)

// Schema returns the JSON Schema (draft 2020-12) of kube-generate.yaml with these
// generators, derived from the same Go types the loader decodes, so the two
// cannot drift apart.
func Schema(kinds Kinds) map[string]any {
	s := schemaOf(reflect.TypeOf(File{}))
	gen := map[string]any{"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false}
	props := map[string]any{}
	for _, k := range kinds {
		p := schemaOf(reflect.TypeOf(k.New()))
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

// schemer is implemented by types whose YAML form is not their Go structure.
type schemer interface {
	jsonSchema() map[string]any
}

var schemerType = reflect.TypeOf((*schemer)(nil)).Elem()

func schemaOf(t reflect.Type) map[string]any {
	if reflect.PointerTo(t).Implements(schemerType) {
		return reflect.New(t).Interface().(schemer).jsonSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		return structSchema(t)
	}
	return map[string]any{}
}

func structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	fields, required := strictyaml.StructFields(t)
	for name, idx := range fields {
		f := t.FieldByIndex(idx)
		p := schemaOf(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			p["description"] = doc
		}
		props[name] = p
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (PerCluster[T]) jsonSchema() map[string]any {
	var zero T
	v := schemaOf(reflect.TypeOf(zero))
	return map[string]any{
		"description": "A value, or a mapping from cluster names (and default) to values.",
		"anyOf": []any{v, map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"default": v},
			"additionalProperties": v,
		}},
	}
}

func (EnvValue) jsonSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		(PerCluster[string]{}).jsonSchema(),
		schemaOf(reflect.TypeOf(SecretRef{})),
	}}
}

func (Raw) jsonSchema() map[string]any { return map[string]any{} }
