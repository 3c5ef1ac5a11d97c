package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/progress"
)

// ApplyFile is the apply's result, written into the plan's directory; ApplyComment
// is its pull request comment when the apply failed or was refused.
const (
	ApplyFile    = "apply.json"
	ApplyComment = "apply.md"
)

// ApplyOptions say which plan to apply.
type ApplyOptions struct {
	Repo, Root string
	// PlanDir is kube infra plan's output directory (CI's artifact).
	PlanDir string
	Tool    string
	// LockTimeout is how long to wait for the state's lock (tofu's -lock-timeout).
	LockTimeout string
	LogURL      string
	Progress    *progress.Reporter
	// Lock reaches the pull request locks: the merged pull request's is
	// released once the apply ran, whatever its outcome.
	Lock LockOptions
}

// ApplyResult is kube infra apply's outcome.
type ApplyResult struct {
	Root   string `json:"root"`
	Commit string `json:"commit"`
	// Refused says why the plan was not applied (it does not match what is
	// merged, or was made by another tool); nothing ran.
	Refused string `json:"refused,omitempty"`
	Applied bool   `json:"applied"`
	// Error is why the apply failed, credentials hidden.
	Error string `json:"error,omitempty"`
	// Unlocked: the merged pull request's lock of the root was released
	// (lock: pull-request).
	Unlocked bool `json:"unlocked,omitempty"`
}

// Apply applies a plan after checking that it is what was reviewed and is
// still what is merged: the same root, the same trees of the root and its
// local modules at HEAD, the same tool version and lock file, the plan file
// unchanged. OpenTofu itself then refuses a plan whose state moved on. A
// refusal or a failed apply is an ApplyResult, written with its comment into
// the plan's directory; errors are bad input.
func Apply(ctx context.Context, o ApplyOptions) (*ApplyResult, error) {
	c, root, err := loadRoot(o.Repo, o.Root)
	if err != nil {
		return nil, err
	}
	md, err := readMetadata(o.PlanDir)
	if err != nil {
		return nil, err
	}
	if md.Root != root {
		return nil, exitstatus.Input(fmt.Errorf("%s holds the plan of %s, not of %s", o.PlanDir, md.Root, root))
	}
	t, err := findTool(ctx, c, o.Tool)
	if err != nil {
		return nil, err
	}
	src, err := sourceOf(ctx, o.Repo, root)
	if err != nil {
		return nil, err
	}
	lock, err := o.Lock.prLock(c)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	r := &ApplyResult{Root: root, Commit: src.Commit}
	finish := func() (*ApplyResult, error) {
		if lock != nil && o.Lock.PR > 0 {
			// The pull request is merged: its lock has done its work, and a
			// failed apply's follow-up must be able to plan.
			released, err := lock.Release(context.WithoutCancel(ctx), root, o.Lock.PR)
			r.Unlocked = released
			if err != nil {
				err = fmt.Errorf("releasing the lock of %s (it expires by itself): %w", root, err)
			}
			return r, errors.Join(writeApplyResult(o, r), err)
		}
		return r, writeApplyResult(o, r)
	}
	// Absolute: OpenTofu runs in the root's directory.
	planFile, err := filepath.Abs(filepath.Join(o.PlanDir, PlanFile))
	if err != nil {
		return nil, err
	}
	if r.Refused = stale(md, t, src, planFile); r.Refused != "" {
		return finish()
	}
	scrub := newScrubber()
	tf := t.at(filepath.Join(o.Repo, filepath.FromSlash(root)))
	err = o.Progress.Step(fmt.Sprintf("%s init and apply in %s", c.Tool, root), func() error {
		if err := tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
			return err
		}
		lockFile, err := lockFileSHA256(o.Repo, root)
		if err != nil {
			return err
		}
		if lockFile != md.LockFileSHA256 {
			r.Refused = "the dependency lock file after init is not the one the plan was made with: commit .terraform.lock.hcl and plan again"
			return nil
		}
		opts := []tfexec.ApplyOption{tfexec.DirOrPlan(planFile)}
		if o.LockTimeout != "" {
			opts = append(opts, tfexec.LockTimeout(o.LockTimeout))
		}
		return tf.Apply(ctx, opts...)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.Error = cut(scrub(err.Error()), 20000)
		return finish()
	}
	r.Applied = r.Refused == ""
	return finish()
}

// stale says why a plan no longer matches what is merged ("" if it does).
func stale(md *Metadata, t tool, src source, planFile string) string {
	if md.Dirty {
		return "the plan was made from uncommitted files: plan a committed tree"
	}
	if md.Tool != t.name || md.ToolVersion != t.version {
		return fmt.Sprintf("the plan was made with %s %s, this is %s %s", md.Tool, md.ToolVersion, t.name, t.version)
	}
	if !maps.Equal(md.Trees, src.Trees) {
		var changed []string
		for d := range src.Trees {
			if md.Trees[d] != src.Trees[d] {
				changed = append(changed, d)
			}
		}
		for d := range md.Trees {
			if _, ok := src.Trees[d]; !ok {
				changed = append(changed, d)
			}
		}
		slices.Sort(changed)
		return fmt.Sprintf("%s changed between the plan (%s) and %s: plan again", strings.Join(changed, ", "), short(md.Commit), short(src.Commit))
	}
	sum, err := fileSHA256(planFile)
	if err != nil {
		return fmt.Sprintf("no plan file in the plan's directory: %v", err)
	}
	if sum != md.PlanSHA256 {
		return "the plan file is not the one that was reviewed (its checksum differs from the metadata's)"
	}
	return ""
}

func readMetadata(dir string) (*Metadata, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, SummaryFile)); serr == nil {
			return nil, exitstatus.Input(fmt.Errorf("%s has no %s: its plan failed or broke a rule (see %s), so there is nothing to apply", dir, MetadataFile, SummaryFile))
		}
		return nil, exitstatus.Input(fmt.Errorf("%s is not the output of kube infra plan: it has no %s", dir, MetadataFile))
	}
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	var md Metadata
	if err := json.Unmarshal(data, &md); err != nil || md.Root == "" || md.PlanSHA256 == "" || len(md.Trees) == 0 {
		return nil, exitstatus.Input(fmt.Errorf("%s: not the metadata of a plan", filepath.Join(dir, MetadataFile)))
	}
	return &md, nil
}

func writeApplyResult(o ApplyOptions, r *ApplyResult) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.PlanDir, ApplyFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.PlanDir, ApplyComment), []byte(applyComment(r, o.LogURL)), 0o644)
}

// cut keeps the first n characters of text.
func cut(text string, n int) string {
	if r := []rune(text); len(r) > n {
		return string(r[:n]) + "\n… (cut)"
	}
	return text
}
