package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

// The workflow kube ships for infrastructure repositories passes actionlint,
// and every kube command line in it is one this kube accepts.
func TestInfraWorkflow(t *testing.T) {
	bin, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "actionlint")
	if err != nil {
		t.Fatal(err)
	}
	workflow := filepath.Join("..", "..", "examples", "infra", ".github", "workflows", "kube-infra.yaml")
	if out, err := exec.Command(bin, "-no-color", workflow).CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`kube infra [a-z][^)\n]*`).FindAllString(string(data), -1)
	seen := map[string]bool{}
	vars := strings.NewReplacer(`"$BASE"`, "origin/main", `"$ROOT"`, "envs/prod/db", `"$LABELS"`, "a,b", `"$PR"`, "42", `"$RUNNER_TEMP/hooks.yaml"`, "hooks.yaml")
	for _, line := range lines {
		args := strings.Fields(vars.Replace(strings.TrimPrefix(line, "kube infra ")))
		var got *InfraOptions
		cmd := newInfraCmd(&Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}}, func(_ context.Context, o *InfraOptions) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err != nil || got == nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		seen[got.Action] = true
		if got.Action == "comment" && got.Comment.PR != 42 {
			t.Errorf("%q: %+v", line, got.Comment)
		}
	}
	for _, a := range []string{"targets", "plan", "apply", "comment", "follow-up", "replan"} {
		if !seen[a] {
			t.Errorf("the workflow never runs kube infra %s", a)
		}
	}
}
