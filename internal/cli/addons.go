package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
)

// addonsOptions are what every kube addons command has.
type addonsOptions struct {
	IO      *IOStreams
	f       *Factory
	File    string
	Output  string
	Names   []string
	cluster *cluster.Target
	file    *addons.File
}

func newAddonsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "addons",
		Short: "Pin, update, prune and roll back the cluster's add-ons (Helm charts and manifests) as one revision each",
		Long: `A cluster's add-ons (ingress controller, CSI driver, monitoring, ...) are pinned in
one reviewed file of the platform repository, clusters/<cluster>/addons.yaml, in
Helmfile's shape (repositories: and releases:), so Renovate proposes version bumps.

Each add-on is rendered with Helm's own Go SDK (charts behave as with helm) and
deployed as its own inventory by kube's deploy engine: CRDs first, server-side apply,
what the new version dropped is deleted, an object deleted by hand is restored, a
revision per update, kube addons rollback in one command. An add-on that Helm
installed earlier is taken over without recreating anything. docs/addons.md.`,
	}
	cmd.AddCommand(newAddonsListCmd(f, nil), newAddonsDiffCmd(f, nil), newAddonsDeployCmd(f, nil), newAddonsStatusCmd(f, nil),
		newAddonsHistoryCmd(f, nil), newAddonsRollbackCmd(f, nil))
	return cmd
}

func (o *addonsOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.File, "file", "f", "", "the add-on file (default: "+filepath.Join(addons.ClustersDir, "<cluster>", addons.FileName)+" of the working directory)")
	outputFlag(cmd, &o.Output)
}

// load resolves the cluster and reads the add-on file.
func (o *addonsOptions) load() error {
	t, _, err := o.f.ResolveCluster()
	if err != nil {
		return err
	}
	o.cluster = t
	path := o.File
	if path == "" {
		path = addons.DefaultPath(t.Name)
	}
	o.file, err = loadAddonsFile(o.f, path)
	return err
}

// loadAddonsFile reads an add-on file, relative to the working directory.
func loadAddonsFile(f *Factory, path string) (*addons.File, error) {
	wd := f.Env.WorkDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(wd, path)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, usageError{fmt.Errorf("%s does not exist: run kube addons in the platform repository, or name the file with -f", path)}
	}
	return addons.Load(path, repoRoot(filepath.Dir(path)))
}

// repoRoot is the git work tree that holds dir, else dir itself: paths in the
// add-on file may not leave it.
func repoRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// addonApp is how the deploy engine and the app views see an add-on.
func (o *addonsOptions) addonApp(name, namespace string) *app.App {
	return &app.App{Name: addons.App(name), Namespace: namespace, Cluster: o.cluster, Dir: filepath.Dir(o.file.Path)}
}

func (o *addonsOptions) renderer(c *deploy.Client) (*addons.Renderer, error) {
	r := &addons.Renderer{Fetcher: &addons.Fetcher{CacheDir: chartCache()}}
	if c != nil {
		v, err := c.Kube.Discovery().ServerVersion()
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", o.cluster.Name, err)
		}
		r.KubeVersion = v.GitVersion
	}
	return r, nil
}

func chartCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kube", "charts")
}

// render renders the selected add-ons, all or none.
func (o *addonsOptions) render(ctx context.Context, c *deploy.Client) ([]*addons.Rendered, error) {
	rels, err := o.file.Select(o.Names)
	if err != nil {
		return nil, usageError{err}
	}
	r, err := o.renderer(c)
	if err != nil {
		return nil, err
	}
	p := o.IO.Progress()
	p.Printf("Rendering %d add-on(s) of %s", len(rels), o.file.Path)
	out, err := r.RenderAll(ctx, o.file, rels)
	if err != nil {
		return nil, fmt.Errorf("%w\nnothing was deployed", err)
	}
	return out, nil
}

// --- list

