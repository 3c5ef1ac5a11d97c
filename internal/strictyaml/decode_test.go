package strictyaml

import (
	"strings"
	"testing"
)

type inner struct {
	Name string `yaml:"name" required:"true"`
}

type doc struct {
	inner   `yaml:",inline"`
	Count   int               `yaml:"count"`
	Enabled bool              `yaml:"enabled"`
	Tags    []string          `yaml:"tags"`
	Labels  map[string]string `yaml:"labels"`
	Loc     Loc
}

func TestUnmarshal(t *testing.T) {
	var d doc
	if errs := Unmarshal("f.yaml", []byte("name: a\ncount: 3\nenabled: true\ntags: [x, y]\nlabels: {k: v}\n"), &d); errs != nil {
		t.Fatal(errs)
	}
	if d.Name != "a" || d.Count != 3 || !d.Enabled || strings.Join(d.Tags, ",") != "x,y" || d.Labels["k"] != "v" {
		t.Fatalf("decoded %+v", d)
	}
	if p := d.Loc.At("tags"); p.Line != 4 || p.Column != 1 {
		t.Fatalf("position of tags: %+v", p)
	}
}

func TestUnmarshalCollectsEveryError(t *testing.T) {
	var d doc
	errs := Unmarshal("f.yaml", []byte("count: many\nenabeld: true\ntags: x\nlabels: {k: v, k: w}\n"), &d)
	got := errs.Error()
	for _, want := range []string{
		`f.yaml:1:1: missing required key "name"`,
		`f.yaml:1:8: expected a whole number, got "many"`,
		`f.yaml:2:1: unknown key "enabeld" (did you mean "enabled"?); allowed: count, enabled, labels, name, tags`,
		`f.yaml:3:7: expected a list, got "x"`,
		`f.yaml:4:16: duplicate key "k"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"", "a: [", "a: 1\n---\nb: 2\n"} {
		if errs := Unmarshal("f.yaml", []byte(bad), &d); len(errs) != 1 {
			t.Errorf("Unmarshal(%q) = %v, want one error", bad, errs)
		}
	}
}
