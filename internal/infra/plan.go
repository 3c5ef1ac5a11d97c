package infra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/progress"
)

// The files kube infra plan writes into its output directory; CI keeps the
// directory as the plan job's artifact and hands it to kube infra apply.
const (
	PlanFile     = "plan.tfplan"   // the saved plan, applied as it is
	PlanJSON     = "plan.json"     // tofu show -json of it
	PlanText     = "plan.txt"      // tofu show of it, credentials hidden
	SummaryFile  = "summary.json"  // the verdict: changes, tags, approval
	CommentFile  = "comment.md"    // the pull request comment
	MetadataFile = "metadata.json" // what the plan was made from; apply checks it
)

// Plan statuses.
const (
	StatusChanges   = "changes"
	StatusNoChanges = "no-changes"
	StatusFailed    = "failed" // tofu init or plan failed: nothing to apply
	StatusLocked    = "locked" // another pull request holds the root (lock: pull-request)
)

// PlanOptions say which root to plan and where to write.
type PlanOptions struct {
	Repo, Root string
	// Out is the directory the files go to; it is replaced as a whole.
	Out string
	// Tool is the program's path; empty: the config's tool on PATH.
	Tool string
	// Labels are the pull request's, for the approval rule.
	Labels []string
	// Catalog is the platform catalog (a platform repository's platform/)
	// whose teams the config's teamTag must name.
	Catalog string
	// PoliciesFrom is the git ref the Rego policies are read from (the branch
	// the pull request goes to); "" reads them from the working tree.
	PoliciesFrom string
	// LogURL is where CI shows the whole run (the comment links it when it
	// has to cut the plan).
	LogURL   string
	Progress *progress.Reporter
	// Lock reaches the pull request locks (kube-infra.yaml's lock: pull-request).
	Lock LockOptions
}

// Changes lists a plan's resource changes by kind.
type Changes struct {
	Create  []string `json:"create"`
	Update  []string `json:"update"`
	Delete  []string `json:"delete"`
	Replace []string `json:"replace"`
}

// ApprovalReport is the approval rule's verdict.
type ApprovalReport struct {
	// Needed are the deletes and replaces of the config's approval types.
	Needed   []string `json:"needed"`
	Label    string   `json:"label"`
	Approved bool     `json:"approved"`
}

// Summary is kube infra plan's verdict on a root, summary.json.
type Summary struct {
	Root     string         `json:"root"`
	Commit   string         `json:"commit"`
	Status   string         `json:"status"`
	Changes  Changes        `json:"changes"`
	Tags     TagReport      `json:"tags"`
	Policies PolicyReport   `json:"policies"`
	Approval ApprovalReport `json:"approval"`
	// Error is why the plan failed, credentials hidden.
	Error string `json:"error,omitempty"`
	// Failed: the plan failed, or it breaks a rule. Only a plan that did not
	// fail gets a metadata file, so only it can be applied.
	Failed bool `json:"failed"`
	// Dir is where the files are.
	Dir string `json:"dir"`
}

// Metadata is what a plan was made from. kube infra apply refuses a plan
// whose metadata does not match the merged tree, the tool or the plan file.
type Metadata struct {
	Root   string `json:"root"`
	Commit string `json:"commit"`
	// Trees are the git tree ids of the root and of every local module it
	// uses, by directory.
	Trees       map[string]string `json:"trees"`
	Tool        string            `json:"tool"`
	ToolVersion string            `json:"toolVersion"`
	// LockFileSHA256 is the root's .terraform.lock.hcl's ("" without one).
	LockFileSHA256 string `json:"lockFileSHA256"`
	PlanSHA256     string `json:"planSHA256"`
	// Dirty: the root or a module had uncommitted changes; apply refuses it.
	Dirty bool `json:"dirty,omitempty"`
}