func newAddonsListCmd(f *Factory, runF func(context.Context, *addonsOptions) error) *cobra.Command {
	o := &addonsOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's add-ons: pinned version and what the cluster runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return or(runF, runAddonsList)(cmd.Context(), o)
		},
	}
	o.register(cmd)
	return cmd
}

func runAddonsList(ctx context.Context, o *addonsOptions) error {
	if err := o.load(); err != nil {
		return err
	}
	c, err := deploy.NewClient(o.cluster.Config)
	if err != nil {
		return err
	}
	rows, err := addons.List(ctx, o.file, c)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, rows); done || err != nil {
		return err
	}
	t := o.IO.newTable("NAME", "NAMESPACE", "CHART", "PINNED", "REVISION", "LAST DEPLOY")
	for _, r := range rows {
		rev := "-"
		if r.Revision > 0 {
			rev = fmt.Sprint(r.Revision)
		}
		t.row(r.Name, r.Namespace, r.Chart, r.Pinned, rev, r.Deployed)
	}
	return t.print()
}

// --- diff

// addonsDiffOptions are kube addons diff's.
type addonsDiffOptions struct {
	addonsOptions
	FullDiff bool
}

func newAddonsDiffCmd(f *Factory, runF func(context.Context, *addonsDiffOptions) error) *cobra.Command {
	o := &addonsDiffOptions{addonsOptions: addonsOptions{IO: f.IO, f: f}}
	cmd := &cobra.Command{
		Use:   "diff [NAME...]",
		Short: "Show what kube addons deploy would change, deletions included (exit 0: nothing, 1: changes, 2: trouble)",
		Long: `Render the add-ons at their pinned versions and show, per add-on, a diff per object
computed by a server-side dry run, the objects the update deletes, and those
deleted out of band that a deploy restores. Exit status as diff(1).`,
		Example: `  kube addons diff -c qa
  kube addons diff -c prod ingress-nginx`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			return or(runF, runAddonsDiff)(cmd.Context(), o)
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&o.FullDiff, "full-diff", false, "show long diffs whole")
	return cmd
}

// runAddonsDiff exits as diff(1): 0 nothing to change, 1 changes, 2 trouble.
func runAddonsDiff(ctx context.Context, o *addonsDiffOptions) error {
	changed, err := o.diff(ctx)
	if err != nil {
		return troubled(o.IO, err)
	}
	if changed {
		return exitCode(exitFailure)
	}
	return nil
}

func (o *addonsDiffOptions) diff(ctx context.Context) (bool, error) {
	if err := o.load(); err != nil {
		return false, err
	}
	c, err := deploy.NewClient(o.cluster.Config)
	if err != nil {
		return false, err
	}
	rendered, err := o.render(ctx, c)
	if err != nil {
		return false, err
	}
	d := o.deployer(c, nil)
	d.FullDiffs = o.FullDiff
	plans, err := d.Plan(ctx, rendered)
	if err != nil {
		return false, err
	}
	changed := false
	for _, p := range plans {
		changed = changed || p.HasChanges()
	}
	if done, err := o.IO.structured(o.Output, plans); done || err != nil {
		return changed, err
	}
	for _, p := range plans {
		printPlan(o.IO, p, true)
	}
	return changed, nil
}

// deployer is the add-on deployer of the cluster, with kube's terminal UI.
func (o *addonsOptions) deployer(c *deploy.Client, helm *addons.HelmReleases) *addons.Deployer {
	return &addons.Deployer{Client: c, Helm: helm, UI: addonsUI{o}}
}

// addonsUI prints what the add-on deployer does.
type addonsUI struct{ o *addonsOptions }

func (u addonsUI) Note(format string, a ...any) { u.o.IO.Progress().Printf(format, a...) }

