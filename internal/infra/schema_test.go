package infra

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite docs/kube-infra.schema.json")

// docs/kube-infra.schema.json is the schema of the types ParseConfig decodes,
// and accepts the example repository's file.
func TestSchema(t *testing.T) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Schema()); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/kube-infra.schema.json"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(path); err != nil || !bytes.Equal(want, b.Bytes()) {
		t.Fatalf("%s is not current (%v): go test ./internal/infra -run TestSchema -update", path, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for text, ok := range map[string]bool{
		"version: 1.12.6\nrequiredTags: [owner, team]\nlock: apply\n": true,
		"requiredTags: [owner]\n":                                     false,
		"version: 1.12.6\nlock: always\n":                             false,
		"version: 1.12.6\nextra: 1\n":                                 false,
	} {
		var v any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != ok {
			t.Errorf("%q: %v", text, err)
		}
	}
}
