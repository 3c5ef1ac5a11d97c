package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
)

// Heroku-style verbs where kubectl is verbose: run, logs, scale, exec (and ps,
// in status.go).

// RunOptions are kube run's.
type RunOptions struct {
	appOptions
	Process string
	Command []string
	Timeout time.Duration
	Keep    bool
	Yes     bool
	Output  string
}

func newRunCmd(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARG...]",
		Short: "Run a one-off task (a migration, a script) in a pod like the app's, and return its exit code",
		Long: `Run a one-off task the way heroku run and hako oneshot do: a Job is started from
the app's Deployment pod template (same image, environment, secrets, volumes and
service account), with COMMAND instead of the container's command. Its logs are
streamed, kube exits with the task's exit code, and the Job is deleted afterwards
(--keep leaves it; the cluster removes it after an hour anyway).

The Job's pods get their own labels, so the app's Services never send them traffic.
kube's own failures exit 125 (docs/exit-codes.md), never a code the task could use.`,
		Example: `  kube run -c qa -- bin/rails db:migrate
  kube run -c qa --process worker -- ./scripts/reindex.sh --all
  kube run -c prod --app billing -n payments --yes -- bin/rails db:migrate:status`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageError{errors.New("put the command after --, e.g. kube run -- bin/rails db:migrate")}
			}
			o.Command = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRun(cmd.Context(), o)
		},
	}
	o.appOptions.register(cmd, "f")
	cmd.Flags().StringVar(&o.Process, "process", "", "Deployment whose pod template to use (default: the app's web process)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", time.Hour, "stop the task after this long")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the Job after it ends")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	outputFlag(cmd, &o.Output)
	cmd.Annotations = map[string]string{passThrough: "run"}
	return cmd
}

// runResult is what kube run -o json prints (the task's logs go to stderr then).
type runResult struct {
	App      string   `json:"app"`
	Command  []string `json:"command"`
	ExitCode int      `json:"exitCode"`
}

func runRun(ctx context.Context, o *RunOptions) error {
	a, c, err := o.resolve(app.NeedDeployed)
	if err != nil {
		return err
	}
	if err := o.IO.guard(a.Cluster, o.Yes, cluster.Action{What: fmt.Sprintf("run %q as %s", strings.Join(o.Command, " "), a.Name), NotFromTree: true}); err != nil {
		return err
	}
	logs := o.IO.Out
	if o.Output != outputText {
		logs = o.IO.ErrOut // stdout is the result
	}
	code, err := c.Run(ctx, deploy.RunOptions{
		App: a.Name, Namespace: a.Namespace, Process: o.Process, Command: o.Command,
		Timeout: o.Timeout, Keep: o.Keep, Logs: logs, Progress: o.IO.Progress(),
	})
	if err != nil {
		return err
	}
	if _, err := o.IO.structured(o.Output, runResult{App: a.Name, Command: o.Command, ExitCode: code}); err != nil {
		return err
	}
	if code != 0 {
		fmt.Fprintf(o.IO.ErrOut, "The task exited with code %d.\n", code)
		return exitCode(code)
	}
	return nil
}

// LogsOptions are kube logs'.
type LogsOptions struct {
	appOptions
	Process string
	Follow  bool
	Tail    int64
}

func newLogsCmd(f *Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	o := &LogsOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "logs [PROCESS]",
		Short: "Show the logs of every pod of a process (default: all processes), prefixed by pod",
		Example: `  kube logs -c qa
  kube logs -c qa web -f --tail 100`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeProcesses(&o.appOptions),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Process = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			a, c, err := o.resolve(app.NeedDeployed)
			if err != nil {
				return err
			}
			return c.Logs(cmd.Context(), deploy.LogOptions{App: a.Name, Namespace: a.Namespace, Process: o.Process,
				Follow: o.Follow, Tail: o.Tail, Color: o.IO.Color()}, o.IO.Out)
		},
	}
	o.appOptions.register(cmd, "")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep streaming new lines")
	cmd.Flags().Int64Var(&o.Tail, "tail", 0, "only the last N lines of each pod (0: all)")
	return cmd
}