func (u addonsUI) Start(r *addons.Rendered, source string, hr *addons.HelmRelease) {
	fmt.Fprintf(u.o.IO.ErrOut, "Add-on %s (%s) to cluster %s, namespace %s\n", r.Name, source, u.o.cluster.Name, r.Namespace)
	if hr != nil {
		fmt.Fprintf(u.o.IO.ErrOut, "Helm installed %s (release revision %d, %s): kube takes its objects over in place.\n", hr.Name, hr.Revision, hr.Status)
	}
}

func (u addonsUI) Done(_ *addons.Rendered, res *deploy.Result, err error) error {
	return reportDeploy(u.o.IO, res, err)
}

func (u addonsUI) Adopted(hr *addons.HelmRelease, objects int) {
	fmt.Fprintf(u.o.IO.ErrOut, "Adopted Helm release %s: %d object(s) taken over in place, none recreated; Helm's field ownership dropped; its %d release record(s) deleted (helm list no longer shows it).\n",
		hr.Name, objects, len(hr.Records))
}

// --- deploy

type addonsDeployOptions struct {
	addonsOptions
	applyFlags
}

func newAddonsDeployCmd(f *Factory, runF func(context.Context, *addonsDeployOptions) error) *cobra.Command {
	o := &addonsDeployOptions{addonsOptions: addonsOptions{IO: f.IO, f: f}}
	cmd := &cobra.Command{
		Use:   "deploy [NAME...]",
		Short: "Deploy the add-ons at their pinned versions: one revision each, pruning what a version dropped",
		Long: `Render every selected add-on first (nothing is deployed if one fails: an unknown
version, an unreachable repository, values the chart's schema rejects) and dry-run
them all, then deploy them in file order. For each: the plan (diffs, deletions),
a confirmation (or --yes; the production guard on a protected cluster), CRDs first,
server-side apply taking over fields from other managers as Argo CD and Flux do,
prune, a revision whose cause names the chart version, and a readiness wait.

An add-on that Helm installed earlier (same release name and namespace) is adopted:
its objects are taken over in place (same UID, nothing recreated), Helm's field
ownership is dropped, and Helm's release records are deleted so that helm uninstall
cannot delete what kube manages now. kube says what it did.`,
		Example: `  kube addons deploy -c qa
  kube addons deploy -c prod ingress-nginx --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			return or(runF, runAddonsDeploy)(cmd.Context(), o)
		},
	}
	o.addonsOptions.register(cmd)
	o.applyFlags.register(cmd)
	return cmd
}

func runAddonsDeploy(ctx context.Context, o *addonsDeployOptions) error {
	if err := o.load(); err != nil {
		return err
	}
	c, err := deploy.NewClient(o.cluster.Config)
	if err != nil {
		return err
	}
	rendered, err := o.render(ctx, c)
	if err != nil {
		return err
	}
	helm, err := addons.NewHelmReleases(o.cluster.Config)
	if err != nil {
		return err
	}
	d := o.deployer(c, helm)
	d.FullDiffs = o.FullDiff
	d.Options = func(r *addons.Rendered, _, cause string) deploy.Options {
		a := o.addonApp(r.Name, r.Namespace)
		return o.options(o.IO, a, r.Objects, cause, cluster.Action{Dir: a.Dir}, o.Output == outputText)
	}
	results, failed := d.Deploy(ctx, rendered)
	if _, err := o.IO.structured(o.Output, results); err != nil {
		return err
	}
	return failed
}

// one resolves the one add-on the command names (Names[0]).
func (o *addonsOptions) one() (*app.App, *deploy.Client, error) {
	if err := o.load(); err != nil {
		return nil, nil, err
	}
	r, ok := o.file.Release(o.Names[0])
	if !ok {
		_, err := o.file.Select(o.Names[:1])
		return nil, nil, usageError{err}
	}
	c, err := deploy.NewClient(o.cluster.Config)
	return o.addonApp(r.Name, r.Namespace), c, err
}

// addonView makes a read-only command on one add-on: fetch, then -o or text.
func addonView[T any](f *Factory, use, short string, runF func(context.Context, *addonsOptions) error,
	fetch func(context.Context, *app.App, *deploy.Client) (T, error), text func(*IOStreams, *app.App, T) error) *cobra.Command {
	o := &addonsOptions{IO: f.IO, f: f}
	run := func(ctx context.Context, o *addonsOptions) error {
		a, c, err := o.one()
		if err != nil {
			return err
		}
		v, err := fetch(ctx, a, c)
		if err != nil {
			return err
		}
		if done, err := o.IO.structured(o.Output, v); done || err != nil {
			return err
		}
		return text(o.IO, a, v)
	}
	cmd := &cobra.Command{
		Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			return or(runF, run)(cmd.Context(), o)
		},
	}
	o.register(cmd)
	return cmd
}

func newAddonsStatusCmd(f *Factory, runF func(context.Context, *addonsOptions) error) *cobra.Command {
	return addonView(f, "status", "What an add-on runs: its objects, pods and last events", runF,
		func(ctx context.Context, a *app.App, c *deploy.Client) (*deploy.AppStatus, error) {
			return c.Status(ctx, a.Name, a.Namespace)
		}, printAppStatus)
}

func newAddonsHistoryCmd(f *Factory, runF func(context.Context, *addonsOptions) error) *cobra.Command {
	return addonView(f, "history", "An add-on's revisions, newest first, each naming its chart version", runF,
		func(ctx context.Context, a *app.App, c *deploy.Client) ([]deploy.Revision, error) {
			return c.History(ctx, a.Name, a.Namespace)
		}, printHistory)
}

// addonsRollbackOptions are kube addons rollback's.
type addonsRollbackOptions struct {
	addonsDeployOptions
	// Revision is the revision to return to; 0 is the one before the latest.
	Revision int
}

func newAddonsRollbackCmd(f *Factory, runF func(context.Context, *addonsRollbackOptions) error) *cobra.Command {
	o := &addonsRollbackOptions{addonsDeployOptions: addonsDeployOptions{addonsOptions: addonsOptions{IO: f.IO, f: f}}}
	cmd := &cobra.Command{
		Use:   "rollback NAME [REVISION]",
		Short: "Return an add-on to an earlier revision (default: the previous one): image, CRDs and RBAC together",
		Long: `Return an add-on to a revision recorded by kube addons deploy (default: the one
before the latest), with a deploy's guarantees: plan, confirmation, prune, wait and
a new revision. The add-on file is not changed: revert the version bump there too,
or the next kube addons deploy updates it again.`,
		Example: `  kube addons rollback -c qa ingress-nginx
  kube addons rollback -c prod cert-manager 4 --yes`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names, o.Revision = args[:1], 0
			if len(args) == 2 {
				if _, err := fmt.Sscanf(args[1], "%d", &o.Revision); err != nil || o.Revision < 1 || fmt.Sprint(o.Revision) != args[1] {
					return usageError{fmt.Errorf("REVISION must be a revision number from kube addons history, not %q", args[1])}
				}
			}
			return or(runF, runAddonsRollback)(cmd.Context(), o)
		},
	}
	o.addonsOptions.register(cmd)
	o.applyFlags.register(cmd)
	return cmd
}

func runAddonsRollback(ctx context.Context, o *addonsRollbackOptions) error {
	a, c, err := o.one()
	if err != nil {
		return err
	}
	opts := o.options(o.IO, a, nil, "rollback", cluster.Action{NotFromTree: true}, o.Output == outputText)
	opts.ForceConflicts = true
	res, target, err := c.Rollback(ctx, opts, o.Revision)
	if res != nil {
		if _, jerr := o.IO.structured(o.Output, rollbackResult{Result: res, RolledBackTo: target}); jerr != nil {
			return jerr
		}
	}
	if err == nil && res != nil && !res.Declined {
		fmt.Fprintf(o.IO.ErrOut, "Rolled add-on %s back to revision %d.\n", o.Names[0], target)
	}
	return reportDeploy(o.IO, res, err)
}
