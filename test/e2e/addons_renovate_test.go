package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

// renovateReport is the part of Renovate's `--report-type=file` output the
// test reads.
type renovateReport struct {
	Repositories map[string]struct {
		PackageFiles map[string][]struct {
			PackageFile string `json:"packageFile"`
			Deps        []struct {
				DepName      string `json:"depName"`
				CurrentValue string `json:"currentValue"`
				RegistryURL  string `json:"registryUrl"`
				SkipReason   string `json:"skipReason"`
				Updates      []struct {
					NewValue   string `json:"newValue"`
					UpdateType string `json:"updateType"`
				} `json:"updates"`
			} `json:"deps"`
		} `json:"packageFiles"`
	} `json:"repositories"`
}

// docsRenovateConfig is the renovate.json that docs/addons.md tells users to
// write, so that the test proves what the docs say.
func docsRenovateConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/addons.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### Renovate\n.*?```json\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/addons.md has no ```json block under ### Renovate")
	}
	return string(m[1])
}

// Renovate's own Helmfile manager, pointed at addons.yaml by the configuration
// in docs/addons.md, proposes the bumps of an add-on pinned in kube's file as
// written (values files, inline values, a directory add-on beside it), looking
// the versions up in a chart repository the test serves.
func TestAddonsRenovateProposesBumps(t *testing.T) {
	renovate, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "renovate")
	if err != nil {
		t.Fatal(err)
	}
	url, _ := chartRepo(t, "1.0.0", "1.1.0", "2.0.0")
	file := `repositories:
- name: charts
  url: ` + url + `
releases:
- name: demo
  namespace: demo
  chart: charts/demo
  version: 1.0.0
  values:
  - values/demo.yaml
  - replicas: 3
- name: current
  namespace: current
  chart: charts/demo
  version: 2.0.0
- name: quotas
  namespace: kube-system
  chart: ./addons/quotas
`
	work := platformRepo(t, map[string]string{
		"clusters/prod/addons.yaml":        file,
		"clusters/prod/values/demo.yaml":   "replicas: 2\n",
		"addons/quotas/resourcequota.yaml": "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: pods}\nspec: {hard: {pods: \"100\"}}\n",
		"renovate.json":                    docsRenovateConfig(t),
	})
	// kube reads the very file Renovate reads.
	if _, err := addons.Load(filepath.Join(work, "clusters/prod/addons.yaml"), work); err != nil {
		t.Fatalf("kube rejects the file: %v", err)
	}

	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(renovate, "--platform=local", "--dry-run=lookup", "--report-type=file", "--report-path="+report)
	cmd.Dir = work
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "RENOVATE_BASE_DIR="+filepath.Join(home, "base"),
		"RENOVATE_CACHE_DIR="+filepath.Join(home, "cache"), "LOG_LEVEL=info")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("renovate: %v\n%s", err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("renovate wrote no report: %v\n%s", err, out)
	}
	var r renovateReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	files := r.Repositories["local"].PackageFiles["helmfile"]
	if len(files) != 1 || files[0].PackageFile != "clusters/prod/addons.yaml" {
		t.Fatalf("Renovate's Helmfile manager did not read clusters/prod/addons.yaml: %s\n%s", data, out)
	}
	updates := map[string][]string{}
	for _, d := range files[0].Deps {
		var got []string
		for _, u := range d.Updates {
			got = append(got, u.NewValue+" "+u.UpdateType)
		}
		slices.Sort(got)
		updates[d.DepName+"@"+d.CurrentValue] = got
		if d.DepName == "demo" && d.RegistryURL != url {
			t.Errorf("demo was looked up in %q, not the file's repository %s", d.RegistryURL, url)
		}
	}
	if got := updates["demo@1.0.0"]; !slices.Equal(got, []string{"1.1.0 minor", "2.0.0 major"}) {
		t.Errorf("bumps proposed for demo 1.0.0: %q, want 1.1.0 (minor) and 2.0.0 (major)\n%s", got, data)
	}
	if got, ok := updates["demo@2.0.0"]; !ok || len(got) != 0 {
		t.Errorf("the release at the newest version: found %v, bumps %q; want found with none\n%s", ok, got, data)
	}
}
