package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/spec"
)

// appFlags are -f, --app, -n and -R, shared by deploy, diff, history and rollback.
type appFlags struct {
	dir, app, namespace string
	recursive           bool
}

func (a *appFlags) register(cmd *cobra.Command) { a.registerFlags(cmd, "f") }

// registerFlags registers -f with the given shorthand ("" for none: kube logs
// uses -f for --follow, as kubectl does).
func (a *appFlags) registerFlags(cmd *cobra.Command, short string) {
	cmd.Flags().StringVarP(&a.dir, "filename", short, "", "directory of manifests (default: kubernetes/<cluster>/ of the repository's "+spec.FileName+")")
	cmd.Flags().StringVar(&a.app, "app", "", "app name (default: app of "+spec.FileName+"; required with -f)")
	cmd.Flags().StringVarP(&a.namespace, "namespace", "n", "", "the app's namespace: its inventory and revisions, and objects without a namespace (default: the spec's, else the manifests')")
	cmd.Flags().BoolVarP(&a.recursive, "recursive", "R", false, "read the manifests in the subdirectories of -f too")
}

// target is the app and cluster a command works on.
type target struct {
	app, namespace, dir string
	recursive           bool
	cluster             *cluster.Target
	client              *deploy.Client
}

// resolve finds the cluster, the app and its manifests. Without -f it reads
// kube-generate.yaml in the working directory and uses kubernetes/<cluster>/;
// the local sandbox deploys the "sandbox" manifests.
func (a *appFlags) resolve(sel *cluster.Selection, needDir bool) (*target, error) {
	t := &target{app: a.app, dir: a.dir, namespace: a.namespace, recursive: a.recursive}
	ct, err := sel.Resolve()
	if err != nil {
		return nil, err
	}
	t.cluster = ct
	if t.dir == "" {
		f, err := spec.Load(spec.FileName)
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageError{fmt.Errorf("no %s here: run from the app's repository, or pass -f DIR --app NAME", spec.FileName)}
		}
		if err != nil {
			return nil, err
		}
		if t.app == "" {
			t.app = f.App
		}
		if t.namespace == "" {
			t.namespace = f.Namespace
		}
		name := ct.Name
		if _, err := os.Stat(filepath.Join(generate.OutputDir, name)); err != nil && name == cluster.Local {
			name = "sandbox"
		}
		t.dir = filepath.Join(generate.OutputDir, name)
	} else if t.app == "" {
		return nil, usageError{errors.New("--app is required with -f: it names the inventory that records what the app owns")}
	}
	if needDir {
		if st, err := os.Stat(t.dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("no manifests directory %s (for cluster %s): run kube generate --update, or pass -f DIR", t.dir, ct.Name)
		}
	}
	t.client, err = deploy.NewClient(ct.Config)
	return t, err
}

