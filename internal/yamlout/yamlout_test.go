package yamlout

import (
	"testing"
	"time"
)

func TestMarshal(t *testing.T) {
	type inner struct {
		Name  string `json:"name"`
		Count int    `json:"count,omitempty"`
	}
	got, err := Marshal(struct {
		B     inner     `json:"b"`
		A     float64   `json:"a"`
		When  time.Time `json:"when"`
		Empty string    `json:"empty,omitempty"`
	}{B: inner{Name: "x", Count: 3}, A: 1.5, When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	want := "a: 1.5\nb:\n  count: 3\n  name: x\nwhen: \"2026-01-02T03:04:05Z\"\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	got, _ = Marshal(map[string]any{"z": int64(1), "a": []any{"y", true}})
	if string(got) != "a:\n- \"y\"\n- true\nz: 1\n" {
		t.Errorf("map: %q", got)
	}
}
