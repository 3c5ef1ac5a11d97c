package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

// SandboxOptions are those of the kube sandbox commands.
type SandboxOptions struct {
	IO          *IOStreams
	Name        string
	Port, Nodes int
	Output      string
	PathOnly    bool
	// Action is the subcommand: up, down, status or kubeconfig.
	Action string
}

func newSandboxCmd(f *Factory, runF func(context.Context, *SandboxOptions) error) *cobra.Command {
	o := &SandboxOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a local Kubernetes cluster of real components (etcd, kube-apiserver, ...) with fake nodes",
		Long: `The sandbox is a local cluster made of the real Kubernetes control plane (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler) and kwok, which plays 2
nodes and the pods on them: Deployments roll out and pods become Ready, without
a container engine, images or internet.

The first "up" builds the components from the Go module proxy (about 12 minutes
on 2 cores) and caches them in ~/.cache/kube/sandbox (or $KUBE_CACHE_DIR); later
starts take seconds. Its files live in ~/.local/state/kube/sandbox/NAME
(or $KUBE_STATE_DIR); "down" removes them all.

Other commands reach the sandbox with -c local (the default).`,
		Example: `  kube sandbox up
  kube sandbox status
  export KUBECONFIG=$(kube sandbox kubeconfig --path)
  kube sandbox down`,
	}
	cmd.PersistentFlags().StringVar(&o.Name, "name", sandbox.DefaultName, "sandbox name, to run several side by side")
	action := func(name string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			o.Action = name
			return or(runF, runSandbox)(c.Context(), o)
		}
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Start the sandbox (building its components the first time); a no-op when it is running",
		Args:  cobra.NoArgs,
		RunE:  action("up"),
	}
	outputFlag(up, &o.Output)
	up.Flags().IntVar(&o.Port, "port", 0, "API server port (0 picks a free one)")
	up.Flags().IntVar(&o.Nodes, "nodes", sandbox.DefaultNodes, "number of fake nodes")
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the sandbox and remove all its files",
		Args:  cobra.NoArgs,
		RunE:  action("down"),
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Tell whether the sandbox is up, its API server, kubeconfig, components and nodes",
		Long: `Tell whether the sandbox is up, its API server address, its kubeconfig path, its
components and its nodes. Exit status: 0 running, 3 stopped, 1 broken (a component
exited: the last lines of its log and the log's path are shown) or outdated (started
by another version of kube; up restarts it).`,
		Args: cobra.NoArgs,
		RunE: action("status"),
	}
	outputFlag(status, &o.Output)
	kubeconfig := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the sandbox's admin kubeconfig (or only its path with --path)",
		Args:  cobra.NoArgs,
		RunE:  action("kubeconfig"),
	}
	kubeconfig.Flags().BoolVar(&o.PathOnly, "path", false, "print only the file's path")
	cmd.AddCommand(up, down, status, kubeconfig)
	return cmd
}

// runSandbox runs one sandbox subcommand.
func runSandbox(ctx context.Context, o *SandboxOptions) error {
	sb, err := sandbox.Open(o.Name)
	if errors.Is(err, sandbox.ErrInvalidName) {
		return usageError{err}
	} else if err != nil {
		return err
	}
	streams := o.IO
	switch o.Action {
	case "up":
		start := time.Now()
		already, err := sb.Up(ctx, sandbox.UpOptions{Port: o.Port, Nodes: o.Nodes, Progress: streams.Progress()})
		if err != nil {
			return err
		}
		st := sb.Status(ctx)
		if already {
			fmt.Fprintf(streams.ErrOut, "Sandbox %q is already up; nothing to do.\n", sb.Name)
		} else {
			fmt.Fprintf(streams.ErrOut, "Sandbox %q is up (%s).\n", sb.Name, progress.Round(time.Since(start)))
		}
		if done, err := streams.structured(o.Output, st); done || err != nil {
			return err
		}
		printStatus(streams, st)
		return nil
	case "down":
		existed, err := sb.Down(ctx)
		if err != nil {
			return err
		}
		if existed {
			fmt.Fprintf(streams.ErrOut, "Sandbox %q is down; removed %s.\n", sb.Name, sb.Dir)
		} else {
			fmt.Fprintf(streams.ErrOut, "Sandbox %q is not running; nothing to do.\n", sb.Name)
		}
		return nil
	case "status":
		st := sb.Status(ctx)
		if done, err := streams.structured(o.Output, st); err != nil {
			return err
		} else if !done {
			printStatus(streams, st)
		}
		switch st.State {
		case sandbox.StateStopped:
			return exitCode(exitUnreachable)
		case sandbox.StateBroken, sandbox.StateOutdated:
			return exitCode(exitFailure)
		}
		return nil
	case "kubeconfig":
		if _, err := sb.RESTConfig(); err != nil {
			return err
		}
		if o.PathOnly {
			fmt.Fprintln(streams.Out, sb.KubeconfigPath())
			return nil
		}
		data, err := os.ReadFile(sb.KubeconfigPath())
		if err != nil {
			return err
		}
		_, err = streams.Out.Write(data)
		return err
	}
	return usageError{fmt.Errorf("no sandbox action %q", o.Action)}
}

func printStatus(streams *IOStreams, st sandbox.Status) {
	w := streams.Out
	fmt.Fprintf(w, "sandbox:    %s\nstate:      %s\n", st.Name, st.State)
	if st.State == sandbox.StateStopped {
		fmt.Fprintln(w, "            start it with: kube sandbox up")
		return
	}
	if st.Server != "" {
		fmt.Fprintf(w, "server:     %s (%s)\n", st.Server, st.Version)
	}
	if st.Kubeconfig != "" {
		fmt.Fprintf(w, "kubeconfig: %s\n", st.Kubeconfig)
	}
	var comps []string
	for _, c := range st.Components {
		mark := ""
		if !c.Running {
			mark = " (exited)"
		}
		comps = append(comps, c.Name+mark)
	}
	if len(comps) > 0 {
		fmt.Fprintf(w, "components: %s\n", strings.Join(comps, ", "))
	}
	if len(st.Nodes) > 0 {
		fmt.Fprintln(w)
		t := streams.newTable("NODE", "STATUS", "VERSION")
		for _, n := range st.Nodes {
			ready := "NotReady"
			if n.Ready {
				ready = "Ready"
			}
			t.row(n.Name, ready, n.Version)
		}
		_ = t.print()
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "\nproblem: %s\n", p)
	}
}
