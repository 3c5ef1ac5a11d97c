package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/cluster"
)

type clusterRow struct {
	Name      string `json:"name"`
	Current   bool   `json:"current"`
	Server    string `json:"server,omitempty"`
	Auth      string `json:"auth"`
	Protected bool   `json:"protected"`
}

func newClustersCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "List the clusters of the registry, marking the current one",
		Long: `List the clusters kube knows: the local sandbox ("local") and those of the
organisation's registry (--registry, $KUBE_REGISTRY, or ~/.config/kube/clusters.yaml).
The current one (from -c, $KUBE_CLUSTER, kube use, or the default "local") is marked.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			reg, err := sel.LoadRegistry()
			if err != nil {
				return err
			}
			current, source := sel.ChosenName()
			var rows []clusterRow
			for _, c := range reg.Clusters {
				rows = append(rows, clusterRow{Name: c.Name, Current: c.Name == current, Server: c.Server, Auth: c.AuthKind(), Protected: c.Protected})
			}
			if output == "json" {
				return writeJSON(streams.Out, rows)
			}
			fmt.Fprintf(streams.Out, "%-2s %-20s %-11s %-10s %s\n", "", "NAME", "AUTH", "PROTECTED", "SERVER")
			for _, r := range rows {
				mark, prot := "", ""
				if r.Current {
					mark = "*"
				}
				if r.Protected {
					prot = "yes"
				}
				fmt.Fprintf(streams.Out, "%-2s %-20s %-11s %-10s %s\n", mark, r.Name, r.Auth, prot, r.Server)
			}
			where := "no registry file"
			if reg.Path != "" {
				where = "registry " + reg.Path
			}
			fmt.Fprintf(streams.ErrOut, "Current: %s (from %s); %s.\n", current, source, where)
			return nil
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newUseCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var shell, unset bool
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
			if unset {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		ValidArgsFunction: completeClusters(sel),
		RunE: func(_ *cobra.Command, args []string) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			file := filepath.Join(wd, cluster.DirDefaultFile)
			if unset {
				if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				fmt.Fprintf(streams.ErrOut, "No default cluster in %s any more.\n", wd)
				return nil
			}
			reg, err := sel.LoadRegistry()
			if err != nil {
				return err
			}
			c, ok := reg.Find(args[0])
			if !ok {
				return usageError{fmt.Errorf("unknown cluster %q; known: %v", args[0], reg.Names())}
			}
			if c.Protected {
				return fmt.Errorf("cluster %s is protected and cannot be a default: name it with -c %s on each command", c.Name, c.Name)
			}
			if shell {
				fmt.Fprintf(streams.Out, "export %s=%s\n", cluster.EnvCluster, c.Name)
				return nil
			}
			if err := os.WriteFile(file, []byte(c.Name+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "Commands in %s now use cluster %s (written to %s).\n", wd, c.Name, cluster.DirDefaultFile)
			return nil
		},
	}
	cmd.Flags().BoolVar(&shell, "shell", false, "print an export line for the current shell instead of writing "+cluster.DirDefaultFile)
	cmd.Flags().BoolVar(&unset, "unset", false, "remove this directory's default")
	return cmd
}

// completeClusters completes cluster names from the registry.
func completeClusters(sel *cluster.Selection) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		reg, err := sel.LoadRegistry()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return reg.Names(), cobra.ShellCompDirectiveNoFileComp
	}
}