// resolveDeployed is resolve for commands about what is already deployed
// (status, history, rollback): the manifests are read only to find the namespace
// when the spec does not say it.
func (a *appFlags) resolveDeployed(sel *cluster.Selection) (*target, error) {
	t, err := a.resolve(sel, false)
	if err != nil {
		return nil, err
	}
	if t.namespace == "" {
		if _, err := t.objects(&IOStreams{ErrOut: io.Discard}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// objects loads the manifests and picks the inventory namespace; skipped
// subdirectories are named on stderr.
func (t *target) objects(streams *IOStreams) ([]*unstructured.Unstructured, error) {
	m, err := deploy.Load(t.dir, deploy.LoadOptions{Recursive: t.recursive})
	if err != nil {
		return nil, err
	}
	for _, d := range m.Skipped {
		fmt.Fprintf(streams.ErrOut, "note: %s is a subdirectory and was not read (-R reads subdirectories)\n", d)
	}
	if t.namespace == "" {
		t.namespace = namespaceOf(m.Objects)
	}
	return m.Objects, nil
}

// namespaceOf is the app's namespace: its only Namespace object, else the
// namespace most of its objects are in, else "default".
func namespaceOf(objs []*unstructured.Unstructured) string {
	var nsObjs []string
	count := map[string]int{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			nsObjs = append(nsObjs, o.GetName())
		}
		if ns := o.GetNamespace(); ns != "" {
			count[ns]++
		}
	}
	if len(nsObjs) == 1 {
		return nsObjs[0]
	}
	best, n := "default", 0
	for ns, c := range count {
		if c > n || (c == n && ns < best) {
			best, n = ns, c
		}
	}
	return best
}

func addDeployCmds(root *cobra.Command, streams *IOStreams, sel *cluster.Selection) {
	root.AddCommand(newDeployCmd(streams, sel), newDiffCmd(streams, sel), newStatusCmd(streams, sel),
		newHistoryCmd(streams, sel), newRollbackCmd(streams, sel), newRunCmd(streams, sel))
}

type deployFlags struct {
	yes, forceConflicts, allowEmpty, deleteCRDs, fullDiff bool
	timeout, lockWait, lockLease                          time.Duration
}

func (d *deployFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&d.yes, "yes", "y", false, "apply without asking (required when not on a terminal)")
	cmd.Flags().BoolVar(&d.forceConflicts, "force-conflicts", false, "take over fields owned by other field managers")
	cmd.Flags().DurationVar(&d.timeout, "timeout", 5*time.Minute, "how long to wait until everything is ready (0: do not wait)")
	cmd.Flags().DurationVar(&d.lockWait, "lock-wait", 5*time.Minute, "how long to wait while another deploy of the app runs (0: fail at once, naming who deploys)")
	cmd.Flags().BoolVar(&d.deleteCRDs, "delete-crds-and-namespaces", false, "also delete CRDs and Namespaces that left the manifests (deletes everything in them)")
	cmd.Flags().BoolVar(&d.fullDiff, "full-diff", false, "show long diffs whole")
	// How long a killed deploy blocks the next one; tests shorten it.
	cmd.Flags().DurationVar(&d.lockLease, "lock-lease", 30*time.Second, "duration of the deploy lock's lease")
	_ = cmd.Flags().MarkHidden("lock-lease")
}

func (d *deployFlags) options(streams *IOStreams, t *target, objs []*unstructured.Unstructured) deploy.Options {
	p := streams.Progress()
	return deploy.Options{
		App: t.app, Namespace: t.namespace, Objects: objs,
		ApplyOptions: deploy.ApplyOptions{ForceConflicts: d.forceConflicts, DeleteCRDsAndNamespaces: d.deleteCRDs, Progress: p},
		AllowEmpty:   d.allowEmpty,
		Timeout:      d.timeout,
		FullDiffs:    d.fullDiff,
		Lock: deploy.LockOptions{Wait: d.lockWait, Duration: d.lockLease, Holder: cluster.Who(), Waiting: func(holder string) {
			p.Printf("Waiting up to %s: %s is being deployed by %s.", d.lockWait, t.app, holder)
		}},
		ShowPlan: func(p *deploy.Plan) { printPlan(streams, p, false) },
		Confirm:  func(p *deploy.Plan) (bool, error) { return d.confirm(streams, t, p) },
		Revision: deploy.RevisionInfo{User: cluster.Who(), Commit: gitCommit(t.dir), Cause: "deploy"},
	}
}

func newDeployCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var d deployFlags
	var imageFlags []string
	var output string
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Apply the app's manifests, prune what it no longer has, wait until ready, record a revision",
		Long: `Deploy the app in one command: show what will change (a diff per object and the
objects that will be deleted), ask (or --yes), apply with server-side apply in
dependency order, delete the objects the app no longer has, wait until everything
is ready, and record a revision for kube rollback.

Nothing another app or person owns is touched: the objects an app owns are recorded
in an inventory (an ApplySet that kubectl understands), and only those are pruned.
When nothing changed, it says "no changes" and records nothing.`,
		Example: `  kube deploy -c qa
  kube deploy -c qa --image registry.example.com/billing=registry.example.com/billing:sha-1a2b3c --yes
  kube deploy -f manifests/ --app billing -c local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			t, err := a.resolve(sel, true)
			if err != nil {
				return err
			}
			objs, err := t.objects(streams)
			if err != nil {
				return err
			}
			if len(imageFlags) > 0 {
				overrides := map[string]string{}
				for _, f := range imageFlags {
					name, ref, ok := strings.Cut(f, "=")
					if !ok || name == "" || ref == "" {
						return usageError{fmt.Errorf("--image %q: use NAME=REF, e.g. registry.example.com/app=registry.example.com/app:v2", f)}
					}
					overrides[name] = ref
				}
				if err := deploy.OverrideImages(objs, overrides); err != nil {
					return usageError{err}
				}
			}
			fmt.Fprintf(streams.ErrOut, "Deploying %s to cluster %s (namespace %s) from %s\n", t.app, t.cluster.Name, t.namespace, t.dir)
			opts := d.options(streams, t, objs)
			if output == "json" {
				opts.ShowPlan = nil // the plan is in the JSON result
			}
			res, err := t.client.Deploy(cmd.Context(), opts)
			if output == "json" && res != nil {
				if jerr := writeJSON(streams.Out, res); jerr != nil {
					return jerr
				}
			}
			return reportDeploy(streams, res, err)
		},
	}
	a.register(cmd)
	d.register(cmd)
	cmd.Flags().BoolVar(&d.allowEmpty, "allow-empty", false, "allow deploying no objects (deletes everything the app has)")
	cmd.Flags().StringArrayVar(&imageFlags, "image", nil, "override an image: NAME=REF, NAME being the image without tag (repeatable)")
	outputFlag(cmd, &output)
	return cmd
}

func reportDeploy(streams *IOStreams, res *deploy.Result, err error) error {
	if res != nil {
		switch {
		case res.Declined:
			fmt.Fprintln(streams.ErrOut, "Nothing applied.")
		case res.Recorded && err == nil:
			fmt.Fprintf(streams.ErrOut, "No changes; recorded what runs as revision %d.\n", res.Revision)
		case !res.Plan.HasChanges() && err == nil:
			fmt.Fprintln(streams.ErrOut, "No changes; nothing to deploy.")
		case !res.Plan.HasChanges():
			fmt.Fprintln(streams.ErrOut, "No changes to apply, but what runs is not ready.")
		case res.Revision > 0 && err == nil:
			fmt.Fprintf(streams.ErrOut, "Deployed revision %d.\n", res.Revision)
		case res.Revision > 0:
			fmt.Fprintf(streams.ErrOut, "Revision %d was applied but is not healthy; kube rollback returns to the previous one.\n", res.Revision)
		}
	}
	return err
}

func newDiffCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var output string
	var fullDiff bool
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what kube deploy would change (exit 0: nothing, 1: changes, 2: trouble)",
		Long: `Show what kube deploy would change: a unified diff per object computed by a
server-side dry-run, and the objects that would be deleted. Exit status as diff(1):
0 no changes, 1 changes, 2 trouble; CI can use it to gate or annotate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			trouble := func(err error) error {
				fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
				return exitCode(2)
			}
			if err := checkOutput(output); err != nil {
				return trouble(err)
			}
			t, err := a.resolve(sel, true)
			if err != nil {
				return trouble(err)
			}
			objs, err := t.objects(streams)
			if err != nil {
				return trouble(err)
			}
			plan, err := t.client.MakePlan(cmd.Context(), deploy.PlanOptions{App: t.app, Namespace: t.namespace, Objects: objs, Validate: true, FullDiffs: fullDiff})
			if err != nil {
				return trouble(err)
			}
			if output == "json" {
				if err := writeJSON(streams.Out, plan); err != nil {
					return trouble(err)
				}
			} else {
				printPlan(streams, plan, true)
			}
			if plan.HasChanges() {
				return exitCode(1)
			}
			return nil
		},
	}
	a.register(cmd)
	outputFlag(cmd, &output)
	cmd.Flags().BoolVar(&fullDiff, "full-diff", false, "show long diffs whole")
	return cmd
}

