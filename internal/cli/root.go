// Package cli is the thin command-line layer of kube: it parses flags, calls the
// core packages and prints. It holds no logic that a test of the core would miss.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/klog/v2"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/progress"
)

// IOStreams are injected so that every command runs in tests without a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY is true when ErrOut is a terminal: progress redraws lines in place.
	ErrTTY bool
	// InTTY is true when In is a terminal: commands may ask for confirmation.
	InTTY bool
	// OutTTY is true when Out is a terminal: diffs are colored.
	OutTTY bool
}

// SystemStreams are the process's standard streams.
func SystemStreams() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "",
	}
}

// Progress reports long steps on the error stream, keeping stdout for results.
func (s *IOStreams) Progress() *progress.Reporter {
	return &progress.Reporter{Out: s.ErrOut, TTY: s.ErrTTY}
}

// Diff colors a unified diff on a terminal: additions green, removals red.
func (s *IOStreams) Diff(d string) string {
	if !s.OutTTY || d == "" {
		return d
	}
	lines := strings.SplitAfter(d, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(trimmed, "+++"), strings.HasPrefix(trimmed, "---"):
			lines[i] = "\033[1m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "+"):
			lines[i] = "\033[32m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "-"):
			lines[i] = "\033[31m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		case strings.HasPrefix(trimmed, "@@"):
			lines[i] = "\033[36m" + strings.TrimSuffix(l, "\n") + "\033[0m\n"
		}
	}
	return strings.Join(lines, "")
}

// guard runs the production guard of t for a mutating command.
func (s *IOStreams) guard(t *cluster.Target, yes bool, a cluster.Action) error {
	return t.Guard(a, cluster.GuardIO{In: s.In, ErrOut: s.ErrOut, InTTY: s.InTTY, Yes: yes})
}

// usageError marks bad command-line input (exit code 2).
type usageError struct{ error }

// Main runs kube with the process's arguments and returns the exit code.
func Main() int {
	// client-go libraries (leader election for the deploy lock) log through klog:
	// kube reports what matters itself.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, SystemStreams(), os.Args[1:])
}

// Exit codes (docs/exit-codes.md).
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitKubeError = 125 // run, exec, kubectl: kube itself failed, the command did not run
	exitCannotRun = 126 // the command was found but could not be started
	exitNotFound  = 127 // the command (kubectl) was not found
)

// passThrough marks commands whose exit code is their child's (run, exec,
// kubectl): kube's own failures then use 125-127, as docker run does, so that a
// script can tell them from the child's codes.
const passThrough = "kube.exit-codes/pass-through"

// Run executes one command line; errors are printed to ErrOut.
func Run(ctx context.Context, streams *IOStreams, args []string) int {
	root := NewRootCmd(streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if s := cluster.APIStats(); s != "" {
		fmt.Fprintln(streams.ErrOut, s)
	}
	if err == nil {
		return exitOK
	}
	var exit exitCode
	if errors.As(err, &exit) {
		return int(exit)
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	var usage usageError
	switch {
	case cmd != nil && cmd.Annotations[passThrough] != "":
		var ce childError
		if errors.As(err, &ce) {
			return ce.code
		}
		return exitKubeError
	case errors.As(err, &usage):
		return exitUsage
	}
	return exitFailure
}

// exitCode ends the command with a status and no extra message (the command has
// already printed what went wrong).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// childError is a failure to start the child of a pass-through command.
type childError struct {
	error
	code int
}

// NewRootCmd builds the command tree.
func NewRootCmd(streams *IOStreams) *cobra.Command {
	sel := &cluster.Selection{}
	root := &cobra.Command{
		Use:   "kube",
		Short: "kube = kubectl + development features: ship services to Kubernetes safely with one command",
		Long: `kube is the developers' and CI's command for the platform's Kubernetes clusters.

It picks the cluster for you (-c NAME, from the organisation's registry) and never
uses ~/.kube/config or $KUBECONFIG implicitly, so a command cannot land on whatever
cluster happens to be current. Protected clusters ask for confirmation.

Start here:
  kube sandbox up          start a local cluster of real Kubernetes components
  kube generate --update   write kubernetes/<cluster>/ from kube-generate.yaml
  kube deploy              show the changes, apply, prune, wait, record a revision
  kube status              what the app runs
  kube clusters            the clusters you can use`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVarP(&sel.Cluster, "cluster", "c", "", `cluster to talk to (default $`+cluster.EnvCluster+`, else "local": the sandbox)`)
	pf.StringVar(&sel.Kubeconfig, "kubeconfig", "", "use this kubeconfig file instead of a named cluster")
	pf.StringVar(&sel.Context, "context", "", "context of --kubeconfig to use (default: its current context)")
	pf.StringVar(&sel.Registry, "registry", "", "cluster registry file (default $"+cluster.EnvRegistry+", else ~/.config/kube/clusters.yaml)")
	_ = root.RegisterFlagCompletionFunc("cluster", completeClusters(sel))

	root.AddCommand(newVersionCmd(streams, sel))
	root.AddCommand(newSandboxCmd(streams))
	root.AddCommand(newGenerateCmd(streams))
	addDeployCmds(root, streams, sel)
	root.AddCommand(newClustersCmd(streams, sel), newUseCmd(streams, sel), newKubectlCmd(streams, sel))
	root.AddCommand(newForkCmd(streams, sel))
	root.AddCommand(newPsCmd(streams, sel), newLogsCmd(streams, sel), newScaleCmd(streams, sel), newExecCmd(streams, sel))
	return root
}

// outputFlag adds -o/--output (text or json) to a command.
func outputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "text", "output format: text or json")
}

func checkOutput(out string) error {
	if out != "text" && out != "json" {
		return usageError{fmt.Errorf("--output must be text or json, not %q", out)}
	}
	return nil
}
