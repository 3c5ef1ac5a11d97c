package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/spec"
)

// applyFlags are what deploy and rollback share: confirmation, field
// conflicts, waiting, the lock, pruning and diffs.
type applyFlags struct {
	Yes, ForceConflicts, DeleteCRDs, FullDiff bool
	Timeout, LockWait, LockLease              time.Duration
}

func (d *applyFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&d.Yes, "yes", "y", false, "apply without asking (required when not on a terminal; on a protected cluster only with CI=true)")
	cmd.Flags().BoolVar(&d.ForceConflicts, "force-conflicts", false, "take over fields owned by other field managers")
	cmd.Flags().DurationVar(&d.Timeout, "timeout", 5*time.Minute, "how long to wait until everything is ready (0: do not wait)")
	cmd.Flags().DurationVar(&d.LockWait, "lock-wait", 5*time.Minute, "how long to wait while another deploy of the app runs (0: fail at once, naming who deploys)")
	cmd.Flags().BoolVar(&d.DeleteCRDs, "delete-crds-and-namespaces", false, "also delete CRDs and Namespaces that left the manifests (deletes everything in them)")
	cmd.Flags().BoolVar(&d.FullDiff, "full-diff", false, "show long diffs whole")
	// How long a killed deploy blocks the next one; tests shorten it.
	cmd.Flags().DurationVar(&d.LockLease, "lock-lease", 30*time.Second, "duration of the deploy lock's lease")
	_ = cmd.Flags().MarkHidden("lock-lease")
}

// options are the engine's options for deploying objs of a; confirm is asked
// after the plan is shown.
func (d *applyFlags) options(io *IOStreams, a *app.App, objs []*unstructured.Unstructured, cause string, action cluster.Action, showPlan bool) deploy.Options {
	p := io.Progress()
	o := deploy.Options{
		App: a.Name, Namespace: a.Namespace, Objects: objs,
		ApplyOptions: deploy.ApplyOptions{ForceConflicts: d.ForceConflicts, DeleteCRDsAndNamespaces: d.DeleteCRDs, Progress: p},
		Timeout:      d.Timeout,
		FullDiffs:    d.FullDiff,
		Lock: deploy.LockOptions{Wait: d.LockWait, Duration: d.LockLease, Holder: contract.Who(), Waiting: func(holder string) {
			p.Printf("Waiting up to %s: %s is being deployed by %s.", d.LockWait, a.Name, holder)
		}},
		Confirm:  func(plan *deploy.Plan) (bool, error) { return d.confirm(io, a, plan, action) },
		Revision: deploy.RevisionInfo{User: contract.Who(), Commit: contract.GitCommit(a.Dir), Cause: cause},
	}
	if showPlan {
		o.ShowPlan = func(plan *deploy.Plan) { printPlan(io, plan, false) }
	}
	return o
}

// DeployOptions are kube deploy's.
type DeployOptions struct {
	appOptions
	applyFlags
	AllowEmpty bool
	// Images are --image NAME=REF overrides.
	Images []string
	Output string
	// OverrideBudget is why a deploy goes ahead although the error budget
	// policy freezes releases.
	OverrideBudget string
}

func newDeployCmd(f *Factory, runF func(context.Context, *DeployOptions) error) *cobra.Command {
	o := &DeployOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Apply the app's manifests, prune what it no longer has, wait until ready, record a revision",
		Long: `Deploy the app in one command: show what will change (a diff per object and the
objects that will be deleted), ask (or --yes), apply with server-side apply in
dependency order, delete the objects the app no longer has, record a revision for
kube rollback, and wait until everything is ready.

Nothing another app or person owns is touched: the objects an app owns are recorded
in an inventory (an ApplySet that kubectl understands), and only those are pruned.
CRDs and Namespaces that leave the manifests are kept (--delete-crds-and-namespaces
deletes them). Deploys of one app wait for each other (--lock-wait). When nothing
changed it says "no changes", records nothing, and still checks that the app is ready.`,
		Example: `  kube deploy -c qa
  kube deploy -c qa --image registry.example.com/billing=registry.example.com/billing:sha-1a2b3c --yes
  kube deploy -f manifests/ --app billing -c local
  kube deploy -f upstream/ -R --app argocd -n argocd -c qa`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDeploy(cmd.Context(), o)
		},
	}
	o.appOptions.register(cmd, "f")
	o.applyFlags.register(cmd)
	cmd.Flags().BoolVar(&o.AllowEmpty, "allow-empty", false, "allow deploying no objects (deletes everything the app has)")
	cmd.Flags().StringArrayVar(&o.Images, "image", nil, "override an image: NAME=REF, NAME being the image without tag (repeatable)")
	cmd.Flags().StringVar(&o.OverrideBudget, "override-budget", "", "deploy although the SLO policy freezes releases (a budget is spent); the reason is recorded in the revision")
	outputFlag(cmd, &o.Output)
	return cmd
}

