package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/metadata"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/upgrade"
)

// UpgradeCheckOptions are kube upgrade check's.
type UpgradeCheckOptions struct {
	addonsOptions
	To    string
	Repos []string
	// Offline checks manifests and add-ons only: no request to the cluster.
	Offline bool
}

func newUpgradeCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Prepare a Kubernetes upgrade: what the next version breaks",
	}
	o := &UpgradeCheckOptions{addonsOptions: addonsOptions{IO: f.IO, f: f}}
	check := &cobra.Command{
		Use:   "check --to VERSION [--offline] [REPO...]",
		Short: "List every use of an API the target Kubernetes version removes (exit 1 if any), and deprecated ones",
		Long: `Before upgrading a cluster, find every use of an API that the target version removes
(blocking, exit 1) or deprecates (warnings), with the API to use instead:

  requests  what clients asked the live API server for (its
            apiserver_requested_deprecated_apis metric, since it started)
  live      live objects last written through such an API (their managedFields)
  app       the generated manifests of each app repository given
            (REPO/kubernetes/<cluster>/)
  addon     every add-on of clusters/<cluster>/addons.yaml, rendered at its
            pinned version for the target version
  chart     add-on charts whose kubeVersion excludes the target

Findings in apps are placed at file:line:column. --offline checks the apps and
add-ons without asking the cluster; a cluster that cannot be reached exits 3.

The data is Kubernetes' own API lifecycle metadata from the k8s.io/api module kube
is built with, completed by a reviewed table of the Deprecated API Migration Guide;
for a target newer than that, kube says what it cannot know.`,
		Example: `  kube upgrade check -c qa --to v1.38
  kube upgrade check -c prod --to 1.38 ~/src/billing ~/src/orders -o json
  kube upgrade check -c prod --to 1.38 --offline ~/src/billing   # manifests and add-ons only`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Repos = args
			return runUpgradeCheck(cmd.Context(), o)
		},
	}
	check.Flags().StringVar(&o.To, "to", "", "the Kubernetes version to upgrade to, e.g. v1.38 (required)")
	check.Flags().BoolVar(&o.Offline, "offline", false, "check the apps' manifests and the add-ons only, without asking the cluster (-c still picks kubernetes/<cluster>/ and the add-on file)")
	check.Flags().StringVarP(&o.File, "addons", "f", "", "the add-on file (default: "+filepath.Join(addons.ClustersDir, "<cluster>", addons.FileName)+" of the working directory, if there is one)")
	outputFlag(check, &o.Output)
	cmd.AddCommand(check)
	return cmd
}

func runUpgradeCheck(ctx context.Context, o *UpgradeCheckOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.To == "" {
		return usageError{errors.New("--to is required: the Kubernetes version to upgrade to, e.g. --to v1.38")}
	}
	target, err := upgrade.ParseVersion(o.To)
	if err != nil {
		return usageError{fmt.Errorf("--to: %w", err)}
	}
	t, _, err := o.f.ResolveCluster()
	if err != nil {
		return err
	}
	o.cluster = t
	data := upgrade.Load()
	rep := upgrade.NewReport(target)
	if o.Offline {
		rep.Notes = append(rep.Notes, "offline: requests and live objects not checked (the apps' manifests and the add-ons are)")
	} else if err := o.checkCluster(ctx, data, rep, target); err != nil {
		return err
	}
	if err := o.checkRepos(data, rep, target); err != nil {
		return err
	}
	// The add-ons, rendered for the target.
	if err := o.checkAddons(ctx, data, rep, target); err != nil {
		return err
	}
	rep.Sort()
	if done, err := o.IO.structured(o.Output, rep); err != nil {
		return err
	} else if !done {
		printUpgradeReport(o.IO, t.Name, rep)
	}
	if rep.Blocking() {
		return exitCode(exitFailure)
	}
	return nil
}

