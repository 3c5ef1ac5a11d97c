package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
)

// Heroku-style verbs where kubectl is verbose: ps, logs, exec, scale.

func newPsCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	return appView(streams, sel, &cobra.Command{Use: "ps", Short: "List the app's processes (Deployments) and their pods"},
		func(ctx context.Context, t *target) ([]deploy.Process, error) {
			return t.client.Processes(ctx, t.app, t.namespace)
		},
		func(_ *target, procs []deploy.Process) {
			for _, p := range procs {
				fmt.Fprintf(streams.Out, "%s: %d/%d ready  %s\n", p.Name, p.Ready, p.Desired, strings.Join(p.Images, ", "))
				for _, pod := range p.Pods {
					fmt.Fprintf(streams.Out, "  %-45s %-11s %-5s restarts %-3d %s\n", pod.Name, pod.Phase, pod.Ready, pod.Restarts, pod.Node)
				}
			}
		})
}

func newLogsCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var follow bool
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs [PROCESS]",
		Short: "Show the logs of every pod of a process (default: all processes), prefixed by pod",
		Example: `  kube logs -c qa
  kube logs -c qa web -f --tail 100`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeProcesses(&a, sel),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.resolveDeployed(sel)
			if err != nil {
				return err
			}
			o := deploy.LogOptions{App: t.app, Namespace: t.namespace, Follow: follow, Tail: tail, Color: streams.OutTTY}
			if len(args) == 1 {
				o.Process = args[0]
			}
			return t.client.Logs(cmd.Context(), o, streams.Out)
		},
	}
	a.registerFlags(cmd, "")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming new lines")
	cmd.Flags().Int64Var(&tail, "tail", 0, "only the last N lines of each pod (0: all)")
	return cmd
}

func newScaleCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "scale PROCESS=N",
		Short: "Set the number of pods of a process (guarded on protected clusters)",
		Long: `Set the number of pods of a process right away, without a deploy. The next
kube deploy sets the count of the manifests again.`,
		Example: "  kube scale -c qa web=4",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			names, dir := completeProcesses(&a, sel)(cmd, args, toComplete)
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
			t, err := a.resolveDeployed(sel)
			if err != nil {
				return err
			}
			if err := streams.guard(t.cluster, yes, cluster.Action{What: fmt.Sprintf("scale %s of %s to %d", name, t.app, replicas)}); err != nil {
				return err
			}
			before, err := t.client.Scale(cmd.Context(), t.app, t.namespace, name, int32(replicas))
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "Scaled %s of %s from %d to %d.\n", name, t.app, before, replicas)
			return nil
		},
	}
	a.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	return cmd
}

func newExecCmd(streams *IOStreams, sel *cluster.Selection) *cobra.Command {
	var a appFlags
	var yes bool
	cmd := &cobra.Command{
		Use:               "exec PROCESS -- COMMAND [ARG...]",
		Short:             "Run a command in a running pod of a process (through kubectl exec)",
		Example:           `  kube exec -c qa web -- bin/rails console`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeProcesses(&a, sel),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return usageError{fmt.Errorf("use kube exec PROCESS -- COMMAND")}
			}
			t, err := a.resolveDeployed(sel)
			if err != nil {
				return err
			}
			if err := streams.guard(t.cluster, yes, cluster.Action{What: fmt.Sprintf("exec %q in %s of %s", strings.Join(args[1:], " "), args[0], t.app)}); err != nil {
				return err
			}
			kubectl, err := findKubectl()
			if err != nil {
				return err
			}
			kargs := []string{"exec", "-n", t.namespace, "deployment/" + args[0]}
			if streams.InTTY {
				kargs = append(kargs, "-it")
			}
			code, err := runKubectl(streams, kubectl, t.cluster, append(append(kargs, "--"), args[1:]...))
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	a.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	cmd.Annotations = map[string]string{passThrough: "exec"}
	return cmd
}

// completeProcesses completes the app's process names from the cluster.
func completeProcesses(a *appFlags, sel *cluster.Selection) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		t, err := a.resolveDeployed(sel)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		procs, err := t.client.Processes(cmd.Context(), t.app, t.namespace)
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
