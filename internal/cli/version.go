package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/spec"
	"github.com/kube-idp/kube/internal/version"
)

type versionInfo struct {
	Client    string `json:"client"`
	Go        string `json:"go"`
	Cluster   string `json:"cluster,omitempty"`
	Server    string `json:"server,omitempty"`
	ServerErr string `json:"serverError,omitempty"`
}

// VersionOptions are kube version's.
type VersionOptions struct {
	IO      *IOStreams
	Output  string
	Resolve func() (*cluster.Target, *spec.File, error)
}

func newVersionCmd(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	o := &VersionOptions{IO: f.IO, Resolve: f.ResolveCluster}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kube, of Go, and of the cluster's API server if reachable",
		Long: `Print the version of kube and the Go toolchain that built it, and, when the
selected cluster answers within 3 seconds, the version of its API server.
An unreachable cluster is reported but is not an error.`,
		Example: "  kube version\n  kube version -c local -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runVersion(o)
		},
	}
	outputFlag(cmd, &o.Output)
	return cmd
}

func runVersion(o *VersionOptions) error {
	info := versionInfo{Client: version.String(), Go: version.GoVersion()}
	if t, _, err := o.Resolve(); err != nil {
		info.ServerErr = err.Error()
	} else {
		info.Cluster = t.Name
		info.Server, err = serverVersion(t.Config)
		if err != nil {
			info.ServerErr = err.Error()
		}
	}
	if done, err := o.IO.structured(o.Output, info); done || err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "kube:   %s\ngo:     %s\n", info.Client, info.Go)
	if info.Server != "" {
		fmt.Fprintf(o.IO.Out, "server: %s (cluster %s)\n", info.Server, info.Cluster)
	} else {
		fmt.Fprintf(o.IO.Out, "server: not reachable: %s\n", info.ServerErr)
	}
	return nil
}

// serverVersion asks the API server for its version, giving up after 3 seconds.
func serverVersion(cfg *rest.Config) (string, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 3 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}