// Plan runs init and plan on a root and writes the plan, its JSON and text,
// the summary, the comment and (when the plan did not fail) the metadata
// into o.Out. A plan that fails, or breaks a rule, is a Summary with Failed,
// not an error; errors are bad input (exit 2) or trouble writing.
func Plan(ctx context.Context, o PlanOptions) (*Summary, error) {
	c, root, err := loadRoot(o.Repo, o.Root)
	if err != nil {
		return nil, err
	}
	tool, err := findTool(ctx, c, o.Tool)
	if err != nil {
		return nil, err
	}
	src, err := sourceOf(ctx, o.Repo, root)
	if err != nil {
		return nil, err
	}
	policies, err := LoadPolicies(ctx, c, o.Repo, o.PoliciesFrom)
	if err != nil {
		return nil, err
	}
	teams, err := LoadTeams(c, o.Catalog)
	if err != nil {
		return nil, err
	}
	lock, err := o.Lock.prLock(c)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	if lock != nil && o.Lock.PR <= 0 {
		return nil, exitstatus.Input(fmt.Errorf("%s says lock: pull-request: name the pull request with --pr", c.Path))
	}
	out, err := newOutDir(o.Out)
	if err != nil {
		return nil, err
	}
	defer out.discard()
	s := &Summary{Root: root, Commit: src.Commit, Changes: emptyChanges(), Tags: TagReport{Problems: []TagProblem{}},
		Policies: PolicyReport{Policies: []string{}, Deny: []PolicyMessage{}, Warn: []PolicyMessage{}},
		Approval: ApprovalReport{Needed: []string{}, Label: c.Approval.Label}, Dir: o.Out}
	scrub := newScrubber()
	if lock != nil {
		var held *LockedError
		if err := lock.Acquire(ctx, root, o.Lock.PR, src.Commit); errors.As(err, &held) {
			s.Status, s.Failed, s.Error = StatusLocked, true, held.Error()
			return s, out.finish(o, s, "", nil)
		} else if err != nil {
			return nil, err
		}
	}
	tf := tool.at(filepath.Join(o.Repo, filepath.FromSlash(root)))
	var plan *tfjson.Plan
	var text string
	err = o.Progress.Step(fmt.Sprintf("%s init and plan in %s", c.Tool, root), func() error {
		if err := tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
			return err
		}
		var err error
		if src.LockFileSHA256, err = lockFileSHA256(o.Repo, root); err != nil {
			return err
		}
		if _, err := tf.Plan(ctx, tfexec.Out(out.path(PlanFile))); err != nil {
			return err
		}
		if plan, err = tf.ShowPlanFile(ctx, out.path(PlanFile)); err != nil {
			return err
		}
		text, err = tf.ShowPlanFileRaw(ctx, out.path(PlanFile))
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.Status, s.Failed, s.Error = StatusFailed, true, cut(scrub(err.Error()), 20000)
		os.Remove(out.path(PlanFile))
		return s, out.finish(o, s, "", nil)
	}
	schemas, err := tf.ProvidersSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s providers schema: %s", c.Tool, scrub(err.Error()))
	}
	s.Changes = changesOf(plan)
	s.Status = StatusNoChanges
	if len(s.Changes.Create)+len(s.Changes.Update)+len(s.Changes.Delete)+len(s.Changes.Replace) > 0 {
		s.Status = StatusChanges
	}
	s.Tags = CheckTags(c, plan, schemas, teams)
	s.Approval = approval(c, plan, o.Labels)
	planJSON, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	if s.Policies, err = CheckPolicies(ctx, policies, planJSON); err != nil {
		return nil, err
	}
	for i := range s.Policies.Deny {
		s.Policies.Deny[i].Message = scrub(s.Policies.Deny[i].Message)
	}
	for i := range s.Policies.Warn {
		s.Policies.Warn[i].Message = scrub(s.Policies.Warn[i].Message)
	}
	s.Failed = s.Tags.Failed || s.Policies.Failed || (len(s.Approval.Needed) > 0 && !s.Approval.Approved)
	if err := out.write(PlanJSON, []byte(scrub(string(planJSON)))); err != nil {
		return nil, err
	}
	text = scrub(text)
	if err := out.write(PlanText, []byte(text)); err != nil {
		return nil, err
	}
	var md *Metadata
	if !s.Failed {
		sum, err := fileSHA256(out.path(PlanFile))
		if err != nil {
			return nil, err
		}
		md = &Metadata{Root: root, Commit: src.Commit, Trees: src.Trees, Tool: c.Tool, ToolVersion: tool.version,
			LockFileSHA256: src.LockFileSHA256, PlanSHA256: sum, Dirty: src.Dirty}
	} else {
		os.Remove(out.path(PlanFile)) // a plan that breaks a rule cannot be applied
	}
	return s, out.finish(o, s, text, md)
}

func emptyChanges() Changes {
	return Changes{Create: []string{}, Update: []string{}, Delete: []string{}, Replace: []string{}}
}

// changesOf sorts a plan's managed resource changes by kind.
func changesOf(plan *tfjson.Plan) Changes {
	ch := emptyChanges()
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			ch.Replace = append(ch.Replace, rc.Address)
		case a.Create():
			ch.Create = append(ch.Create, rc.Address)
		case a.Update():
			ch.Update = append(ch.Update, rc.Address)
		case a.Delete():
			ch.Delete = append(ch.Delete, rc.Address)
		}
	}
	return ch
}

// approval lists the deletes and replaces of the types the config guards,
// and whether the pull request carries the label that approves them.
func approval(c *Config, plan *tfjson.Plan, labels []string) ApprovalReport {
	r := ApprovalReport{Needed: []string{}, Label: c.Approval.Label}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil || !slices.Contains(c.Approval.Types, rc.Type) {
			continue
		}
		if a := rc.Change.Actions; a.Delete() || a.Replace() {
			r.Needed = append(r.Needed, rc.Address)
		}
	}
	slices.Sort(r.Needed)
	r.Approved = len(r.Needed) > 0 && slices.Contains(labels, c.Approval.Label)
	return r
}

