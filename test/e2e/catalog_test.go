package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testsupport"
)

// github-label-sync itself reads kube catalog export labels: its loader, its validation
// and its plan for a repository that has a label of its own and an outdated
// domain label (plan.js in hack/tools/github-label-sync runs its code without
// calling GitHub).
func TestLabelsReadByGithubLabelSync(t *testing.T) {
	tool, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "github-label-sync")
	if err != nil {
		t.Fatal(err)
	}
	r := kubeIn(t, "../../examples/kube-platform", "catalog", "export", "labels")
	if r.code != 0 {
		t.Fatalf("kube catalog export labels: exit %d\n%s", r.code, r.stderr)
	}
	dir := t.TempDir()
	labels, current := filepath.Join(dir, "labels.yaml"), filepath.Join(dir, "current.json")
	testsupport.WriteFiles(t, dir, map[string]string{"labels.yaml": r.stdout, "current.json": `[
	 {"name": "bug", "color": "d73a4a", "description": "Something is not working"},
	 {"name": "domain: ci/cd", "color": "000000", "description": "old"}]`})
	out, err := exec.Command(tool, labels, current).Output()
	if err != nil {
		t.Fatalf("github-label-sync: %v\n%s", err, out)
	}
	var plan struct {
		Invalid []any
		Diff    []struct {
			Name, Type string
		}
	}
	if err := json.Unmarshal(out, &plan); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(plan.Invalid) > 0 {
		t.Fatalf("github-label-sync rejects labels: %s", out)
	}
	types := map[string]int{}
	for _, d := range plan.Diff {
		types[d.Type]++
		if d.Name == "bug" {
			t.Errorf("the repository's own label would be touched: %s", d.Type)
		}
	}
	if types["missing"] != 12 || types["changed"] != 1 || len(plan.Diff) != 13 {
		t.Errorf("plan: %v, want 12 domain labels to create and 1 to change\n%s", types, out)
	}
}
