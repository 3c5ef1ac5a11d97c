package strictyaml

import (
	"strings"
	"testing"
	"time"
)

// The decoder must survive any input: no panic, every error positioned in the
// file, and bounded work whatever aliases it holds.
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{
		"name: a\ncount: 3\nenabled: true\ntags: [x, y]\nlabels: {k: v}\n",
		"count: many\nenabeld: true\ntags: x\nlabels: {k: v, k: w}\n",
		"a: &x [p, q]\nb: *x\n",
		billionLaughs(4),
		"kids: [{kids: [{kids: []}]}]\n",
		"- 1\n- 2\n", "", "a: [", "a: 1\n---\nb: 2\n", "<<: *x\n", "name: !!binary aGk=\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := strings.Count(strings.ReplaceAll(in, "\r\n", "\n"), "\n") + strings.Count(in, "\r") + 2
		start := time.Now()
		var d doc
		var tr map[string]tree
		for _, errs := range []Errors{Unmarshal("f.yaml", []byte(in), &d), Unmarshal("f.yaml", []byte(in), &tr)} {
			for _, e := range errs {
				if e.File != "f.yaml" || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Column < 1 || e.Msg == "" {
					t.Fatalf("badly positioned error %+v for %q", e, in)
				}
			}
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Fatalf("decoding %d bytes took %s", len(in), elapsed)
		}
	})
}
