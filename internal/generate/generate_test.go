package generate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden manifests under testdata/generators")

// Each generator's output is committed next to its spec; the test regenerates it
// and expects every file unchanged (go test -update rewrites them).
func TestGeneratorsGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/generators/*")
	if len(dirs) < 10 {
		t.Fatalf("only %d generator cases", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := Repo(dir, "", *update)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if *update {
				r = Repo(dir, "", false)
			}
			assertCurrent(t, r)
		})
	}
}

// The examples' committed manifests are what the templates produce today.
func TestExamplesAreCurrent(t *testing.T) {
	for _, dir := range []string{"../../examples/billing", "../../examples/storefront", "../../examples/orders"} {
		r := Repo(dir, "", false)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		assertCurrent(t, r)
		if len(r.Files) < 10 {
			t.Errorf("%s: only %d files", dir, len(r.Files))
		}
	}
}

func assertCurrent(t *testing.T, r *Report) {
	t.Helper()
	if len(r.Files) == 0 {
		t.Fatal("no files generated")
	}
	for _, f := range r.Files {
		if f.State != Unchanged {
			t.Errorf("%s: %s\n%s", f.Path, f.State, f.Diff)
		}
	}
}

// The seed's example writes exactly kubernetes/sandbox/namespace.yaml.
func TestSeedExample(t *testing.T) {
	f, err := ParseSpec("myapp/kube-generate.yaml", []byte("generates:\n- namespace:\n    clusters:\n    - sandbox\n"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(f, "myapp")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Path != "kubernetes/sandbox/namespace.yaml" {
		t.Fatalf("files = %+v", files)
	}
	if !bytes.Contains(files[0].Content, []byte("kind: Namespace\nmetadata:\n")) || !bytes.Contains(files[0].Content, []byte("  name: myapp\n")) {
		t.Errorf("namespace.yaml:\n%s", files[0].Content)
	}
}

// Output is byte-identical run after run (map order, time, machine do not leak in).
func TestGenerateIsDeterministic(t *testing.T) {
	f, err := LoadSpec("../../examples/billing/kube-generate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first, err := Generate(f, "../../examples/billing")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _ := Generate(f, "../../examples/billing")
		for j := range first {
			if !bytes.Equal(first[j].Content, again[j].Content) || first[j].Path != again[j].Path {
				t.Fatalf("run %d differs at %s", i, first[j].Path)
			}
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A hand edit fails the check with a diff of exactly that edit; --update repairs
// it, removes files no longer generated and leaves hand-written files alone.
func TestCheckCatchesHandEditsAndUpdateRepairs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "billing")
	copyTree(t, "../../examples/billing", dir)
	dep := filepath.Join(dir, "kubernetes/prod/deployment-worker.yaml")
	data, _ := os.ReadFile(dep)
	edited := strings.Replace(string(data), "replicas: 3", "replicas: 30", 1)
	if edited == string(data) {
		t.Fatal("fixture changed: no 'replicas: 3' in the worker")
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dep, edited)
	stale := filepath.Join(dir, "kubernetes/qa/deployment-old.yaml")
	write(stale, headerMarker+" from kube-generate.yaml; DO NOT EDIT.\nkind: Deployment\n")
	foreign := filepath.Join(dir, "kubernetes/qa/secret-sealed.yaml")
	write(foreign, "kind: SealedSecret\n")
	os.Remove(filepath.Join(dir, "kubernetes/sandbox/namespace.yaml"))

	r := Repo(dir, "", false)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	states := map[string]Result{}
	for _, f := range r.Files {
		states[f.Path] = f
	}
	got := states["kubernetes/prod/deployment-worker.yaml"]
	if got.State != Changed || !strings.Contains(got.Diff, "-  replicas: 30\n+  replicas: 3\n") ||
		!strings.Contains(got.Diff, "--- a/kubernetes/prod/deployment-worker.yaml (on disk)") {
		t.Errorf("hand edit: %s\n%s", got.State, got.Diff)
	}
	for p, want := range map[string]State{
		"kubernetes/qa/deployment-old.yaml":  Stale,
		"kubernetes/qa/secret-sealed.yaml":   Foreign,
		"kubernetes/sandbox/namespace.yaml":  Missing,
		"kubernetes/qa/service-billing.yaml": Unchanged,
	} {
		if states[p].State != want {
			t.Errorf("%s: %s, want %s", p, states[p].State, want)
		}
	}
	if r.OutOfDate() != 3 {
		t.Errorf("OutOfDate() = %d, want 3", r.OutOfDate())
	}

	if r := Repo(dir, "", true); r.Err != nil {
		t.Fatal(r.Err)
	}
	after := Repo(dir, "", false)
	if after.OutOfDate() != 0 {
		t.Errorf("still out of date after --update: %+v", after.Files)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale generated file was not removed")
	}
	if b, _ := os.ReadFile(foreign); string(b) != "kind: SealedSecret\n" {
		t.Error("hand-written file was touched")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "kubernetes/*/.*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// A spec with errors writes nothing.
func TestInvalidSpecWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, spec.FileName), []byte("generates:\n- web: {clusters: [qa]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Repo(dir, "", true)
	if r.Err == nil || !strings.Contains(r.Error, "missing required key") {
		t.Fatalf("Repo() = %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, OutputDir)); !os.IsNotExist(err) {
		t.Error("kubernetes/ was created for an invalid spec")
	}
}

func TestPatchThatMatchesNothingIsAnError(t *testing.T) {
	f, err := ParseSpec("a/kube-generate.yaml", []byte(`
generates:
- worker:
    name: w
    clusters: [qa]
    image: r/a
    tag: "1"
    patches:
    - kind: Service
      merge: {spec: {type: NodePort}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Generate(f, "a")
	if err == nil || !strings.Contains(err.Error(), "matches no object (Service)") || !strings.Contains(err.Error(), "a/kube-generate.yaml:3:3") {
		t.Fatalf("Generate() error = %v", err)
	}
}

// BenchmarkGenerateApp measures one app for three clusters (about 25 objects),
// from spec parsing to rendered bytes; bench/generate.sh measures whole fleets.
func BenchmarkGenerateApp(b *testing.B) {
	data, err := os.ReadFile("../../examples/billing/kube-generate.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseSpec("../../examples/billing/kube-generate.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Generate(f, "../../examples/billing"); err != nil {
			b.Fatal(err)
		}
	}
}
