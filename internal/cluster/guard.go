package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Action describes a mutating command, for the guard's who/what/where line.
type Action struct {
	What string // e.g. "deploy billing", "kubectl delete pod x"
	Dir  string // the working tree whose git state the rules check ("" = cwd)
}

// GuardIO is how the guard talks to the person (or CI).
type GuardIO struct {
	In     io.Reader
	ErrOut io.Writer
	InTTY  bool
	// Yes is --yes: on a protected cluster it counts only together with CI=true.
	Yes bool
}

// ErrNotConfirmed is returned when the person did not confirm.
var ErrNotConfirmed = errors.New("not confirmed; nothing was changed")

// Guard lets a mutating command through to a protected cluster only when the
// registry's rules (branch, clean tree) hold and someone confirmed it: by typing
// the cluster's name on a terminal, or with --yes under CI=true. It prints who,
// what and where before asking. Unprotected clusters pass at once.
func (t *Target) Guard(a Action, gio GuardIO) error {
	if !t.Protected() {
		return nil
	}
	branch, dirty := gitState(a.Dir)
	fmt.Fprintf(gio.ErrOut, "Protected cluster %s: %s will %s (branch %s).\n", t.Name, whoami(), a.What, orUnknown(branch))
	if r := t.Entry.Rules; r != nil {
		if len(r.Branches) > 0 && !slices.Contains(r.Branches, branch) {
			return fmt.Errorf("cluster %s only accepts changes from branch %s; this working tree is on %s", t.Name, strings.Join(r.Branches, " or "), orUnknown(branch))
		}
		if r.CleanTree && dirty {
			return fmt.Errorf("cluster %s only accepts changes from a clean working tree: commit or stash your changes first", t.Name)
		}
	}
	if gio.Yes {
		if os.Getenv("CI") == "true" {
			return nil
		}
		if !gio.InTTY {
			return fmt.Errorf("cluster %s is protected: --yes is accepted only in CI (CI=true); on a terminal, type the cluster's name to confirm", t.Name)
		}
	}
	if !gio.InTTY {
		return fmt.Errorf("cluster %s is protected and there is no terminal to confirm on: in CI pass --yes with CI=true", t.Name)
	}
	fmt.Fprintf(gio.ErrOut, "Type the cluster name (%s) to continue: ", t.Name)
	line, _ := bufio.NewReader(gio.In).ReadString('\n')
	if strings.TrimSpace(line) != t.Name {
		return ErrNotConfirmed
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown (not a git repository)"
	}
	return s
}

// gitState is the current branch and whether the tree has uncommitted changes.
func gitState(dir string) (branch string, dirty bool) {
	args := func(a ...string) []string {
		if dir != "" {
			return append([]string{"-C", dir}, a...)
		}
		return a
	}
	out, err := exec.Command("git", args("rev-parse", "--abbrev-ref", "HEAD")...).Output()
	if err != nil {
		return "", false
	}
	branch = strings.TrimSpace(string(out))
	st, err := exec.Command("git", args("status", "--porcelain")...).Output()
	return branch, err == nil && len(strings.TrimSpace(string(st))) > 0
}

// whoami names the person (git user.email, else $USER).
func whoami() string {
	if out, err := exec.Command("git", "config", "user.email").Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		return strings.TrimSpace(string(out))
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "someone"
}

// Who names the person running kube, for records such as revisions.
func Who() string { return whoami() }
