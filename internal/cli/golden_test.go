package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of -o json under testdata/json")

// Every -o json that needs no cluster is a typed struct whose shape is held
// by a golden file: a change of a field is a change for every script reading it.
func TestJSONOutputGoldens(t *testing.T) {
	isolate(t)
	catalogRepo, _ := filepath.Abs(exampleCatalogRepo)
	goldens, _ := filepath.Abs(filepath.Join("testdata", "json"))
	dir := t.TempDir()
	repo := filepath.Join(dir, "shop")
	manifests := filepath.Join(repo, "kubernetes", "qa")
	_ = os.MkdirAll(manifests, 0o755)
	_ = os.WriteFile(filepath.Join(manifests, "hpa.yaml"), []byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: autoscaling/v2beta2\n  kind: HorizontalPodAutoscaler\n  metadata: {name: web, namespace: shop}\n"), 0o644)
	t.Chdir(dir)
	for name, args := range map[string][]string{
		"catalog":       {"catalog", "-C", catalogRepo, "-o", "json"},
		"catalog-show":  {"catalog", "show", "kubefork", "-C", catalogRepo, "-o", "json"},
		"catalog-gaps":  {"catalog", "gaps", "-C", catalogRepo, "-o", "json"},
		"upgrade-check": {"upgrade", "check", "--to", "1.26", "-o", "json", "shop"},
	} {
		code, out, errOut := run(t, args...)
		if code > 1 {
			t.Fatalf("%s: exit %d\n%s", name, code, errOut)
		}
		checkGolden(t, filepath.Join(goldens, name+".json"), "kube "+strings.Join(args, " "), out)
	}
}

// checkGolden compares out with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, what, out string) {
	t.Helper()
	if *update {
		_ = os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -run %s -update writes it)", err, t.Name())
	}
	if out != string(want) {
		t.Errorf("%s: the JSON differs from %s (-update rewrites it after a deliberate change):\n%s", what, golden, out)
	}
}
