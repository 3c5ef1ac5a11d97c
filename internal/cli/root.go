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
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/sandbox"
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
	return app.Resolve(f.Selection, fl, need, f.Env)
}

// ResolveCluster resolves the cluster of a command without an app, with the
// repository's spec when there is one (for defaults).
func (f *Factory) ResolveCluster() (*cluster.Target, *spec.File, error) {
	return app.Cluster(f.Selection, f.Env)
}

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

// childDecides is set while kubectl, run or exec run, or OpenTofu plans or
// applies: their child gets the signal and decides when to stop (OpenTofu
// finishes the cloud calls in flight, writes the state and releases its lock;
// killing it would leave the lock held and the state behind the cloud).
var childDecides atomic.Bool

// childStops marks commands whose child stops by itself on an interrupt
// (kube infra plan and apply): kube waits for it, a second Ctrl-C does not.
const childStops = "kube.signals/child-stops"

func exitAfterGrace(ctx context.Context, stop context.CancelFunc) {
	<-ctx.Done()
	stop() // a second Ctrl-C ends kube at once
	if childDecides.Load() {
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
		childDecides.Store(cmd.Annotations[passThrough] != "" || cmd.Annotations[childStops] != "")
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
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	return exitStatusOf(cmd, err)
}

// or is runF when a test gives one, else the command's own run function.
func or[O any](runF, run func(context.Context, *O) error) func(context.Context, *O) error {
	if runF != nil {
		return runF
	}
	return run
}

// exitStatus is an error that carries its exit status (docs/exit-codes.md),
// as kapp's ExitStatus: domain packages give their errors one
// (upgrade.UnreachableError is 3, exitstatus.BadInput 2) without knowing the CLI;
// exitStatusOf is the one place that maps errors to codes.
type exitStatus interface{ ExitStatus() int }

func exitStatusOf(cmd *cobra.Command, err error) int {
	if cmd != nil && cmd.Annotations[passThrough] != "" {
		// The child's own codes are its: kube's failures are 125-127.
		var ce childError
		if errors.As(err, &ce) {
			return ce.code
		}
		return exitKubeError
	}
	var es exitStatus
	if errors.As(err, &es) {
		return es.ExitStatus()
	}
	return exitFailure
}

// usageError marks bad command-line input (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error   { return e.error }
func (e usageError) ExitStatus() int { return exitUsage }

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
	if f.Env.Local == nil {
		f.Env.Local = func() (cluster.LocalCluster, error) { return sandbox.Open(sandbox.DefaultName) }
	}
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

	root.AddCommand(newVersionCmd(f, nil), newSandboxCmd(f, nil), newGenerateCmd(f, nil))
	root.AddCommand(newDeployCmd(f, nil), newDiffCmd(f, nil), newStatusCmd(f, nil), newHistoryCmd(f, nil),
		newRollbackCmd(f, nil), newRunCmd(f, nil))
	root.AddCommand(newClustersCmd(f, nil), newUseCmd(f, nil), newKubectlCmd(f, nil))
	root.AddCommand(newForkCmd(f), newAlertsCmd(f, nil), newSLOCmd(f, nil), newAddonsCmd(f), newUpgradeCmd(f, nil), newCatalogCmd(f, nil), newConsoleCmd(f, nil), newInfraCmd(f, nil))
	root.AddCommand(newPsCmd(f, nil), newLogsCmd(f, nil), newScaleCmd(f, nil), newExecCmd(f, nil))
	return root
}

// outputFlag adds -o/--output (text, json or yaml) to a command.
func outputFlag(cmd *cobra.Command, out *string) {
	addOutputFlag(cmd.Flags(), cmd, out)
}

// addOutputFlag adds -o to a flag set (a command's, or its persistent flags
// for a group of commands): one enum, checked when parsed, so a bad value is
// a usage error (exit 2) before anything runs.
func addOutputFlag(fs *pflag.FlagSet, cmd *cobra.Command, out *string) {
	*out = outputText
	fs.VarP(outputValue{out}, "output", "o", "output format: text, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputText, outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp))
}

// outputValue is -o's value: text, json or yaml.
type outputValue struct{ p *string }

func (v outputValue) String() string {
	if v.p == nil {
		return outputText
	}
	return *v.p
}

func (v outputValue) Set(s string) error {
	if s != outputText && s != outputJSON && s != outputYAML {
		return fmt.Errorf("must be text, json or yaml, not %q", s)
	}
	*v.p = s
	return nil
}

func (outputValue) Type() string { return "format" }

// guard runs the production guard of t for a mutating command.
func (s *IOStreams) guard(t *cluster.Target, yes bool, a cluster.Action) error {
	return t.Guard(a, cluster.GuardIO{In: s.In, ErrOut: s.ErrOut, InTTY: s.InTTY, Yes: yes})
}
