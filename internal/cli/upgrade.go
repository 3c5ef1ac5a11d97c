package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/upgrade"
)

// UpgradeCheckOptions are kube upgrade check's.
type UpgradeCheckOptions struct {
	IO     *IOStreams
	f      *Factory
	To     string
	Repos  []string
	Addons string
	Output string
	// Offline checks manifests and add-ons only: no request to the cluster.
	Offline bool
}

func newUpgradeCmd(f *Factory, runF func(context.Context, *UpgradeCheckOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Prepare a Kubernetes upgrade: what the next version breaks",
	}
	o := &UpgradeCheckOptions{IO: f.IO, f: f}
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

Findings are placed at file:line:column (an add-on chart's, at its template).
--offline checks the apps and add-ons without asking the cluster; so does a check
where no cluster is named (no -c, $KUBE_CLUSTER or kube use), over every
kubernetes/<cluster>/ of the apps and the add-on file given with --addons. A cluster
that cannot be reached exits 3.

The data is Kubernetes' own API lifecycle metadata from the k8s.io/api module kube
is built with, completed by a reviewed table of the Deprecated API Migration Guide;
for a target newer than that, kube says what it cannot know.`,
		Example: `  kube upgrade check -c qa --to v1.38
  kube upgrade check -c prod --to 1.38 ~/src/billing ~/src/orders -o json
  kube upgrade check -c prod --to 1.38 --offline ~/src/billing   # manifests and add-ons only
  kube upgrade check --to 1.38 ~/src/billing                      # no cluster: every cluster's manifests`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Repos = args
			return or(runF, runUpgradeCheck)(cmd.Context(), o)
		},
	}
	check.Flags().StringVar(&o.To, "to", "", "the Kubernetes version to upgrade to, e.g. v1.38 (required)")
	check.Flags().BoolVar(&o.Offline, "offline", false, "check the apps' manifests and the add-ons only, without asking the cluster (-c still picks kubernetes/<cluster>/ and the add-on file)")
	check.Flags().StringVarP(&o.Addons, "addons", "f", "", "the add-on file (default: "+filepath.Join(addons.ClustersDir, "<cluster>", addons.FileName)+" of the working directory, if there is one)")
	outputFlag(check, &o.Output)
	cmd.AddCommand(check)
	return cmd
}

func runUpgradeCheck(ctx context.Context, o *UpgradeCheckOptions) error {
	if o.To == "" {
		return usageError{errors.New("--to is required: the Kubernetes version to upgrade to, e.g. --to v1.38")}
	}
	target, err := upgrade.ParseVersion(o.To)
	if err != nil {
		return usageError{fmt.Errorf("--to: %w", err)}
	}
	src := upgrade.Sources{Repos: o.Repos, Charts: &addons.Fetcher{CacheDir: chartCache()}, Progress: o.IO.Progress().Printf}
	addonsFile := o.Addons
	if _, source := app.Selection(o.f.Selection, o.f.Env).ChosenName(); source != "default" || o.f.Selection.Kubeconfig != "" {
		t, _, err := o.f.ResolveCluster()
		if err != nil {
			return err
		}
		src.Cluster = t.Name
		if !o.Offline {
			src.Config = t.Config
		}
		if p := addons.DefaultPath(t.Name); addonsFile == "" {
			if _, err := os.Stat(p); err == nil {
				addonsFile = p
			}
		}
	}
	if addonsFile != "" {
		if src.Addons, err = loadAddonsFile(o.f, addonsFile); err != nil {
			return err
		}
	}
	rep, err := upgrade.Run(ctx, target, src)
	if err != nil {
		return err
	}
	if src.Addons == nil {
		rep.Notes = append(rep.Notes, "add-ons not checked: no "+addons.DefaultPath(cmp.Or(src.Cluster, "<cluster>"))+" here (run in the platform repository, or give --addons FILE)")
	}
	if done, err := o.IO.structured(o.Output, rep); err != nil {
		return err
	} else if !done {
		printUpgradeReport(o.IO, cmp.Or(src.Cluster, "(none named)"), rep)
	}
	if rep.Blocking() {
		return exitCode(exitFailure)
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
