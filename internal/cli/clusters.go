package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
)

type clusterRow struct {
	Name      string `json:"name"`
	Current   bool   `json:"current"`
	Server    string `json:"server,omitempty"`
	Auth      string `json:"auth"`
	Protected bool   `json:"protected"`
}

// ClustersOptions are kube clusters'.
type ClustersOptions struct {
	IO     *IOStreams
	Output string
	// Selection is the user's selection completed with the repository's default.
	Selection func() cluster.Selection
}

func newClustersCmd(f *Factory, runF func(context.Context, *ClustersOptions) error) *cobra.Command {
	o := &ClustersOptions{IO: f.IO, Selection: func() cluster.Selection { return app.Selection(f.Selection, f.Env) }}
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "List the clusters of the registry, marking the current one",
		Long: `List the clusters kube knows: the local sandbox ("local") and those of the
organisation's registry (--registry, $KUBE_REGISTRY, or ~/.config/kube/clusters.yaml).
The current one (from -c, $KUBE_CLUSTER, kube use, kube-generate.yaml's cluster:, or
the default "local") is marked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runClusters(o)
		},
	}
	outputFlag(cmd, &o.Output)
	return cmd
}

func runClusters(o *ClustersOptions) error {
	sel := o.Selection()
	reg, err := sel.LoadRegistry()
	if err != nil {
		return err
	}
	current, source := sel.ChosenName()
	var rows []clusterRow
	for _, c := range reg.Clusters {
		rows = append(rows, clusterRow{Name: c.Name, Current: c.Name == current, Server: c.Server, Auth: c.AuthKind(), Protected: c.Protected})
	}
	if done, err := o.IO.structured(o.Output, rows); done || err != nil {
		return err
	}
	t := o.IO.newTable("", "NAME", "AUTH", "PROTECTED", "SERVER")
	for _, r := range rows {
		mark, prot := "", ""
		if r.Current {
			mark = "*"
		}
		if r.Protected {
			prot = "yes"
		}
		t.row(mark, r.Name, r.Auth, prot, r.Server)
	}
	if err := t.print(); err != nil {
		return err
	}
	where := "no registry file"
	if reg.Path != "" {
		where = "registry " + reg.Path
	}
	fmt.Fprintf(o.IO.ErrOut, "Current: %s (from %s); %s.\n", current, source, where)
	return nil
}

// UseOptions are kube use's.
type UseOptions struct {
	IO           *IOStreams
	Name         string
	Shell, Unset bool
	Registry     func() (*cluster.Registry, error)
	WorkDir      func() (string, error)
}

func newUseCmd(f *Factory, runF func(context.Context, *UseOptions) error) *cobra.Command {
	o := &UseOptions{IO: f.IO, Registry: func() (*cluster.Registry, error) { return f.Selection.LoadRegistry() }, WorkDir: os.Getwd}
	cmd := &cobra.Command{
		Use:   "use NAME",
		Short: "Set this directory's default cluster (or print a shell export with --shell)",
		Long: `Set the default cluster for commands run in this directory and below, in a file
` + cluster.DirDefaultFile + ` (add it to .gitignore); --shell prints an export line for
the current shell instead: eval "$(kube use --shell qa)". Your ~/.kube/config is never
touched. A protected cluster cannot be a default: name it with -c on each command.`,
		Example: `  kube use qa
  eval "$(kube use --shell qa)"
  kube use --unset`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.Unset {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		ValidArgsFunction: completeClusters(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUse(o)
		},
	}
	cmd.Flags().BoolVar(&o.Shell, "shell", false, "print an export line for the current shell instead of writing "+cluster.DirDefaultFile)
	cmd.Flags().BoolVar(&o.Unset, "unset", false, "remove this directory's default")
	return cmd
}

func runUse(o *UseOptions) error {
	wd, err := o.WorkDir()
	if err != nil {
		return err
	}
	file := filepath.Join(wd, cluster.DirDefaultFile)
	if o.Unset {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "No default cluster in %s any more.\n", wd)
		return nil
	}
	reg, err := o.Registry()
	if err != nil {
		return err
	}
	c, ok := reg.Find(o.Name)
	if !ok {
		return usageError{fmt.Errorf("unknown cluster %q; known: %v", o.Name, reg.Names())}
	}
	if c.Protected {
		return fmt.Errorf("cluster %s is protected and cannot be a default: name it with -c %s on each command", c.Name, c.Name)
	}
	if o.Shell {
		fmt.Fprintf(o.IO.Out, "export %s=%s\n", cluster.EnvCluster, c.Name)
		return nil
	}
	if err := os.WriteFile(file, []byte(c.Name+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Commands in %s now use cluster %s (written to %s).\n", wd, c.Name, cluster.DirDefaultFile)
	return nil
}

// completeClusters completes cluster names from the registry.
func completeClusters(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		reg, err := f.Selection.LoadRegistry()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return reg.Names(), cobra.ShellCompDirectiveNoFileComp
	}
}
