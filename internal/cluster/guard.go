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

	"github.com/kube-idp/kube/internal/contract"
)

// Action describes a mutating command, for the guard's who/what/where line.
type Action struct {
	What string // e.g. "deploy billing", "kubectl delete pod x"
	Dir  string // the working tree whose git state the rules check ("" = cwd)
	// NotFromTree: what the command changes does not come from a working tree
	// (a rollback to a recorded revision, scale, run, exec, forks), so the rules
	// about the tree (branches, cleanTree) do not apply; confirmation still does.
	NotFromTree bool
	// TerminalOnly: the command has no --yes (kube kubectl), so only a person
	// on a terminal can confirm it.
	TerminalOnly bool
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
	st := treeState{}
	if !a.NotFromTree {
		st = gitState(a.Dir)
		fmt.Fprintf(gio.ErrOut, "Protected cluster %s: %s will %s (branch %s).\n", t.Name, contract.Who(), a.What, orUnknown(st.branch))
	} else {
		fmt.Fprintf(gio.ErrOut, "Protected cluster %s: %s will %s.\n", t.Name, contract.Who(), a.What)
	}
	if r := t.Entry.Rules; r != nil && (len(r.Branches) > 0 || r.CleanTree) && !a.NotFromTree {
		// A rule holds only if it can be proven: a directory outside any git
		// repository (or git missing) proves neither a branch nor a clean tree.
		if st.err != nil {
			return fmt.Errorf("cluster %s only accepts changes from a git working tree it can check (%s), and %s is not one: %v", t.Name, r.describe(), orDot(a.Dir), st.err)
		}
		if len(r.Branches) > 0 && !slices.Contains(r.Branches, st.branch) {
			return fmt.Errorf("cluster %s only accepts changes from branch %s; this working tree is on %s", t.Name, strings.Join(r.Branches, " or "), orUnknown(st.branch))
		}
		if r.CleanTree && st.dirty != "" {
			return fmt.Errorf("cluster %s only accepts changes from a clean working tree, and it has %s: commit (or remove) them first", t.Name, st.dirty)
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
		if a.TerminalOnly {
			return fmt.Errorf("cluster %s is protected and there is no terminal to confirm on: %s has no --yes, only a person typing the cluster's name confirms it (in CI, change the cluster through kube deploy)", t.Name, a.What)
		}
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

func orDot(dir string) string {
	if dir == "" {
		return "the current directory"
	}
	return dir
}

func (r *Rules) describe() string {
	var parts []string
	if len(r.Branches) > 0 {
		parts = append(parts, "branch "+strings.Join(r.Branches, " or "))
	}
	if r.CleanTree {
		parts = append(parts, "a clean tree")
	}
	return strings.Join(parts, ", ")
}

// treeState is what the guard knows of a working tree.
type treeState struct {
	branch string
	// dirty says what is not committed ("" when clean).
	dirty string
	// err is why the state could not be read (not a repository, no git).
	err error
}

// gitState reads the branch of the working tree holding dir, and whether the
// tree is clean: no uncommitted change anywhere in it, and, when dir names the
// manifests, no file in it that git ignores (those were never reviewed).
func gitState(dir string) treeState {
	git := func(a ...string) (string, error) {
		if dir != "" {
			a = append([]string{"-C", dir}, a...)
		}
		out, err := exec.Command("git", a...).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return strings.TrimSpace(string(out)), err
	}
	branch, err := git("rev-parse", "--abbrev-ref", "HEAD")
	if err != nil {
		return treeState{err: err}
	}
	st := treeState{branch: branch}
	changes, err := git("status", "--porcelain")
	if err != nil {
		return treeState{branch: branch, err: err}
	}
	if changes != "" {
		st.dirty = fmt.Sprintf("%d uncommitted changes", len(strings.Split(changes, "\n")))
		return st
	}
	if dir == "" {
		return st
	}
	ignored, err := git("status", "--porcelain", "--ignored", "--untracked-files=all", "--", ".")
	if err != nil {
		return treeState{branch: branch, err: err}
	}
	if ignored != "" {
		first, _, _ := strings.Cut(ignored, "\n")
		st.dirty = "files that git ignores, such as " + strings.TrimPrefix(first, "!! ")
	}
	return st
}
