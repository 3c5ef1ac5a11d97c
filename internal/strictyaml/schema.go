package strictyaml

import (
	"reflect"
	"strings"
)

// Schemer is implemented by types whose YAML form is not their Go structure.
type Schemer interface {
	JSONSchema() map[string]any
}

var schemerType = reflect.TypeOf((*Schemer)(nil)).Elem()

// Schema is the JSON Schema of the YAML that Decode accepts into t, derived from
// the same struct tags (yaml, required; doc for descriptions, enum for the
// values a string may take), so that a file's schema and its loader cannot
// drift apart.
func Schema(t reflect.Type) map[string]any {
	if reflect.PointerTo(t).Implements(schemerType) {
		return reflect.New(t).Interface().(Schemer).JSONSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return Schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": Schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": Schema(t.Elem())}
	case reflect.Struct:
		return structSchema(t)
	}
	return map[string]any{}
}

func structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	fields, required := StructFields(t)
	for name, idx := range fields {
		f := t.FieldByIndex(idx)
		p := Schema(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			p["description"] = doc
		}
		if enum := f.Tag.Get("enum"); enum != "" {
			var values []any
			for _, v := range strings.Split(enum, ",") {
				values = append(values, v)
			}
			if items, ok := p["items"].(map[string]any); ok && p["type"] == "array" {
				items["enum"] = values
			} else {
				p["enum"] = values
			}
		}
		props[name] = p
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
