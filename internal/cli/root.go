// Package cli is the thin command-line layer of kube, in the shape of GitHub's
// gh: each command parses its flags into an Options struct and hands it to a run
// function that tests call directly, with I/O injected. The work is done by the
// core packages (app resolves what a command works on; deploy, generate,
// forks, cluster, sandbox do the rest).
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/spec"
)

// Factory is what every command gets: the I/O streams, the user's cluster
// selection (from the global flags) and how to resolve an app.
type Factory struct {
	IO        *IOStreams
	Selection cluster.Selection
	// Env is where app resolution reads (the working directory, the sandbox).
	Env app.Env
}

// ResolveApp resolves the app a command works on (internal/app), once.
func (f *Factory) ResolveApp(fl app.Flags, need app.Need) (*app.App, error) {
	a, err := app.Resolve(f.Selection, fl, need, f.Env)
	var usage app.UsageError
	if errors.As(err, &usage) {
		return nil, usageError{err}
	}
	return a, err
}

// ResolveCluster resolves the cluster of a command without an app, with the
// repository's spec when there is one (for defaults).
func (f *Factory) ResolveCluster() (*cluster.Target, *spec.File, error) {
	return app.Cluster(f.Selection, f.Env)
}

// usageError marks bad command-line input (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Main runs kube with the process's arguments and returns the exit code.
func Main() int {
	// client-go libraries (leader election for the deploy lock) log through klog:
	// kube reports what matters itself.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go exitAfterGrace(ctx, stop)
	return Run(ctx, SystemStreams(), os.Args[1:])
}

// interruptGrace is how long a command has, after SIGINT or SIGTERM, to stop
// by itself (release a deploy lock, restore a fork) before kube exits anyway:
// work that cannot watch the context (Prometheus rule tests, Helm's template
// engine) must not make kube ignore Ctrl-C or CI's timeout.
const interruptGrace = 10 * time.Second

// passThroughRunning is set while kubectl, run or exec run: their child gets
// the signals and decides.
var passThroughRunning atomic.Bool

func exitAfterGrace(ctx context.Context, stop context.CancelFunc) {
	<-ctx.Done()
	stop() // a second Ctrl-C ends kube at once
	if passThroughRunning.Load() {
		return
	}
	timer := time.NewTimer(interruptGrace)
	<-timer.C
	fmt.Fprintln(os.Stderr, "kube: interrupted, and the command did not stop within", interruptGrace)
	os.Exit(130)
}

// Exit codes (docs/exit-codes.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitUnreachable: the cluster is not there to ask (unreachable, or the
	// sandbox stopped), which is neither a finding nor bad input.
	exitUnreachable = 3
	exitKubeError   = 125 // run, exec, kubectl: kube itself failed, the command did not run
	exitCannotRun   = 126 // the command was found but could not be started
	exitNotFound    = 127 // the command (kubectl) was not found
)

// passThrough marks commands whose exit code is their child's (run, exec,
// kubectl): kube's own failures then use 125-127, as docker run does, so that a
// script can tell them from the child's codes.
const passThrough = "kube.exit-codes/pass-through"

// Run executes one command line; errors are printed to ErrOut.
func Run(ctx context.Context, streams *IOStreams, args []string) int {
	root := NewRootCmd(&Factory{IO: streams})
	root.SetArgs(args)
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		passThroughRunning.Store(cmd.Annotations[passThrough] != "")
	}
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
	var unreachable unreachableError
	if errors.As(err, &unreachable) {
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
		return exitUnreachable
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

// unreachableError marks a cluster that could not be reached (exit 3).
type unreachableError struct{ error }

func (e unreachableError) Unwrap() error { return e.error }

// exitCode ends the command with a status and no extra message (the command has
// already printed what went wrong).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// childError is a failure to start the child of a pass-through command.
type childError struct {
	error
	code int
}

// clusterHelp lists where -c comes from, in the order kube looks.
const clusterHelp = `cluster to talk to, a name from the registry; without -c: $` + cluster.EnvCluster + `, then the
directory's ` + cluster.DirDefaultFile + ` (kube use), then cluster: of ` + spec.FileName + `, then "local" (the
sandbox). A protected cluster is taken only from -c or $` + cluster.EnvCluster

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
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
  kube clusters            the clusters you can use

Output: -o json or -o yaml for machines. Colors only on a terminal; NO_COLOR turns
them off, CLICOLOR_FORCE on, TERM=dumb turns off colors and redrawn progress lines.
Exit codes: docs/exit-codes.md.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVarP(&f.Selection.Cluster, "cluster", "c", "", clusterHelp)
	pf.StringVar(&f.Selection.Kubeconfig, "kubeconfig", "", "use this kubeconfig file instead of a named cluster")
	pf.StringVar(&f.Selection.Context, "context", "", "context of --kubeconfig to use (default: its current context)")
	pf.StringVar(&f.Selection.Registry, "registry", "", "cluster registry file (default $"+cluster.EnvRegistry+", else ~/.config/kube/clusters.yaml)")
	_ = root.RegisterFlagCompletionFunc("cluster", completeClusters(f))

	root.AddCommand(newVersionCmd(f, nil), newSandboxCmd(f), newGenerateCmd(f, nil))
	root.AddCommand(newDeployCmd(f, nil), newDiffCmd(f, nil), newStatusCmd(f, nil), newHistoryCmd(f, nil),
		newRollbackCmd(f, nil), newRunCmd(f, nil))
	root.AddCommand(newClustersCmd(f, nil), newUseCmd(f, nil), newKubectlCmd(f, nil))
	root.AddCommand(newForkCmd(f), newAlertsCmd(f), newSLOCmd(f), newAddonsCmd(f), newUpgradeCmd(f), newCatalogCmd(f), newConsoleCmd(f))
	root.AddCommand(newPsCmd(f, nil), newLogsCmd(f, nil), newScaleCmd(f, nil), newExecCmd(f, nil))
	return root
}

// outputFlag adds -o/--output (text, json or yaml) to a command.
func outputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", outputText, "output format: text, json or yaml")
}

// guard runs the production guard of t for a mutating command.
func (s *IOStreams) guard(t *cluster.Target, yes bool, a cluster.Action) error {
	return t.Guard(a, cluster.GuardIO{In: s.In, ErrOut: s.ErrOut, InTTY: s.InTTY, Yes: yes})
}
