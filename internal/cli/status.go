package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/deploy"
)

// ViewOptions are those of the read-only commands about a deployed app
// (status, history, ps).
type ViewOptions struct {
	appOptions
	Output string
}

// appView builds a read-only command about a deployed app: it resolves the app,
// fetches what to show, and prints it with -o json|yaml or as text.
func appView[T any](f *Factory, runF func(context.Context, *ViewOptions) error, cmd *cobra.Command,
	fetch func(context.Context, *app.App, *deploy.Client) (T, error), text func(*IOStreams, *app.App, T) error) *cobra.Command {
	o := &ViewOptions{appOptions: newAppOptions(f)}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(c.Context(), o)
		}
		a, client, err := o.resolve(app.NeedDeployed)
		if err != nil {
			return err
		}
		v, err := fetch(c.Context(), a, client)
		if err != nil {
			return err
		}
		if done, err := o.IO.structured(o.Output, v); done || err != nil {
			return err
		}
		return text(o.IO, a, v)
	}
	o.appOptions.register(cmd, "f")
	outputFlag(cmd, &o.Output)
	return cmd
}

func newStatusCmd(f *Factory, runF func(context.Context, *ViewOptions) error) *cobra.Command {
	return appView(f, runF, &cobra.Command{
		Use:   "status",
		Short: "Show what the app runs: its objects and their readiness, pods, current revision, last events",
		Example: `  kube status -c qa
  kube status -c prod --app billing -n payments -o json`,
	},
		func(ctx context.Context, a *app.App, c *deploy.Client) (*deploy.AppStatus, error) {
			return c.Status(ctx, a.Name, a.Namespace)
		}, printAppStatus)
}

func printAppStatus(io *IOStreams, a *app.App, st *deploy.AppStatus) error {
	w := io.Out
	fmt.Fprintf(w, "app:       %s\ncluster:   %s\nnamespace: %s\nstatus:    %s\n", st.App, a.Cluster.Name, st.Namespace, st.Verdict)
	if r := st.Revision; r != nil {
		fmt.Fprintf(w, "revision:  %d (%s by %s, %s)\n", r.Number, r.Time.Local().Format("2006-01-02 15:04:05"), r.User, r.Cause)
	}
	fmt.Fprintln(w)
	objects := io.newTable("OBJECT", "STATUS", "MESSAGE")
	for _, o := range st.Objects {
		objects.row(o.ID.Kind+"/"+o.ID.Name, o.Status, o.Message)
	}
	for _, m := range st.Missing {
		objects.row(m, "Missing", "recorded in the inventory but not in the cluster")
	}
	if err := objects.print(); err != nil {
		return err
	}
	if len(st.Pods) > 0 {
		fmt.Fprintln(w)
		pods := io.newTable("WORKLOAD", "POD", "PHASE", "READY", "RESTARTS", "NODE")
		for _, p := range st.Pods {
			pods.row(p.Workload, p.Name, p.Phase, p.Ready, fmt.Sprint(p.Restarts), p.Node)
		}
		if err := pods.print(); err != nil {
			return err
		}
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(w, "\nLAST EVENTS")
		events := io.newTable("TIME", "TYPE", "OBJECT", "REASON", "MESSAGE")
		for _, e := range st.Events {
			events.row(e.Time.Local().Format("15:04:05"), e.Type, e.Object, e.Reason, e.Message)
		}
		return events.print()
	}
	return nil
}

func newHistoryCmd(f *Factory, runF func(context.Context, *ViewOptions) error) *cobra.Command {
	return appView(f, runF, &cobra.Command{Use: "history", Short: "List the app's recorded revisions, newest first"},
		func(ctx context.Context, a *app.App, c *deploy.Client) ([]deploy.Revision, error) {
			return c.History(ctx, a.Name, a.Namespace)
		}, printHistory)
}

func printHistory(io *IOStreams, a *app.App, hist []deploy.Revision) error {
	if len(hist) == 0 {
		fmt.Fprintf(io.ErrOut, "%s has no revisions on cluster %s (namespace %s).\n", a.Name, a.Cluster.Name, a.Namespace)
		return nil
	}
	t := io.newTable("REVISION", "TIME", "USER", "COMMIT", "OBJECTS", "CAUSE / IMAGES")
	for _, r := range hist {
		t.row(fmt.Sprint(r.Number), r.Time.Local().Format("2006-01-02 15:04:05"), r.User, r.Commit, fmt.Sprint(r.Objects),
			strings.TrimSpace(r.Cause+" "+strings.Join(r.Images, ",")))
	}
	return t.print()
}

func newPsCmd(f *Factory, runF func(context.Context, *ViewOptions) error) *cobra.Command {
	return appView(f, runF, &cobra.Command{Use: "ps", Short: "List the app's processes (Deployments) and their pods"},
		func(ctx context.Context, a *app.App, c *deploy.Client) ([]deploy.Process, error) {
			return c.Processes(ctx, a.Name, a.Namespace)
		}, printProcesses)
}

func printProcesses(io *IOStreams, _ *app.App, procs []deploy.Process) error {
	for _, p := range procs {
		fmt.Fprintf(io.Out, "%s: %d/%d ready  %s\n", p.Name, p.Ready, p.Desired, strings.Join(p.Images, ", "))
		pods := io.newTable("  POD", "PHASE", "READY", "RESTARTS", "NODE", "AGE")
		for _, pod := range p.Pods {
			age := ""
			if !pod.Started.IsZero() {
				age = duration.HumanDuration(time.Since(pod.Started))
			}
			pods.row("  "+pod.Name, pod.Phase, pod.Ready, fmt.Sprint(pod.Restarts), pod.Node, age)
		}
		if len(p.Pods) > 0 {
			if err := pods.print(); err != nil {
				return err
			}
		}
	}
	return nil
}