// ScaleOptions are kube scale's.
type ScaleOptions struct {
	appOptions
	Process  string
	Replicas int32
	Yes      bool
	Output   string
}

func newScaleCmd(f *Factory, runF func(context.Context, *ScaleOptions) error) *cobra.Command {
	o := &ScaleOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "scale PROCESS=N",
		Short: "Set the number of pods of a process (guarded on protected clusters)",
		Long: `Set the number of pods of a process right away, without a deploy. The next
kube deploy sets the count of the manifests again. A process scaled by a
HorizontalPodAutoscaler is refused: change the autoscaler's bounds.`,
		Example: "  kube scale -c qa web=4",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			names, dir := completeProcesses(&o.appOptions)(cmd, args, toComplete)
			for i := range names {
				names[i] += "="
			}
			return names, dir | cobra.ShellCompDirectiveNoSpace
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, ok := strings.Cut(args[0], "=")
			replicas, err := strconv.ParseInt(n, 10, 32)
			if !ok || name == "" || err != nil || replicas < 0 {
				return usageError{fmt.Errorf("%q: use PROCESS=N, e.g. web=3", args[0])}
			}
			o.Process, o.Replicas = name, int32(replicas)
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runScale(cmd.Context(), o)
		},
	}
	o.appOptions.register(cmd, "f")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	outputFlag(cmd, &o.Output)
	return cmd
}

// scaleResult is what kube scale -o json prints.
type scaleResult struct {
	App     string `json:"app"`
	Process string `json:"process"`
	Before  int32  `json:"before"`
	After   int32  `json:"after"`
}

func runScale(ctx context.Context, o *ScaleOptions) error {
	a, c, err := o.resolve(app.NeedDeployed)
	if err != nil {
		return err
	}
	if err := o.IO.guard(a.Cluster, o.Yes, cluster.Action{What: fmt.Sprintf("scale %s of %s to %d", o.Process, a.Name, o.Replicas), NotFromTree: true}); err != nil {
		return err
	}
	before, err := c.Scale(ctx, a.Name, a.Namespace, o.Process, o.Replicas)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, scaleResult{App: a.Name, Process: o.Process, Before: before, After: o.Replicas}); done || err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Scaled %s of %s from %d to %d.\n", o.Process, a.Name, before, o.Replicas)
	return nil
}

// ExecOptions are kube exec's.
type ExecOptions struct {
	appOptions
	Process string
	Command []string
	Yes     bool
}

func newExecCmd(f *Factory, runF func(context.Context, *ExecOptions) error) *cobra.Command {
	o := &ExecOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:               "exec PROCESS -- COMMAND [ARG...]",
		Short:             "Run a command in a running pod of a process (through kubectl exec)",
		Example:           `  kube exec -c qa web -- bin/rails console`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeProcesses(&o.appOptions),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return usageError{fmt.Errorf("use kube exec PROCESS -- COMMAND")}
			}
			o.Process, o.Command = args[0], args[1:]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExec(o)
		},
	}
	o.appOptions.register(cmd, "f")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	cmd.Annotations = map[string]string{passThrough: "exec"}
	return cmd
}

func runExec(o *ExecOptions) error {
	a, err := o.Resolve(o.App, app.NeedDeployed)
	if err != nil {
		return err
	}
	if err := o.IO.guard(a.Cluster, o.Yes, cluster.Action{What: fmt.Sprintf("exec %q in %s of %s", strings.Join(o.Command, " "), o.Process, a.Name), NotFromTree: true}); err != nil {
		return err
	}
	kubectl, err := findKubectl()
	if err != nil {
		return err
	}
	kargs := []string{"exec", "-n", a.Namespace, "deployment/" + o.Process}
	if o.IO.InTTY {
		kargs = append(kargs, "-it")
	}
	code, err := runKubectl(o.IO, kubectl, a.Cluster, append(append(kargs, "--"), o.Command...))
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// completeProcesses completes the app's process names from the cluster.
func completeProcesses(o *appOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		a, c, err := o.resolve(app.NeedDeployed)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		procs, err := c.Processes(cmd.Context(), a.Name, a.Namespace)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, p := range procs {
			names = append(names, p.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
