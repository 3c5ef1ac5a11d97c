package cluster

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func protected(rules *Rules) *Target {
	return &Target{Name: "prod", Entry: &Cluster{Name: "prod", Protected: true, Rules: rules}}
}

func TestGuardConfirmation(t *testing.T) {
	var out bytes.Buffer
	a := Action{What: "deploy billing"}
	cases := []struct {
		name  string
		ci    string
		gio   GuardIO
		check func(error) bool
	}{
		{"no terminal, no --yes", "", GuardIO{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "pass --yes with CI=true") }},
		{"--yes outside CI", "", GuardIO{Yes: true}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "only in CI") }},
		{"--yes in CI", "true", GuardIO{Yes: true}, func(err error) bool { return err == nil }},
		{"typed the name", "", GuardIO{InTTY: true, In: strings.NewReader("prod\n")}, func(err error) bool { return err == nil }},
		{"typed something else", "", GuardIO{InTTY: true, In: strings.NewReader("y\n")}, func(err error) bool { return errors.Is(err, ErrNotConfirmed) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			out.Reset()
			c.gio.ErrOut = &out
			err := protected(nil).Guard(a, c.gio)
			if !c.check(err) {
				t.Fatalf("Guard() = %v", err)
			}
			if !strings.Contains(out.String(), "Protected cluster prod:") || !strings.Contains(out.String(), "will deploy billing") {
				t.Errorf("who/what/where not printed: %q", out.String())
			}
		})
	}
	// kube kubectl has no --yes: its error does not tell CI to pass one.
	t.Setenv("CI", "true")
	err := protected(nil).Guard(Action{What: "run kubectl delete pod x", TerminalOnly: true}, GuardIO{ErrOut: &out})
	if err == nil || strings.Contains(err.Error(), "pass --yes") || !strings.Contains(err.Error(), "has no --yes") {
		t.Errorf("a command without --yes: %v", err)
	}
	// Unprotected clusters pass silently.
	out.Reset()
	if err := (&Target{Name: "qa", Entry: &Cluster{Name: "qa"}}).Guard(a, GuardIO{ErrOut: &out}); err != nil || out.Len() != 0 {
		t.Fatalf("unprotected: %v %q", err, out.String())
	}
}

func TestGuardRules(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required for this test")
	}
	t.Setenv("CI", "true")
	dir := t.TempDir()
	git := func(args ...string) {
		c := exec.Command("git", append([]string{"-C", dir}, args...)...)
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-q", "-m", "init")
	rules := &Rules{Branches: []string{"main"}, CleanTree: true}
	gio := GuardIO{Yes: true, ErrOut: &bytes.Buffer{}}
	if err := protected(rules).Guard(Action{What: "deploy", Dir: dir}, gio); err != nil {
		t.Fatalf("clean main: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := protected(rules).Guard(Action{What: "deploy", Dir: dir}, gio); err == nil || !strings.Contains(err.Error(), "clean working tree") {
		t.Fatalf("dirty tree: %v", err)
	}
	// Manifests in a directory git ignores were never reviewed.
	git("checkout", "-q", "f")
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("out/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".gitignore")
	git("commit", "-q", "-m", "ignore out")
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out", "deployment.yaml"), []byte("kind: Deployment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := protected(rules).Guard(Action{What: "deploy", Dir: filepath.Join(dir, "out")}, gio); err == nil || !strings.Contains(err.Error(), "files that git ignores, such as out/deployment.yaml") {
		t.Fatalf("ignored manifests: %v", err)
	}
	if err := protected(rules).Guard(Action{What: "deploy", Dir: dir}, gio); err == nil || !strings.Contains(err.Error(), "files that git ignores") {
		t.Fatalf("ignored manifests under the tree: %v", err)
	}
	git("checkout", "-q", "-b", "feature")
	if err := protected(rules).Guard(Action{What: "deploy", Dir: dir}, gio); err == nil || !strings.Contains(err.Error(), "only accepts changes from branch main; this working tree is on feature") {
		t.Fatalf("feature branch: %v", err)
	}
}

// The same manifests copied out of any repository cannot prove a clean tree: a
// cluster with rules refuses them (it used to count "not a repository" as clean).
func TestGuardRulesOutsideARepository(t *testing.T) {
	t.Setenv("CI", "true")
	dir := t.TempDir()
	gio := GuardIO{Yes: true, ErrOut: &bytes.Buffer{}}
	for _, rules := range []*Rules{{CleanTree: true}, {Branches: []string{"main"}}} {
		err := protected(rules).Guard(Action{What: "deploy", Dir: dir}, gio)
		if err == nil || !strings.Contains(err.Error(), "only accepts changes from a git working tree it can check") || !strings.Contains(err.Error(), dir+" is not one") {
			t.Errorf("rules %+v: Guard() = %v", rules, err)
		}
	}
	// Without rules, a protected cluster only asks for confirmation.
	if err := protected(nil).Guard(Action{What: "deploy", Dir: dir}, gio); err != nil {
		t.Errorf("no rules: %v", err)
	}
}
