package cluster

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

func TestKubectlCommand(t *testing.T) {
	for _, c := range []struct {
		args     []string
		command  string
		readOnly bool
	}{
		{[]string{"get", "pods"}, "get", true},
		{[]string{"-n", "billing", "get", "pods"}, "get", true},
		{[]string{"--namespace=billing", "describe", "pod", "x"}, "describe", true},
		{[]string{"get", "--raw", "/api"}, "get", true},
		{[]string{"auth", "can-i", "create", "pods"}, "auth can-i", true},
		{[]string{"auth", "whoami"}, "auth whoami", true},
		// The side door: auth reconcile creates RBAC.
		{[]string{"auth", "reconcile", "-f", "role.yaml"}, "auth reconcile", false},
		{[]string{"-n", "kube-system", "auth", "reconcile", "-f", "role.yaml"}, "auth reconcile", false},
		{[]string{"auth", "-f", "role.yaml", "reconcile"}, "auth reconcile", false},
		{[]string{"auth"}, "auth", false},
		{[]string{"rollout", "status", "deploy/x"}, "rollout status", true},
		{[]string{"rollout", "-n", "prod", "history", "deploy/x"}, "rollout history", true},
		{[]string{"rollout", "undo", "deploy/x"}, "rollout undo", false},
		{[]string{"rollout", "restart", "deploy/x"}, "rollout restart", false},
		{[]string{"top", "pod"}, "top pod", true},
		{[]string{"config", "view"}, "config view", true},
		{[]string{"config", "set-credentials", "x"}, "config set-credentials", false},
		{[]string{"apply", "view-last-applied", "deploy/x"}, "apply view-last-applied", true},
		{[]string{"apply", "-f", "x.yaml"}, "apply", false},
		{[]string{"apply", "set-last-applied", "-f", "x.yaml"}, "apply set-last-applied", false},
		{[]string{"delete", "pod", "x"}, "delete", false},
		{[]string{"plugin", "list"}, "plugin list", true},
		{[]string{"my-plugin", "get"}, "my-plugin", false},
		{[]string{"exec", "-it", "pod", "--", "sh"}, "exec", false},
		{[]string{"port-forward", "svc/db", "5432"}, "port-forward", false},
		// A long flag kube does not know may take the next word: guarded.
		{[]string{"--some-new-flag", "get", "pods"}, "get", false},
		{[]string{"--as=admin", "get", "pods"}, "get", true},
		{[]string{}, "", false},
		{[]string{"--", "get"}, "", false},
	} {
		cmd, _ := KubectlCommand(c.args)
		if cmd != c.command {
			t.Errorf("KubectlCommand(%q) = %q, want %q", c.args, cmd, c.command)
		}
		if got := KubectlIsReadOnly(c.args); got != c.readOnly {
			t.Errorf("KubectlIsReadOnly(%q) = %v, want %v", c.args, got, c.readOnly)
		}
	}
}

// Every command and sub-command of the pinned kubectl is classified, read-only
// or not, and kube's list of kubectl's global flags that take a value is
// kubectl's own: a new kubectl that adds either fails here first.
func TestKubectlCommandsAreClassified(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox's kubectl (built with the sandbox)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	comps, err := sandbox.EnsureComponents(ctx, &progress.Reporter{Out: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) string {
		cmd := exec.Command(comps.Bin("kubectl"), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+os.DevNull)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %v: %v", args, err)
		}
		return string(out)
	}
	commands := func(args ...string) []string {
		help := kubectl(append(args, "--help")...)
		var out []string
		in := false
		for _, line := range strings.Split(help, "\n") {
			switch {
			case line == "":
			case !strings.HasPrefix(line, " "):
				// A section header: "Basic Commands (Beginner):", "Available Commands:", "Usage:".
				in = strings.Contains(line, "Commands") && strings.HasSuffix(line, ":")
			case in:
				out = append(out, strings.Fields(line)[0])
			}
		}
		return out
	}
	verbs := commands()
	if len(verbs) < 40 {
		t.Fatalf("only %d kubectl commands found: %v", len(verbs), verbs)
	}
	for _, verb := range verbs {
		if !KubectlReadOnly[verb] && !KubectlMutating[verb] {
			t.Errorf("kubectl %s is not classified: add it to KubectlReadOnly or KubectlMutating", verb)
		}
		if !hasSubcommands(verb) {
			continue
		}
		for _, sub := range commands(verb) {
			if c := verb + " " + sub; !KubectlReadOnly[c] && !KubectlMutating[c] {
				t.Errorf("kubectl %s is not classified: add it to KubectlReadOnly or KubectlMutating", c)
			}
		}
	}
	// Every verb with sub-commands in kubectl has its sub-commands listed here.
	for _, verb := range verbs {
		if subs := commands(verb); len(subs) > 0 && !hasSubcommands(verb) && !KubectlMutating[verb] {
			t.Errorf("kubectl %s has sub-commands %v but kube reads it as one command", verb, subs)
		}
	}
	var valueFlags []string
	for _, line := range strings.Split(kubectl("options"), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-") || strings.HasSuffix(line, "=false:") || strings.HasSuffix(line, "=true:") {
			continue
		}
		names, _, _ := strings.Cut(line, "=")
		for _, n := range strings.Split(names, ", ") {
			valueFlags = append(valueFlags, n)
			if !kubectlGlobalValueFlags[n] {
				t.Errorf("kubectl's global flag %s takes a value: add it to kubectlGlobalValueFlags", n)
			}
		}
	}
	if len(valueFlags) < 20 {
		t.Fatalf("only %d global flags found in kubectl options", len(valueFlags))
	}
}
