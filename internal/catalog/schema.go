package catalog

import (
	"reflect"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// Schema returns the JSON Schema (draft 2020-12) of a domain file ("domain")
// or a component file ("component"), derived from the types Load decodes, for
// editors and for CI outside kube. References between files (domains, owners
// of replacedBy) are checked by Load only.
func Schema(of string) (map[string]any, bool) {
	var t reflect.Type
	switch of {
	case "domain":
		t = reflect.TypeOf(Domain{})
	case "component":
		t = reflect.TypeOf(Component{})
	default:
		return nil, false
	}
	s := strictyaml.Schema(t)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://kube-idp.dev/schemas/catalog-" + of + ".json"
	s["title"] = "kube catalog " + of
	return s, true
}