// imageOverrides parses --image NAME=REF flags.
func imageOverrides(flags []string) (map[string]string, error) {
	overrides := map[string]string{}
	for _, f := range flags {
		name, ref, ok := strings.Cut(f, "=")
		if !ok || name == "" || ref == "" {
			return nil, usageError{fmt.Errorf("--image %q: use NAME=REF, e.g. registry.example.com/app=registry.example.com/app:v2", f)}
		}
		overrides[name] = ref
	}
	return overrides, nil
}

func runDeploy(ctx context.Context, o *DeployOptions) error {
	overrides, err := imageOverrides(o.Images)
	if err != nil {
		return err
	}
	a, c, err := o.resolve(app.NeedManifests)
	if err != nil {
		return err
	}
	// An app (a kube-generate.yaml) never lands in the platform's namespaces;
	// the platform's own manifests (config/install, add-ons) have no spec.
	if a.Spec != nil && a.Cluster.Entry.IsPlatformNamespace(a.Namespace) {
		return usageError{fmt.Errorf("namespace %s is the platform's on cluster %s (built in, or the registry's platformNamespaces): an app deploys into a namespace of its own; set namespace: in %s", a.Namespace, a.Cluster.Name, spec.FileName)}
	}
	if len(overrides) > 0 {
		if err := deploy.OverrideImages(a.Objects, overrides); err != nil {
			return usageError{err}
		}
	}
	cause, err := o.budgetPolicy(ctx, a, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Deploying %s to cluster %s (namespace %s) from %s\n", a.Name, a.Cluster.Name, a.Namespace, a.Dir)
	opts := o.options(o.IO, a, a.Objects, cause, cluster.Action{Dir: a.Dir}, o.Output == outputText)
	opts.AllowEmpty = o.AllowEmpty
	res, err := c.Deploy(ctx, opts)
	if res != nil {
		if _, jerr := o.IO.structured(o.Output, res); jerr != nil {
			return jerr
		}
	}
	return reportDeploy(o.IO, res, err)
}

func reportDeploy(io *IOStreams, res *deploy.Result, err error) error {
	if res != nil {
		switch {
		case res.Declined:
			fmt.Fprintln(io.ErrOut, "Nothing applied.")
		case res.Recorded && err == nil:
			fmt.Fprintf(io.ErrOut, "No changes; recorded what runs as revision %d.\n", res.Revision)
		case !res.Plan.HasChanges() && err == nil:
			fmt.Fprintln(io.ErrOut, "No changes; nothing to deploy.")
		case !res.Plan.HasChanges():
			fmt.Fprintln(io.ErrOut, "No changes to apply, but what runs is not ready.")
		case res.Revision > 0 && err == nil:
			fmt.Fprintf(io.ErrOut, "Deployed revision %d.\n", res.Revision)
		case res.Revision > 0:
			fmt.Fprintf(io.ErrOut, "Revision %d was applied but is not healthy; kube rollback returns to the previous one.\n", res.Revision)
		}
	}
	return err
}

func printPlan(io *IOStreams, p *deploy.Plan, allDiffs bool) {
	for _, ch := range p.Changes {
		if ch.Action == deploy.Unchanged {
			continue
		}
		fmt.Fprintf(io.Out, "%-9s %s\n", ch.Action, ch.ID.Short())
		if ch.Note != "" {
			fmt.Fprintf(io.Out, "          %s\n", ch.Note)
		}
		if ch.Diff != "" && (allDiffs || ch.Action == deploy.Update || ch.Action == deploy.Adopt) {
			fmt.Fprint(io.Out, io.Diff(indentLines(ch.Diff)))
		}
	}
	fmt.Fprintf(io.ErrOut, "Plan for %s: %s (%d objects unchanged).\n", p.App, deploy.Summary(p), p.Count()[deploy.Unchanged])
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// confirm lets a deploy proceed: through the production guard on a protected
// cluster, else by asking on a terminal or by --yes.
func (d *applyFlags) confirm(io *IOStreams, a *app.App, p *deploy.Plan, action cluster.Action) (bool, error) {
	if !a.Cluster.Protected() {
		return confirm(io, d.Yes, a)
	}
	action.What = fmt.Sprintf("%s %s (%s)", p.Cause, a.Name, deploy.Summary(p))
	err := io.guard(a.Cluster, d.Yes, action)
	if errors.Is(err, cluster.ErrNotConfirmed) {
		return false, nil
	}
	return err == nil, err
}

// confirm asks on a terminal; elsewhere it requires --yes.
func confirm(io *IOStreams, yes bool, a *app.App) (bool, error) {
	if yes {
		return true, nil
	}
	if !io.InTTY {
		return false, usageError{errors.New("not on a terminal, so kube cannot ask: pass --yes to apply")}
	}
	fmt.Fprintf(io.ErrOut, "Apply these changes to %s on cluster %s? [y/N] ", a.Name, a.Cluster.Name)
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes", nil
}

// DiffOptions are kube diff's.
type DiffOptions struct {
	appOptions
	FullDiff bool
	Output   string
}

func newDiffCmd(f *Factory, runF func(context.Context, *DiffOptions) error) *cobra.Command {
	o := &DiffOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what kube deploy would change (exit 0: nothing, 1: changes, 2: trouble)",
		Long: `Show what kube deploy would change: a unified diff per object computed by a
server-side dry-run (new objects too, so that the API server validates them), and
the objects that would be deleted or kept. Exit status as diff(1): 0 no changes, 1
changes, 2 trouble; CI can use it to gate or annotate. Secret values are never shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run := runDiff
			if runF != nil {
				run = runF
			}
			return run(cmd.Context(), o)
		},
	}
	o.appOptions.register(cmd, "f")
	outputFlag(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.FullDiff, "full-diff", false, "show long diffs whole")
	return cmd
}

// troubled ends kube diff with exit status 2, as diff(1) does.
func troubled(io *IOStreams, err error) error {
	fmt.Fprintf(io.ErrOut, "Error: %v\n", err)
	return exitCode(exitUsage)
}

func runDiff(ctx context.Context, o *DiffOptions) error {
	a, c, err := o.resolve(app.NeedManifests)
	if err != nil {
		return troubled(o.IO, err)
	}
	plan, err := c.MakePlan(ctx, deploy.PlanOptions{App: a.Name, Namespace: a.Namespace, Objects: a.Objects, Validate: true, FullDiffs: o.FullDiff})
	if err != nil {
		return troubled(o.IO, err)
	}
	if done, err := o.IO.structured(o.Output, plan); err != nil {
		return troubled(o.IO, err)
	} else if !done {
		printPlan(o.IO, plan, true)
	}
	if plan.HasChanges() {
		return exitCode(exitFailure)
	}
	return nil
}

// RollbackOptions are kube rollback's.
type RollbackOptions struct {
	appOptions
	applyFlags
	// Revision to return to; 0 is the one before the latest.
	Revision int
	Output   string
}

func newRollbackCmd(f *Factory, runF func(context.Context, *RollbackOptions) error) *cobra.Command {
	o := &RollbackOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Return to an earlier revision (default: the previous one), prune what it lacks, and wait",
		Long: `Return the app to an earlier revision recorded by kube deploy (default: the one
before the latest), with the same guarantees as a deploy: plan, confirmation,
prune, lock, readiness wait, and a new revision. It needs no checkout: during an
incident, kube rollback --app NAME -n NAMESPACE -c CLUSTER is enough. Secrets keep
their current values (revisions never store them; docs/deploy.md).`,
		Example: `  kube rollback -c qa
  kube rollback -c prod --app billing -n payments 41`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if _, err := fmt.Sscanf(args[0], "%d", &o.Revision); err != nil || o.Revision < 1 || fmt.Sprint(o.Revision) != args[0] {
					return usageError{fmt.Errorf("REVISION must be a revision number from kube history, not %q", args[0])}
				}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRollback(cmd.Context(), o)
		},
	}
	o.appOptions.register(cmd, "f")
	o.applyFlags.register(cmd)
	outputFlag(cmd, &o.Output)
	return cmd
}

// rollbackResult is what kube rollback -o json prints.
type rollbackResult struct {
	*deploy.Result
	RolledBackTo int `json:"rolledBackTo"`
}

func runRollback(ctx context.Context, o *RollbackOptions) error {
	a, c, err := o.resolve(app.NeedDeployed)
	if err != nil {
		return err
	}
	// What a rollback applies comes from a recorded revision, not from a tree.
	opts := o.options(o.IO, a, nil, "rollback", cluster.Action{NotFromTree: true}, o.Output == outputText)
	res, target, err := c.Rollback(ctx, opts, o.Revision)
	if res != nil {
		if _, jerr := o.IO.structured(o.Output, rollbackResult{Result: res, RolledBackTo: target}); jerr != nil {
			return jerr
		}
	}
	if err == nil && res != nil && !res.Declined {
		fmt.Fprintf(o.IO.ErrOut, "Rolled %s back to revision %d.\n", a.Name, target)
	}
	return reportDeploy(o.IO, res, err)
}
