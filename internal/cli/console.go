package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/console"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/forks"
)

// ConsoleOptions are kube console's.
type ConsoleOptions struct {
	IO     *IOStreams
	f      *Factory
	Listen string
	Repo   string // the platform repository, for the catalog
	// InCluster serves the cluster the console runs in, with its
	// ServiceAccount, under the name ClusterName (config/console).
	InCluster   bool
	ClusterName string
	// Prometheus overrides the registry's URL of every cluster's Prometheus.
	Prometheus string
}

func newConsoleCmd(f *Factory) *cobra.Command {
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
JavaScript. It listens on 127.0.0.1 and answers only requests addressed to it
by that name, so that other web pages cannot reach it. docs/console.md.`,
		Example: `  kube console                       # every cluster, http://127.0.0.1:8480
  kube console -c prod --listen 127.0.0.1:9000
  kube console -C ~/src/platform     # with the platform catalog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runConsole(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8480", "address to serve on")
	cmd.Flags().StringVarP(&o.Repo, "repo", "C", ".", "the platform repository whose "+catalog.Dir+"/ the catalog page shows")
	cmd.Flags().StringVar(&o.Prometheus, "prometheus", "", "Prometheus URL for alerts and SLO budgets (default: each cluster's in the registry)")
	cmd.Flags().BoolVar(&o.InCluster, "in-cluster", false, "serve the cluster this runs in, with its ServiceAccount (config/console)")
	cmd.Flags().StringVar(&o.ClusterName, "cluster-name", "", "with --in-cluster: the cluster's name in the registry, for pages and links")
	return cmd
}

// consoleCluster builds the clients of one cluster.
func consoleCluster(name string, cfg *rest.Config, prometheus string) (console.Cluster, error) {
	dc, err := deploy.NewClient(cfg)
	if err != nil {
		return console.Cluster{}, err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return console.Cluster{}, err
	}
	fc, err := forks.NewClient(cfg)
	if err != nil {
		return console.Cluster{}, err
	}
	c := console.Cluster{Name: name, Deploy: dc, Meta: mc, Forks: fc}
	if prometheus != "" {
		c.Monitoring = &alerts.API{Prometheus: prometheus}
	}
	return c, nil
}

// consoleClusters resolves the clusters the console shows.
func consoleClusters(o *ConsoleOptions) ([]console.Cluster, error) {
	f := o.f
	if o.InCluster {
		if o.ClusterName == "" {
			return nil, usageError{errors.New("--in-cluster needs --cluster-name: the cluster's name in the registry")}
		}
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("--in-cluster: %w", err)
		}
		c, err := consoleCluster(o.ClusterName, cfg, o.Prometheus)
		return []console.Cluster{c}, err
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
		c, err := consoleCluster(t.Name, t.Config, prometheus)
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
	s := &console.Server{Clusters: clusters}
	s.Catalog, err = catalog.Load(filepath.Join(o.Repo, catalog.Dir))
	if err != nil {
		s.CatalogErr = err.Error()
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return usageError{fmt.Errorf("--listen %s: %w", o.Listen, err)}
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		s.Hosts = []string{host, "localhost", "127.0.0.1", "::1"}
		s.Token = rand.Text()
	} else if !o.InCluster {
		// Anyone who reaches it would read the clusters with your credentials.
		ln.Close()
		return usageError{fmt.Errorf("--listen %s: kube console serves your own cluster access, so it listens on this machine only (127.0.0.1); to share a console, run it in a cluster (config/console)", o.Listen)}
	}
	if _, err := console.New(s); err != nil {
		return err
	}
	u := "http://" + net.JoinHostPort(host, port)
	if s.Token != "" {
		u += "/?token=" + s.Token
	}
	var names []string
	for _, c := range clusters {
		names = append(names, c.Name)
	}
	fmt.Fprintf(o.IO.ErrOut, "kube console: %s (clusters: %s); Ctrl-C stops it\n", u, strings.Join(names, ", "))
	if s.CatalogErr != "" {
		fmt.Fprintf(o.IO.ErrOut, "catalog: %s\n", s.CatalogErr)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
