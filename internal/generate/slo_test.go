package generate

import (
	"slices"
	"testing"
)

// The freeze policy names, per spec cluster, the objectives whose spent
// budget stops a release.
func TestFrozenObjectives(t *testing.T) {
	f, err := LoadSpec("testdata/generators/slo/kube-generate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := FrozenObjectives(f, "prod"); !slices.Equal(got, []string{"availability", "latency", "payments"}) {
		t.Errorf("prod: %v", got)
	}
	for _, c := range []string{"qa", "sandbox"} {
		if got := FrozenObjectives(f, c); len(got) != 0 {
			t.Errorf("%s: %v, want none", c, got)
		}
	}
}