// checkCluster adds what the live cluster says: requests, then objects. A
// cluster that cannot be reached is exit 3, not "blocked".
func (o *UpgradeCheckOptions) checkCluster(ctx context.Context, data *upgrade.Data, rep *upgrade.Report, target upgrade.Version) error {
	t := o.cluster
	c, err := deploy.NewClient(t.Config)
	if err != nil {
		return err
	}
	p := o.IO.Progress()
	_, lists, err := c.Kube.Discovery().ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return unreachableError{fmt.Errorf("cluster %s: %w (with --offline, kube checks the manifests and add-ons without it)", t.Name, err)}
	}
	p.Printf("Reading the API server's metrics of cluster %s", t.Name)
	metricsText, err := c.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	switch {
	case apierrors.IsForbidden(err):
		rep.Notes = append(rep.Notes, "requests not checked: reading the API server's /metrics is not allowed to you (it needs get on the non-resource URL /metrics)")
	case err != nil:
		return fmt.Errorf("cluster %s: reading /metrics: %w", t.Name, err)
	default:
		fs, err := data.Requests(metricsText, target, upgrade.Kinds(lists))
		if err != nil {
			return err
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	meta, err := metadata.NewForConfig(t.Config)
	if err != nil {
		return err
	}
	p.Printf("Looking for live objects written through APIs that %s removes or deprecates", target)
	live, err := data.Live(ctx, lists, meta, target)
	if err != nil {
		return err
	}
	rep.Findings = append(rep.Findings, live...)
	return nil
}

// checkRepos adds the apps' generated manifests, read through each
// repository's root, each finding at its file:line:column.
func (o *UpgradeCheckOptions) checkRepos(data *upgrade.Data, rep *upgrade.Report, target upgrade.Version) error {
	t := o.cluster
	for _, repo := range o.Repos {
		dir := path.Join(generate.OutputDir, app.ManifestsCluster(repo, t.Name))
		root, err := os.OpenRoot(repo)
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", repo, err)}
		}
		if _, err := fs.Stat(root.FS(), dir); err != nil {
			root.Close()
			return usageError{fmt.Errorf("%s has no %s: give app repositories whose manifests kube generate writes", repo, dir)}
		}
		found, err := data.Files(upgrade.SourceApp, repo, root.FS(), dir, filepath.Join(repo, filepath.FromSlash(dir)), target)
		root.Close()
		if err != nil {
			return err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	return nil
}

func (o *UpgradeCheckOptions) checkAddons(ctx context.Context, data *upgrade.Data, rep *upgrade.Report, target upgrade.Version) error {
	if o.File == "" {
		if _, err := os.Stat(addons.DefaultPath(o.cluster.Name)); err != nil {
			rep.Notes = append(rep.Notes, "add-ons not checked: no "+addons.DefaultPath(o.cluster.Name)+" here (run in the platform repository, or give --addons FILE)")
			return nil
		}
	}
	if err := o.load(); err != nil {
		return err
	}
	rels, _ := o.file.Select(nil)
	kv := upgrade.KubeVersion(target)
	// Charts that exclude the target are a finding, and their APIs are still
	// looked at, rendered for the target as if they admitted it.
	r := &addons.Renderer{Fetcher: &addons.Fetcher{CacheDir: chartCache()}, KubeVersion: kv, IgnoreKubeVersion: true}
	for _, rel := range rels {
		o.IO.Progress().Printf("Rendering add-on %s for Kubernetes %s", rel.Name, target)
		out, err := r.Render(ctx, o.file, rel)
		if err != nil {
			return err
		}
		newest := ""
		if repoName, chart := rel.RepoChart(); out.KubeVersion != "" && repoName != "" {
			if repo, ok := o.file.Repository(repoName); ok {
				newest, _ = r.Fetcher.NewestSupporting(ctx, repo, chart, kv)
			}
		}
		if f, ok := upgrade.ChartSupport(rel.Name, rel.Chart, out.Version, out.KubeVersion, target, newest); ok {
			rep.Findings = append(rep.Findings, f)
		}
		rep.Findings = append(rep.Findings, data.Objects(upgrade.SourceAddon, rel.Name, out.Objects, target)...)
	}
	return nil
}

func printUpgradeReport(io *IOStreams, clusterName string, rep *upgrade.Report) {
	fmt.Fprintf(io.Out, "Upgrade of cluster %s to Kubernetes %s (kube's API data: Kubernetes %s)\n", clusterName, rep.Target, rep.DataVersion)
	for _, n := range rep.Notes {
		fmt.Fprintf(io.ErrOut, "note: %s\n", n)
	}
	titles := map[string]string{
		upgrade.SourceRequests: "Requests to the API server", upgrade.SourceLive: "Live objects",
		upgrade.SourceApp: "App", upgrade.SourceAddon: "Add-on", upgrade.SourceChart: "Add-on chart",
	}
	last := ""
	var t *table
	flush := func() {
		if t != nil {
			_ = t.print()
		}
	}
	for _, f := range rep.Findings {
		head := titles[f.Source]
		if f.Where != "" {
			head += " " + f.Where
		}
		if head != last {
			flush()
			fmt.Fprintf(io.Out, "\n%s\n", head)
			t = io.newTable("  STATUS", "OBJECT", "API", "USE INSTEAD", "")
			last = head
		}
		st := strings.ToUpper(string(f.Status))
		if f.Release != "" {
			st += " in " + f.Release
		}
		detail := f.Detail
		if p := f.Place(); p != "" {
			detail = strings.TrimSpace(p + " " + detail)
		}
		t.row("  "+st, f.Object, f.API, f.Replacement, detail)
	}
	flush()
	blocking := 0
	for _, f := range rep.Findings {
		if f.Blocks() {
			blocking++
		}
	}
	switch {
	case len(rep.Findings) == 0:
		fmt.Fprintf(io.ErrOut, "\nNothing uses an API that Kubernetes %s removes or deprecates.\n", rep.Target)
	case blocking == 0:
		fmt.Fprintf(io.ErrOut, "\nNothing blocks the upgrade; %d deprecated use(s) to plan for.\n", len(rep.Findings))
	default:
		fmt.Fprintf(io.ErrOut, "\n%d use(s) of removed APIs block the upgrade to %s; %d deprecated.\n", blocking, rep.Target, len(rep.Findings)-blocking)
	}
}
