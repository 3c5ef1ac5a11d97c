package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/testsupport"
)

const exampleCatalogRepo = "../../examples/kube-platform"

// kube catalog answers the catalog's questions from kube's own catalog, for
// people and (-o json) for scripts.
func TestCatalogCommands(t *testing.T) {
	isolate(t)
	repo := []string{"-C", exampleCatalogRepo}

	code, out, errOut := run(t, append([]string{"catalog"}, repo...)...)
	if code != 0 || !regexp.MustCompile("(?m)^observability\tplatform-sre\tservicex\tlibrary\tactive\tplatform-devex$").MatchString(out) ||
		!strings.Contains(errOut, "13 domain(s), 16 component(s)") {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = run(t, append([]string{"catalog", "show", "kubefork"}, repo...)...)
	if code != 0 || !strings.Contains(out, "Owner:       platform-devex") || !strings.Contains(out, "Depends on:\n  - kube-controller\n  - servicex") {
		t.Errorf("show component: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, append([]string{"catalog", "show", "compute", "-o", "json"}, repo...)...)
	var d catalogDomain
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Owner != "platform-infra" || len(d.Components) != 7 {
		t.Errorf("show domain -o json: exit %d, %v: %s", code, err, out)
	}
	if code, _, errOut = run(t, append([]string{"catalog", "show", "nope"}, repo...)...); code != exitUsage || !strings.Contains(errOut, `no domain or component "nope"`) {
		t.Errorf("show unknown: exit %d, %s", code, errOut)
	}

	// The example's helm-releases is deprecated; pinning its add-on makes it a gap.
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(exampleCatalogRepo)); err != nil {
		t.Fatal(err)
	}
	comp := filepath.Join(work, "platform/components/helm-releases.yaml")
	data, err := os.ReadFile(comp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(comp, append(data, "addon: hand-installed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	testsupport.WriteFile(t, filepath.Join(work, "clusters/prod/addons.yaml"), "releases:\n- name: hand-installed\n  namespace: x\n  chart: ./manifests\n")
	testsupport.WriteFile(t, filepath.Join(work, "manifests/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	code, out, _ = run(t, "catalog", "gaps", "-C", work)
	if code != exitFailure || !strings.Contains(out, "domain messaging has no active component") ||
		!strings.Contains(out, "deprecated component helm-releases is still in use; move to addons\n  used by add-on hand-installed at "+filepath.Join(work, "clusters/prod/addons.yaml")+":2:3") {
		t.Errorf("gaps: exit %d\n%s", code, out)
	}

	code, out, _ = run(t, append([]string{"catalog", "export", "labels"}, repo...)...)
	if code != 0 || !strings.Contains(out, "name: 'domain: CI/CD'") {
		t.Errorf("export labels: exit %d\n%s", code, out)
	}
	if code, _, errOut = run(t, append([]string{"catalog", "export", "csv"}, repo...)...); code != exitUsage {
		t.Errorf("export csv: exit %d, %s", code, errOut)
	}
	code, out, _ = run(t, "catalog", "schema", "component")
	if code != 0 || !strings.Contains(out, `"enum": [`) {
		t.Errorf("schema: exit %d\n%s", code, out)
	}

	// A bad file is reported at file:line:column, and nothing else is printed.
	if err := os.WriteFile(comp, []byte("name: helm-releases\nkind: tool\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "catalog", "-C", work)
	if code != exitFailure || out != "" || !strings.Contains(errOut, filepath.Join(work, "platform/components/helm-releases.yaml")+":1:1:") {
		t.Errorf("bad file: exit %d\n%s%s", code, out, errOut)
	}
}
