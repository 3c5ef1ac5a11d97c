// Package yamlout renders YAML, the one way kube does it: manifests written by
// kube generate, revisions, diffs and -o yaml. Objects as maps (unstructured)
// are rendered directly, with sorted keys, so the same object is the same bytes
// on every machine; anything else goes through its JSON form first, so that
// JSON field names and omitempty apply, as in kubectl's output.
package yamlout

import (
	"bytes"
	"encoding/json"

	"go.yaml.in/yaml/v2"
)

// Marshal renders v as YAML.
func Marshal(v any) ([]byte, error) {
	if m, ok := v.(map[string]any); ok {
		return marshalMap(m)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	n := Numbers(generic)
	if m, ok := n.(map[string]any); ok {
		return marshalMap(m)
	}
	return yaml.Marshal(n)
}

// marshalMap renders m with the fast writer when it can, else yaml.v2; the
// bytes are the same either way.
func marshalMap(m map[string]any) ([]byte, error) {
	if out, ok := fastMarshal(m); ok {
		return out, nil
	}
	return yaml.Marshal(m)
}

// Numbers turns the json.Numbers of a decoded value (json.Decoder's
// UseNumber) back into integers or floats, as YAML writes them.
func Numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = Numbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = Numbers(x)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}