func printPlan(streams *IOStreams, p *deploy.Plan, allDiffs bool) {
	for _, ch := range p.Changes {
		if ch.Action == deploy.Unchanged {
			continue
		}
		fmt.Fprintf(streams.Out, "%-9s %s\n", ch.Action, ch.ID.Short())
		if ch.Note != "" {
			fmt.Fprintf(streams.Out, "          %s\n", ch.Note)
		}
		if ch.Diff != "" && (allDiffs || ch.Action == deploy.Update || ch.Action == deploy.Adopt) {
			fmt.Fprint(streams.Out, streams.Diff(indentLines(ch.Diff)))
		}
	}
	fmt.Fprintf(streams.ErrOut, "Plan for %s: %s (%d objects unchanged).\n", p.App, deploy.Summary(p), p.Count()[deploy.Unchanged])
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// confirm lets a deploy proceed: through the production guard on a protected
// cluster, else by asking on a terminal or by --yes.
func (d *deployFlags) confirm(streams *IOStreams, t *target, p *deploy.Plan) (bool, error) {
	if !t.cluster.Protected() {
		return confirm(streams, d.yes, t)
	}
	err := streams.guard(t.cluster, d.yes, cluster.Action{What: fmt.Sprintf("%s %s (%s)", p.Cause, t.app, deploy.Summary(p)), Dir: t.dir})
	if errors.Is(err, cluster.ErrNotConfirmed) {
		return false, nil
	}
	return err == nil, err
}

// confirm asks on a terminal; elsewhere it requires --yes.
func confirm(streams *IOStreams, yes bool, t *target) (bool, error) {
	if yes {
		return true, nil
	}
	if !streams.InTTY {
		return false, usageError{errors.New("not on a terminal, so kube cannot ask: pass --yes to apply")}
	}
	fmt.Fprintf(streams.ErrOut, "Apply these changes to %s on cluster %s? [y/N] ", t.app, t.cluster.Name)
	line, err := bufio.NewReader(streams.In).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes", nil
}

// gitCommit is the commit of the repository holding dir, marked -dirty when the
// tree has changes; "" outside a repository.
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		commit += "-dirty"
	}
	return commit
}

func newHistoryCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	return appView(streams, sel, &cobra.Command{Use: "history", Short: "List the app's recorded revisions, newest first"},
		func(ctx context.Context, t *target) ([]deploy.Revision, error) {
			return t.client.History(ctx, t.app, t.namespace)
		},
		func(t *target, hist []deploy.Revision) {
			if len(hist) == 0 {
				fmt.Fprintf(streams.ErrOut, "%s has no revisions on cluster %s (namespace %s).\n", t.app, t.cluster.Name, t.namespace)
				return
			}
			fmt.Fprintf(streams.Out, "%-8s %-20s %-24s %-14s %-7s %s\n", "REVISION", "TIME", "USER", "COMMIT", "OBJECTS", "CAUSE / IMAGES")
			for _, r := range hist {
				fmt.Fprintf(streams.Out, "%-8d %-20s %-24s %-14s %-7d %s %s\n", r.Number, r.Time.Local().Format("2006-01-02 15:04:05"),
					r.User, r.Commit, r.Objects, r.Cause, strings.Join(r.Images, ","))
			}
		})
}

// appView builds a read-only command about a deployed app: it resolves the app,
// fetches what to show, and prints it as JSON (-o json) or as text.
func appView[T any](streams *IOStreams, sel *cluster.Selection, cmd *cobra.Command,
	fetch func(context.Context, *target) (T, error), text func(*target, T)) *cobra.Command {
	var a appFlags
	var output string
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		t, err := a.resolveDeployed(sel)
		if err != nil {
			return err
		}
		v, err := fetch(c.Context(), t)
		if err != nil {
			return err
		}
		if output == "json" {
			return writeJSON(streams.Out, v)
		}
		text(t, v)
		return nil
	}
	a.register(cmd)
	outputFlag(cmd, &output)
	return cmd
}

func newRollbackCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var d deployFlags
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Return to an earlier revision (default: the previous one), prune what it lacks, and wait",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 1 {
					return usageError{fmt.Errorf("REVISION must be a revision number from kube history, not %q", args[0])}
				}
				rev = n
			}
			t, err := a.resolveDeployed(sel)
			if err != nil {
				return err
			}
			opts := d.options(streams, t, nil)
			res, target, err := t.client.Rollback(cmd.Context(), opts, rev)
			if err == nil && res != nil && !res.Declined {
				fmt.Fprintf(streams.ErrOut, "Rolled %s back to revision %d.\n", t.app, target)
			}
			return reportDeploy(streams, res, err)
		},
	}
	a.register(cmd)
	d.register(cmd)
	return cmd
}

func newStatusCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	return appView(streams, sel, &cobra.Command{
		Use:   "status",
		Short: "Show what the app runs: its objects and their readiness, pods, current revision, last events",
	},
		func(ctx context.Context, t *target) (*deploy.AppStatus, error) {
			return t.client.Status(ctx, t.app, t.namespace)
		},
		func(t *target, st *deploy.AppStatus) { printAppStatus(streams, t, st) })
}

func printAppStatus(streams *IOStreams, t *target, st *deploy.AppStatus) {
	w := streams.Out
	fmt.Fprintf(w, "app:       %s\ncluster:   %s\nnamespace: %s\n", st.App, t.cluster.Name, st.Namespace)
	if r := st.Revision; r != nil {
		fmt.Fprintf(w, "revision:  %d (%s by %s, %s)\n", r.Number, r.Time.Local().Format("2006-01-02 15:04:05"), r.User, r.Cause)
	}
	fmt.Fprintf(w, "\n%-50s %-11s %s\n", "OBJECT", "STATUS", "MESSAGE")
	for _, o := range st.Objects {
		fmt.Fprintf(w, "%-50s %-11s %s\n", o.ID.Kind+"/"+o.ID.Name, o.Status, o.Message)
	}
	for _, m := range st.Missing {
		fmt.Fprintf(w, "%-50s %-11s %s\n", m, "Missing", "recorded in the inventory but not in the cluster")
	}
	if len(st.Pods) > 0 {
		fmt.Fprintf(w, "\n%-30s %-40s %-11s %-6s %-8s %s\n", "WORKLOAD", "POD", "PHASE", "READY", "RESTARTS", "NODE")
		for _, p := range st.Pods {
			fmt.Fprintf(w, "%-30s %-40s %-11s %-6s %-8d %s\n", p.Workload, p.Name, p.Phase, p.Ready, p.Restarts, p.Node)
		}
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(w, "\nLAST EVENTS")
		for _, e := range st.Events {
			fmt.Fprintf(w, "%s  %-7s %-30s %s: %s\n", e.Time.Local().Format("15:04:05"), e.Type, e.Object, e.Reason, e.Message)
		}
	}
}

func newRunCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var process string
	var timeout time.Duration
	var keep, yes bool
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARG...]",
		Short: "Run a one-off task (a migration, a script) in a pod like the app's, and return its exit code",
		Long: `Run a one-off task the way heroku run and hako oneshot do: a Job is started from
the app's Deployment pod template (same image, environment, secrets, volumes and
service account), with COMMAND instead of the container's command. Its logs are
streamed, kube exits with the task's exit code, and the Job is deleted afterwards
(--keep leaves it; the cluster removes it after an hour anyway).

The Job's pods get their own labels, so the app's Services never send them traffic.`,
		Example: `  kube run -c qa -- bin/rails db:migrate
  kube run -c qa --process worker -- ./scripts/reindex.sh --all`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageError{errors.New("put the command after --, e.g. kube run -- bin/rails db:migrate")}
			}
			t, err := a.resolveDeployed(sel)
			if err != nil {
				return err
			}
			if err := streams.guard(t.cluster, yes, cluster.Action{What: fmt.Sprintf("run %q as %s", strings.Join(args, " "), t.app)}); err != nil {
				return err
			}
			code, err := t.client.Run(cmd.Context(), deploy.RunOptions{
				App: t.app, Namespace: t.namespace, Process: process, Command: args,
				Timeout: timeout, Keep: keep, Logs: streams.Out, Progress: streams.Progress(),
			})
			if err != nil {
				return err
			}
			if code != 0 {
				fmt.Fprintf(streams.ErrOut, "The task exited with code %d.\n", code)
				return exitCode(code)
			}
			return nil
		},
	}
	a.register(cmd)
	cmd.Flags().StringVar(&process, "process", "", "Deployment whose pod template to use (default: the app's web process)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "stop the task after this long")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the Job after it ends")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	cmd.Annotations = map[string]string{passThrough: "run"}
	return cmd
}
