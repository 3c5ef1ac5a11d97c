package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/console"
)

// ConsoleOptions are kube console's.
type ConsoleOptions struct {
	IO      *IOStreams
	f       *Factory
	viewers *console.Viewers
	Listen  string
	Repo    string // the platform repository, for the catalog
	// InCluster serves the cluster the console runs in, under the name
	// ClusterName (config/console), with each viewer's identity.
	InCluster   bool
	ClusterName string
	CAFile      string
	// ViewerAuth serves each request with the bearer token it carries
	// (always in a cluster); Hosts are the names it may be reached by.
	ViewerAuth bool
	Hosts      []string
	// Prometheus overrides the registry's URL of every cluster's Prometheus.
	Prometheus string
}

func newConsoleCmd(f *Factory, runF func(context.Context, *ConsoleOptions) error) *cobra.Command {
	o := &ConsoleOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the read-only web console: the fleet, each app, revision diffs, forks, the catalog",
		Long: `Serves the web console on this machine with your own cluster access: every
cluster of the registry (and the local sandbox when it runs), or only the one
that -c or --kubeconfig names.

Pages: the fleet (every app on every cluster: revision, who deployed what and
when, images, readiness, team, channel), an app (objects and pods as kube status
shows them, revisions and the diff between any two, CronJobs with their last
outcome, forks), all forks with their expiry, and the platform catalog by domain
(from platform/ of the repository -C names, if it has one).

The console only reads, never shows Secret values, and works without
JavaScript. It listens on 127.0.0.1, answers only requests addressed to it by
that name, and needs this run's token (open the URL it prints once), so that
other web pages cannot drive it. In a cluster (--in-cluster, config/console) it
reads with each viewer's own token, forwarded by the authenticating proxy, and
has no access of its own. docs/console.md.`,
		Example: `  kube console                       # every cluster, http://127.0.0.1:8480
  kube console -c prod --listen 127.0.0.1:9000
  kube console -C ~/src/platform     # with the platform catalog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return or(runF, runConsole)(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8480", "address to serve on")
	cmd.Flags().StringVarP(&o.Repo, "repo", "C", ".", "the platform repository whose "+catalog.Dir+"/ the catalog page shows")
	cmd.Flags().StringVar(&o.Prometheus, "prometheus", "", "Prometheus URL for alerts and SLO budgets (default: each cluster's in the registry)")
	cmd.Flags().BoolVar(&o.InCluster, "in-cluster", false, "serve the cluster this runs in, with each viewer's identity (config/console)")
	cmd.Flags().StringVar(&o.ClusterName, "cluster-name", "", "with --in-cluster: the cluster's name in the registry, for pages and links")
	cmd.Flags().StringVar(&o.CAFile, "ca-file", "/var/run/kube-console/ca.crt", "with --in-cluster: the API server's CA (the namespace's kube-root-ca.crt)")
	cmd.Flags().BoolVar(&o.ViewerAuth, "viewer-auth", false, "read the cluster with the bearer token each request carries (X-Forwarded-Access-Token or Authorization), never with your own; implied by --in-cluster")
	cmd.Flags().StringSliceVar(&o.Hosts, "host", nil, "with --in-cluster: a name the console is reached by (its Host header); others get 421")
	return cmd
}

// consoleClusters resolves the clusters the console shows.
func consoleClusters(o *ConsoleOptions) ([]console.Cluster, error) {
	f := o.f
	if o.InCluster {
		if o.ClusterName == "" {
			return nil, usageError{errors.New("--in-cluster needs --cluster-name: the cluster's name in the registry")}
		}
		if len(o.Hosts) == 0 {
			return nil, usageError{errors.New("--in-cluster needs --host: the name(s) the console is reached by, so that other names (DNS rebinding) are refused")}
		}
		v, err := console.InCluster(o.ClusterName, o.Prometheus, o.CAFile)
		o.viewers = v
		return nil, err
	}
	var names []string
	if f.Selection.Cluster != "" || f.Selection.Kubeconfig != "" {
		names = []string{f.Selection.Cluster}
	} else {
		reg, err := app.Selection(f.Selection, f.Env).LoadRegistry()
		if err != nil {
			return nil, err
		}
		if reg != nil {
			names = reg.Names()
		}
		if !slices.Contains(names, cluster.Local) {
			names = append(names, cluster.Local)
		}
	}
	var out []console.Cluster
	for _, name := range names {
		sel := f.Selection
		if name != "" {
			sel.Cluster = name
		}
		t, _, err := app.Cluster(sel, f.Env)
		if err != nil {
			if name == cluster.Local && f.Selection.Cluster == "" {
				continue // the sandbox is not running: nothing to show
			}
			return nil, err
		}
		prometheus := o.Prometheus
		if prometheus == "" && t.Entry != nil {
			prometheus = t.Entry.Prometheus
		}
		if o.ViewerAuth {
			if len(names) != 1 {
				return nil, usageError{errors.New("--viewer-auth serves one cluster: name it with -c or --kubeconfig")}
			}
			o.viewers = &console.Viewers{Name: t.Name, Base: t.Config, Prometheus: prometheus}
			return nil, nil
		}
		c, err := console.NewCluster(t.Name, t.Config, prometheus)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no cluster to show: the registry lists none and the sandbox is not running (kube sandbox up, or -c NAME)")
	}
	return out, nil
}

func runConsole(ctx context.Context, o *ConsoleOptions) error {
	clusters, err := consoleClusters(o)
	if err != nil {
		return err
	}
	s := &console.Server{Clusters: clusters, Viewers: o.viewers}
	s.Catalog, err = catalog.Load(filepath.Join(o.Repo, catalog.Dir))
	if err != nil {
		s.CatalogErr = err.Error()
	}
	ln, err := s.Listen(o.Listen, o.InCluster, o.Hosts)
	if err != nil {
		return err
	}
	if _, err := console.New(s); err != nil {
		ln.Close()
		return err
	}
	var names []string
	for _, c := range clusters {
		names = append(names, c.Name)
	}
	if s.Viewers != nil {
		names = append(names, s.Viewers.Name+" with each viewer's token")
	}
	fmt.Fprintf(o.IO.ErrOut, "kube console: %s (clusters: %s); Ctrl-C stops it\n", s.URL(ln), strings.Join(names, ", "))
	if s.CatalogErr != "" {
		fmt.Fprintf(o.IO.ErrOut, "catalog: %s\n", s.CatalogErr)
	}
	return s.Serve(ctx, ln)
}