// loadRoot reads the repository's config and checks that root (relative to
// the repository, slash-separated in the result) is a root.
func loadRoot(repo, root string) (*Config, string, error) {
	c, err := LoadConfig(repo)
	if err != nil {
		return nil, "", exitstatus.Input(err)
	}
	rel := path.Clean(filepath.ToSlash(root))
	if filepath.IsAbs(root) || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, "", exitstatus.Input(fmt.Errorf("%s: name a root by its path inside the repository (e.g. envs/prod/db)", root))
	}
	marker := filepath.Join(repo, filepath.FromSlash(rel), FileName)
	data, err := os.ReadFile(marker)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", exitstatus.Input(fmt.Errorf("%s is not a root: it has no %s (kube infra targets lists the roots a change touches)", rel, FileName))
	}
	if err != nil {
		return nil, "", exitstatus.Input(err)
	}
	if rel != "." {
		if _, err := CheckRoot(marker, data); err != nil {
			return nil, "", exitstatus.Input(err)
		}
	}
	return c, rel, nil
}

// tool is the pinned OpenTofu or Terraform, checked.
type tool struct {
	name, path, version string
}

func (t tool) at(dir string) *tfexec.Terraform {
	tf, _ := tfexec.NewTerraform(dir, t.path) // fails only on an empty dir or path
	// Interrupted, OpenTofu finishes the cloud calls in flight, writes the
	// state and releases its lock: however long that takes, it must not be
	// killed (terraform-exec would after a minute), or the lock stays held and
	// the state misses what was created.
	tf.SetWaitDelay(time.Hour)
	return tf
}

// findTool finds the config's tool and holds it to the pinned version.
func findTool(ctx context.Context, c *Config, explicit string) (tool, error) {
	p := explicit
	if p == "" {
		var err error
		if p, err = exec.LookPath(c.Tool); err != nil {
			return tool{}, exitstatus.Input(fmt.Errorf("%s not found on PATH: install %s %s (in GitHub Actions, opentofu/setup-opentofu with tofu_version: %s), or name it with --tool", c.Tool, c.Tool, c.Version, c.Version))
		}
	}
	tf, err := tfexec.NewTerraform(os.TempDir(), p)
	if err != nil {
		return tool{}, exitstatus.Input(fmt.Errorf("%s: %w", p, err))
	}
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return tool{}, exitstatus.Input(fmt.Errorf("%s version: %w", p, err))
	}
	if v.String() != c.Version {
		return tool{}, exitstatus.Input(fmt.Errorf("%s is %s %s, but %s pins %s: plans and applies must use the same version", p, c.Tool, v, c.Path, c.Version))
	}
	return tool{name: c.Tool, path: p, version: v.String()}, nil
}

// source is the commit a root is planned at.
type source struct {
	Commit         string
	Trees          map[string]string
	LockFileSHA256 string
	Dirty          bool
}

// sourceOf reads the tree ids of the root and its local modules at HEAD, and
// whether they have uncommitted changes.
func sourceOf(ctx context.Context, repo, root string) (source, error) {
	commit, err := git(ctx, repo, "", "rev-parse", "HEAD")
	if err != nil {
		return source{}, exitstatus.Input(fmt.Errorf("%s is not a git repository with a commit: %w", repo, err))
	}
	s := source{Commit: strings.TrimSpace(commit), Trees: map[string]string{}}
	head := &GitTree{Dir: repo, Rev: s.Commit}
	files, err := head.Files()
	if err != nil {
		return source{}, err
	}
	g, err := moduleGraph(files, head, []string{root})
	if err != nil {
		return source{}, exitstatus.Input(err)
	}
	dirs := []string{root}
	for m := range g.all[root] {
		dirs = append(dirs, m)
	}
	slices.Sort(dirs)
	var spec strings.Builder
	for _, d := range dirs {
		spec.WriteString(s.Commit + ":" + d + "\n")
	}
	out, err := git(ctx, repo, spec.String(), "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return source{}, err
	}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i >= len(dirs) || len(f) != 2 || f[1] != "tree" {
			return source{}, exitstatus.Input(fmt.Errorf("%s is not committed at %s: plan a committed tree", dirs[min(i, len(dirs)-1)], s.Commit))
		}
		s.Trees[dirs[i]] = f[0]
	}
	status, err := git(ctx, repo, "", append([]string{"status", "--porcelain", "--"}, dirs...)...)
	if err != nil {
		return source{}, err
	}
	s.Dirty = strings.TrimSpace(status) != ""
	return s, nil
}

// lockFileSHA256 is the root's dependency lock file's, after init ("" if none).
func lockFileSHA256(repo, root string) (string, error) {
	sum, err := fileSHA256(filepath.Join(repo, filepath.FromSlash(root), ".terraform.lock.hcl"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return sum, err
}

func fileSHA256(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
