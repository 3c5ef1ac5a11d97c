package generate

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outputRE is the only shape a generated file's path may have.
var outputRE = regexp.MustCompile(`^kubernetes/[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]+(-[a-z0-9.-]+)?\.yaml$`)

// fuzzRepo is a repository next to a victim, with links that lead out of it:
// kube generate must never read or write through them.
func fuzzRepo(t *testing.T, specText string) (repo, base string) {
	base = t.TempDir()
	repo = filepath.Join(base, "repo")
	for _, d := range []string{filepath.Join(repo, "config"), filepath.Join(base, "victim")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(base, "victim", "kubeconfig"):     victimContent,
		filepath.Join(repo, "config", "rates.json"):     "{\"eur\": 1}\n",
		filepath.Join(repo, "kube-generate.yaml"):       specText,
		filepath.Join(repo, "..passwd"):                 "local file\n",
		filepath.Join(base, "victim", "namespace.yaml"): victimContent,
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(repo, "config", "out"): filepath.Join(base, "victim", "kubeconfig"),
		filepath.Join(repo, "victim"):        filepath.Join(base, "victim"),
		filepath.Join(repo, "environ"):       "/proc/self/environ",
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return repo, base
}

// snapshot records every file outside repo/kubernetes/ with its content.
func snapshot(t *testing.T, base, repo string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if strings.HasPrefix(p, filepath.Join(repo, OutputDir)+string(filepath.Separator)) {
			return nil
		}
		data, _ := os.ReadFile(p)
		out[p] = string(data)
		return nil
	})
	return out
}

// kube generate as a whole, on any spec: every output path is
// kubernetes/<cluster>/<kind>-<name>.yaml, nothing outside kubernetes/ changes,
// and nothing read outside the repository shows up in a report or a manifest.
func FuzzGenerate(f *testing.F) {
	f.Add(renamedByPatch)
	f.Add("app: api\ngenerates:\n- configMap: {name: c, clusters: [sandbox], files: [config/out, victim/kubeconfig, environ, k=..passwd, config/rates.json]}\n")
	f.Add("app: api\ngenerates:\n- serviceAccount:\n    clusters: [sandbox]\n    patches:\n    - kind: ServiceAccount\n      json: [{op: replace, path: /kind, value: Namespace}, {op: replace, path: /metadata/name, value: ../../victim}]\n")
	f.Add("app: api\nclusters: [sandbox, qa]\ngenerates:\n- namespace: {clusters: [sandbox, qa]}\n- web: {clusters: [qa], image: r/api, tag: '1', patches: [{kind: Service, merge: {metadata: {name: ../x}}}]}\n")
	data, _ := os.ReadFile("../../examples/billing/kube-generate.yaml")
	f.Add(string(data))
	// The alert part: rules, per-cluster values and unit tests run in-process.
	data, _ = os.ReadFile("testdata/generators/alerts/kube-generate.yaml")
	f.Add(string(data))
	data, _ = os.ReadFile("../spec/testdata/errors/alerts.yaml")
	f.Add(string(data))
	// The SLO part: objectives as exact decimals, SLIs, custom PromQL.
	data, _ = os.ReadFile("testdata/generators/slo/kube-generate.yaml")
	f.Add(string(data))
	data, _ = os.ReadFile("../spec/testdata/errors/slo.yaml")
	f.Add(string(data))
	f.Fuzz(func(t *testing.T, specText string) {
		repo, base := fuzzRepo(t, specText)
		before := snapshot(t, base, repo)
		before[filepath.Join(repo, "kube-generate.yaml")] = specText
		for _, update := range []bool{false, true} {
			r := Repo(repo, "", update)
			out, _ := json.Marshal(r)
			if strings.Contains(string(out)+r.Error, "VICTIM-3f9c") {
				t.Fatalf("the report shows a file outside the repository:\n%s", out)
			}
			for _, res := range r.Files {
				if !outputRE.MatchString(res.Path) {
					t.Fatalf("output path %q", res.Path)
				}
			}
		}
		after := snapshot(t, base, repo)
		for p, c := range before {
			if after[p] != c {
				t.Fatalf("%s changed", p)
			}
		}
		for p := range after {
			if _, ok := before[p]; !ok {
				t.Fatalf("%s was created outside kubernetes/", p)
			}
		}
		_ = filepath.WalkDir(filepath.Join(repo, OutputDir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(p)
				if strings.Contains(string(data), "VICTIM-3f9c") {
					t.Fatalf("%s holds a file from outside the repository", p)
				}
			}
			return nil
		})
	})
}

// Patches are arbitrary JSON from the spec: applying them must never panic, and
// whatever they produce either passes the object checks or is refused.
func FuzzPatches(f *testing.F) {
	f.Add(`[{"op": "replace", "path": "/metadata/name", "value": "x/../../y"}]`, `{}`)
	f.Add(`[{"op": "add", "path": "/spec/template/spec/containers/0/args", "value": ["--token=abcdefgh12345"]}]`, `{"spec": {"replicas": 3}}`)
	f.Add(`[{"op": "remove", "path": "/kind"}]`, `{"metadata": {"namespace": "../x"}}`)
	f.Add(`[{"op": "move", "from": "/spec", "path": "/metadata/name"}]`, `{"kind": null}`)
	f.Fuzz(func(t *testing.T, jsonOps, merge string) {
		var ops, m any
		if json.Unmarshal([]byte(jsonOps), &ops) != nil || json.Unmarshal([]byte(merge), &m) != nil {
			return
		}
		opsText, _ := json.Marshal(ops)
		mergeText, _ := json.Marshal(m)
		specText := "app: api\ngenerates:\n- web:\n    clusters: [sandbox]\n    image: r/api\n    tag: '1'\n    patches:\n" +
			"    - kind: Deployment\n      json: " + string(opsText) + "\n" +
			"    - kind: Service\n      merge: " + string(mergeText) + "\n"
		repo, _ := fuzzRepo(t, specText)
		r := Repo(repo, "", true)
		for _, res := range r.Files {
			if !outputRE.MatchString(res.Path) {
				t.Fatalf("output path %q", res.Path)
			}
		}
	})
}
