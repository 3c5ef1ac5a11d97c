package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/propose"
	"github.com/kube-idp/kube/internal/sandbox"
)

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// --propose's bad input is exit 2 with nothing on stdout; a dry run against a
// real repository says what it would push and open, and pushes nothing.
func TestGenerateProposeCommand(t *testing.T) {
	isolate(t)
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("GH_TOKEN", "")
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.txt")
	_ = os.WriteFile(fleet, []byte("https://github.com/acme/billing.git\nhttps://github.com/acme\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--propose", "https://github.com/acme/billing.git"}, "give --update --propose"},
		{[]string{"generate", "--update", "--propose"}, "--propose needs repositories"},
		{[]string{"generate", "--update", "--propose", "--repos", fleet}, "fleet.txt:2: https://github.com/acme: cannot tell the repository's owner and name"},
		{[]string{"generate", "--update", "--propose", "-j", "0", "x"}, "--parallel must be at least 1"},
		{[]string{"generate", "--update", "--propose", "https://github.com/acme/billing.git"}, "set $GITHUB_TOKEN"},
		{[]string{"generate", "--update", "--propose", "--dry-run", "-o", "xml", "https://github.com/acme/billing.git"}, "must be text, json or yaml"},
	} {
		code, out, errOut := run(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}

	bare := filepath.Join(dir, "acme", "billing.git")
	gitCmd(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	work := filepath.Join(dir, "billing")
	gitCmd(t, "", "init", "--quiet", "-b", "main", work)
	_ = os.WriteFile(filepath.Join(work, "kube-generate.yaml"), []byte("app: billing\nteam: payments\nclusters: [qa]\ngenerates:\n- namespace:\n    clusters: [qa]\n"), 0o644)
	gitCmd(t, work, "add", "--all")
	gitCmd(t, work, "commit", "--quiet", "-m", "spec")
	gitCmd(t, work, "remote", "add", "origin", "file://"+filepath.ToSlash(bare))
	gitCmd(t, work, "push", "--quiet", "origin", "main")

	// A local clone stands for its origin; the clone is not touched.
	code, out, errOut := run(t, "generate", "--update", "--propose", "--dry-run", "-o", "json", work)
	var results []propose.Result
	if code != 0 || json.Unmarshal([]byte(out), &results) != nil || len(results) != 1 || results[0].Status != propose.Proposed ||
		!strings.Contains(results[0].Detail, "dry run: would push kube-generate/templates-v") || results[0].Changes.Files() != 1 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "kubernetes")); err == nil {
		t.Error("the local clone was written to")
	}
	if err := exec.Command("git", "--git-dir", bare, "rev-parse", "--verify", "--quiet", "refs/heads/"+results[0].Branch).Run(); err == nil {
		t.Error("a dry run pushed")
	}
}

// The daily workflow kube ships for the platform repository passes actionlint,
// and its kube command line is one this kube accepts.
func TestFleetWorkflow(t *testing.T) {
	bin, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "actionlint")
	if err != nil {
		t.Fatal(err)
	}
	platform := filepath.Join("..", "..", "examples", "kube-platform")
	workflow := filepath.Join(platform, ".github", "workflows", "kube-generate-fleet.yaml")
	if out, err := exec.Command(bin, "-no-color", workflow).CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	line := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "kube generate ") {
			line = strings.TrimSpace(l)
		}
	}
	args := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(line, "kube "), `"$@"`, "--dry-run"))
	t.Chdir(platform)
	var got *GenerateOptions
	cmd := newGenerateCmd(&Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}}, func(_ context.Context, o *GenerateOptions) error { got = o; return nil })
	cmd.SetArgs(args[1:])
	if err := cmd.Execute(); err != nil || got == nil || !got.Propose || !got.DryRun || len(got.Repos) != 3 {
		t.Fatalf("%q: %v %+v", line, err, got)
	}
}
