package yamlout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
	sigsyaml "sigs.k8s.io/yaml"
)

// same checks that fastMarshal, when it renders m, renders it as yaml.v2.
func same(t *testing.T, m map[string]any) bool {
	t.Helper()
	want, err := yaml.Marshal(m)
	if err != nil {
		return false
	}
	got, ok := fastMarshal(m)
	if ok && string(got) != string(want) {
		t.Fatalf("fastMarshal differs from yaml.v2:\n--- yaml.v2\n%s--- fast\n%s", want, got)
	}
	return ok
}

// Every manifest the repository holds (examples and generator goldens)
// renders the same, and most are rendered by the fast path.
func TestFastMarshalOnManifests(t *testing.T) {
	var files, fast int
	for _, root := range []string{"../../examples", "../generate/testdata", "../slo/testdata"} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, "kube-generate.yaml") {
				return nil
			}
			data, _ := os.ReadFile(p)
			var m map[string]any
			if sigsyaml.Unmarshal(data, &m) != nil || m == nil {
				return nil
			}
			files++
			if same(t, integers(m).(map[string]any)) {
				fast++
			} else if testing.Verbose() {
				t.Logf("yaml.v2 renders %s", p)
			}
			return nil
		})
	}
	if files < 100 || fast*10 < files*7 {
		t.Errorf("%d of %d manifests took the fast path", fast, files)
	}
	t.Logf("%d of %d manifests took the fast path", fast, files)
}

// integers turns JSON's whole floats back into the int64s kube's objects hold.
func integers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = integers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = integers(x)
		}
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}

// Random documents from a tricky alphabet: whatever fastMarshal renders is
// what yaml.v2 renders.
func FuzzFastMarshal(f *testing.F) {
	f.Add([]byte("a: b"), "expr", 3)
	f.Add([]byte("sum(rate(http_server_request_duration_seconds_count{namespace=\"shop\", job=\"shop/web\"}[5m])) / sum(x)"), "k", 2)
	f.Add([]byte("- a #b: c 'd' \"e\" 1.0 true null ~ --- 0x1F 1_000 2026-11-23"), "a10", 1)
	f.Add([]byte("*Alert:* {{ .Labels.alertname }}\n  *Runbook:* <{{ .Annotations.runbook_url }}|runbook>\n\n"), "text", 4)
	f.Add([]byte(" leading\ntrailing \nx"), "k", 2)
	f.Fuzz(func(t *testing.T, data []byte, key string, depth int) {
		words := strings.Fields(string(data))
		for _, s := range append(words, string(data), key) {
			if plainForSure(s) {
				if f := computeScalarForm(s); !f.plain {
					t.Fatalf("plainForSure(%q), but yaml.v2 writes %+v", s, f)
				}
			}
		}
		build := func(s string) any {
			switch {
			case strings.HasPrefix(s, "#int"):
				return int64(len(s))
			case s == "#nil":
				return nil
			case s == "#true":
				return true
			}
			return s
		}
		var value any = string(data)
		for i := 0; i < depth%5; i++ {
			m := map[string]any{key: value, "k" + key: build(strings.Join(words, " "))}
			for j, w := range words {
				if j > 6 {
					break
				}
				m[w] = build(w)
			}
			value = []any{m, build(key), []any{}, map[string]any{}}
			if i%2 == 1 {
				value = m
			}
		}
		same(t, map[string]any{key: value, "spec": map[string]any{"rules": []any{map[string]any{"expr": string(data), "labels": map[string]any{key: string(data)}}}}})
	})
}
