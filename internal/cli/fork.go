package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/forkconnect"
	"github.com/kube-idp/kube/internal/forks"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/spec"
	"github.com/kube-idp/kube/internal/yamlout"
)

// ForkOptions are what every fork command shares: I/O, the namespace and the
// confirmation on protected clusters, and how to reach the cluster.
type ForkOptions struct {
	IO        *IOStreams
	Namespace string
	Yes       bool
	Output    string
	Resolve   func() (*cluster.Target, *spec.File, error)
	// RepoSpec is the working directory's kube-generate.yaml (nil without one).
	RepoSpec func() *spec.File
}

// connect resolves the cluster (guarding protected ones for changes) and the
// namespace: -n, else the app's of the working directory, else default.
func (o *ForkOptions) connect(change string) (*forks.Client, string, error) {
	t, f, err := o.Resolve()
	if err != nil {
		return nil, "", err
	}
	ns := namespaceOr(o.Namespace, f)
	if change != "" {
		if err := o.IO.guard(t, o.Yes, cluster.Action{What: change + " in namespace " + ns, NotFromTree: true}); err != nil {
			return nil, "", err
		}
	}
	c, err := forks.NewClient(t.Config)
	return c, ns, err
}

func namespaceOr(flag string, f *spec.File) string {
	switch {
	case flag != "":
		return flag
	case f != nil && f.Namespace != "":
		return f.Namespace
	}
	return "default"
}

func newForkCmd(f *Factory) *cobra.Command {
	ff := &ForkOptions{IO: f.IO, Resolve: f.ResolveCluster, RepoSpec: func() *spec.File {
		s, _ := app.RepoSpec(f.Env)
		return s
	}}
	cmd := &cobra.Command{
		Use:   "fork",
		Short: "Personal copies of a few services inside a shared cluster, reached by a header (kubefork)",
		Long: `A fork copies one or more Deployments of a shared namespace (with your image,
environment or arguments) and routes to the copies only the requests that carry
the fork's identifier: the x-fork-identifier header, or the kube-fork member of
the W3C baggage header, which services pass on with servicex. Everyone else keeps
using the shared services. With a preview domain in the namespace's ForkProfile,
https://<identifier>.<domain>/ reaches the fork from a browser.

kube-controller does the work in the cluster; the fork expires by itself after
its TTL. See docs/fork.md.`,
	}
	cmd.PersistentFlags().StringVarP(&ff.Namespace, "namespace", "n", "", "namespace of the shared services (default: namespace of "+spec.FileName+", else default)")
	cmd.PersistentFlags().BoolVarP(&ff.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	cmd.AddCommand(newForkCreateCmd(ff, nil), newForkListCmd(ff, nil), newForkStatusCmd(ff, nil),
		newForkExtendCmd(ff, nil), newForkDeleteCmd(ff, nil), newForkConnectCmd(ff, nil))
	return cmd
}

// ForkCreateOptions are kube fork create's.
type ForkCreateOptions struct {
	*ForkOptions
	Fork                forks.CreateOptions
	Replicas            int32
	TTLFrom             string
	DryRun, NoWait      bool
	Timeout             time.Duration
	replicasChangedFlag bool
}

func newForkCreateCmd(ff *ForkOptions, runF func(context.Context, *ForkCreateOptions) error) *cobra.Command {
	co := &ForkCreateOptions{ForkOptions: ff}
	o := &co.Fork
	cmd := &cobra.Command{
		Use:   "create ID (--deployment NAME | --statefulset NAME | --selector SEL)... [--image REF] [--env K=V] [--ttl D]",
		Short: "Create (or update) a fork and wait until it is ready",
		Long: `Create a fork named ID, or give an existing fork its new spec (a new image for
the same branch). kube waits until kube-controller reports it Ready, then prints
its preview URL.

Name the workloads with --deployment and --statefulset, or pick Deployments by
label with --selector. A StatefulSet's copy gets its own empty volumes, deleted
with the fork; the shared data is never touched.

--image REF sets the image of the first container of every workload;
--image NAME=REF or NAME/CONTAINER=REF picks one (with --selector, NAME may be a
Deployment the selector picks). --env K=V is set in the first container of every
workload.`,
		Example: `  kube fork create alice --deployment web --image registry.example.com/web:my-branch --ttl 8h
  kube fork create alice -n shop --deployment web --deployment api --image api=registry.example.com/api:pr-42
  kube fork create alice --deployment web --env LOG_LEVEL=debug --dry-run
  kube fork create bob --selector team=checkout --image cart=registry.example.com/cart:pr-7
  kube fork create carol --deployment cart --statefulset cart-db --image cart=registry.example.com/cart:pr-7`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			co.replicasChangedFlag = cmd.Flags().Changed("replicas")
			return or(runF, runForkCreate)(cmd.Context(), co)
		},
	}
	cmd.Flags().StringArrayVar(&o.Deployments, "deployment", nil, "Deployment to copy (repeatable)")
	cmd.Flags().StringArrayVar(&o.StatefulSets, "statefulset", nil, "StatefulSet to copy, with new empty volumes (repeatable)")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "copy every Deployment whose labels match this selector (e.g. team=checkout)")
	cmd.Flags().StringArrayVar(&o.Images, "image", nil, "image of the copy: REF, NAME=REF or NAME/CONTAINER=REF (repeatable)")
	cmd.Flags().StringArrayVar(&o.Env, "env", nil, "environment variable K=V of the copies (repeatable)")
	cmd.Flags().Int32Var(&co.Replicas, "replicas", 1, "pods per copy")
	cmd.Flags().DurationVar(&o.TTL, "ttl", 8*time.Hour, "delete the fork after this long (0: never)")
	cmd.Flags().StringVar(&co.TTLFrom, "ttl-from", "creation", "count the TTL from creation or from the last change (last-change)")
	cmd.Flags().StringVar(&o.Profile, "profile", "", "ForkProfile to use (default: the namespace's \"default\" profile)")
	cmd.Flags().BoolVar(&co.DryRun, "dry-run", false, "print the Fork manifest and stop")
	cmd.Flags().BoolVar(&co.NoWait, "no-wait", false, "do not wait until the fork is ready")
	cmd.Flags().DurationVar(&co.Timeout, "timeout", 3*time.Minute, "how long to wait until the fork is ready")
	outputFlag(cmd, &co.Output)
	return cmd
}

func runForkCreate(ctx context.Context, co *ForkCreateOptions) error {
	o, streams := &co.Fork, co.IO
	o.Owner = contract.Who()
	if co.replicasChangedFlag {
		o.Replicas = &co.Replicas
	}
	switch co.TTLFrom {
	case "creation":
		o.TTLFrom = forkv1.TTLFromCreation
	case "last-change":
		o.TTLFrom = forkv1.TTLFromLastChange
	default:
		return usageError{fmt.Errorf("--ttl-from must be creation or last-change, not %q", co.TTLFrom)}
	}
	if co.DryRun {
		o.Namespace = namespaceOr(co.Namespace, co.RepoSpec())
		f, err := forks.Build(*o)
		if err != nil {
			return usageError{err}
		}
		if co.Output == outputJSON {
			return writeJSON(streams.Out, f)
		}
		data, err := yamlout.Marshal(f)
		if err != nil {
			return err
		}
		_, err = streams.Out.Write(data)
		return err
	}
	c, ns, err := co.connect("create fork " + o.ID)
	if err != nil {
		return err
	}
	o.Namespace = ns
	f, err := forks.Build(*o)
	if err != nil {
		return usageError{err}
	}
	created, err := c.Apply(ctx, f)
	if err != nil {
		return err
	}
	verb := map[bool]string{true: "Created", false: "Updated"}[created]
	fmt.Fprintf(streams.ErrOut, "%s fork %s in namespace %s.\n", verb, o.ID, ns)
	if !co.NoWait {
		wctx, cancel := context.WithTimeout(ctx, co.Timeout)
		defer cancel()
		p := streams.Progress()
		err = p.Step("waiting for kube-controller to copy and route", func() error {
			f, err = c.WaitReady(wctx, ns, o.ID, func(state string) {
				if state != "ready" {
					p.Printf("  %s", state)
				}
			})
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(streams.ErrOut, "Fork %s is ready%s.\n", o.ID, expiresIn(forks.ViewOf("", f).ExpiresAt))
		fmt.Fprintf(streams.ErrOut, "Requests with the header %s: %s (or baggage kube-fork=%s; names as in the ForkProfile) reach it.\n", forkv1.DefaultHeader, o.ID, o.ID)
	}
	if done, err := streams.structured(co.Output, forks.ViewOf("", f)); done || err != nil {
		return err
	}
	if f.Status.URL != "" {
		fmt.Fprintln(streams.Out, f.Status.URL)
	}
	return nil
}

func expiresIn(at *time.Time) string {
	if at == nil {
		return ""
	}
	return fmt.Sprintf(", expires in %s", progress.Round(time.Until(*at)))
}

// ForkIDOptions are the options of a fork command on one fork (status,
// extend, delete); list has no ID.
type ForkIDOptions struct {
	*ForkOptions
	ID string
	// By is extend's --by, NoWait delete's --no-wait.
	By     time.Duration
	NoWait bool
}

func newForkListCmd(ff *ForkOptions, runF func(context.Context, *ForkIDOptions) error) *cobra.Command {
	o := &ForkIDOptions{ForkOptions: ff}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the namespace's forks: identifier, owner, age, expiry, ready, URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return or(runF, runForkList)(cmd.Context(), o)
		},
	}
	outputFlag(cmd, &ff.Output)
	return cmd
}

func runForkList(ctx context.Context, o *ForkIDOptions) error {
	c, ns, err := o.connect("")
	if err != nil {
		return err
	}
	list, err := c.List(ctx, ns)
	if err != nil {
		return err
	}
	views := forks.Views("", list)
	if done, err := o.IO.structured(o.Output, views); done || err != nil {
		return err
	}
	if len(views) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "No forks in namespace %s.\n", ns)
		return nil
	}
	t := o.IO.newTable("ID", "OWNER", "AGE", "EXPIRES IN", "READY", "URL")
	for _, v := range views {
		exp := "never"
		if v.ExpiresAt != nil {
			exp = progress.Round(time.Until(*v.ExpiresAt)).String()
		}
		ready := "yes"
		if !v.Ready {
			ready = "no: " + v.State
		}
		t.row(v.ID, orNone(v.Owner), progress.Round(time.Since(v.Created)).String(), exp, ready, orNone(v.URL))
	}
	return t.print()
}

func newForkStatusCmd(ff *ForkOptions, runF func(context.Context, *ForkIDOptions) error) *cobra.Command {
	o := &ForkIDOptions{ForkOptions: ff}
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a fork's conditions, copies, routes, URL and expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return or(runF, runForkStatus)(cmd.Context(), o)
		},
	}
	outputFlag(cmd, &ff.Output)
	return cmd
}

func runForkStatus(ctx context.Context, o *ForkIDOptions) error {
	c, ns, err := o.connect("")
	if err != nil {
		return err
	}
	f, err := c.Get(ctx, ns, o.ID)
	if err != nil {
		return err
	}
	v := forks.ViewOf("", f)
	if done, err := o.IO.structured(o.Output, v); done || err != nil {
		return err
	}
	out := o.IO.Out
	fmt.Fprintf(out, "Fork %s in %s (owner %s, created %s ago%s)\n", v.ID, ns, orNone(v.Owner), progress.Round(time.Since(v.Created)), expiresIn(v.ExpiresAt))
	fmt.Fprintf(out, "State: %s\n", v.State)
	if v.URL != "" {
		fmt.Fprintf(out, "URL:   %s\n", v.URL)
	}
	for _, cond := range v.Status.Conditions {
		fmt.Fprintf(out, "  %-9s %-5s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	for _, cp := range v.Status.Copies {
		avail := "available"
		if !cp.Available {
			avail = "not available yet"
		}
		fmt.Fprintf(out, "Copy %s of %s %s (%s); services %s\n", cp.Name, strings.ToLower(cp.Kind), cp.Source, avail, orNone(strings.Join(cp.Services, ", ")))
	}
	for _, r := range v.Status.Routes {
		to := "preview entry"
		if r.Service != "" {
			to = "service " + r.Service
		}
		fmt.Fprintf(out, "Route %s %s (%s)\n", r.Kind, r.Name, to)
	}
	return nil
}

func newForkExtendCmd(ff *ForkOptions, runF func(context.Context, *ForkIDOptions) error) *cobra.Command {
	o := &ForkIDOptions{ForkOptions: ff}
	cmd := &cobra.Command{
		Use:     "extend ID [--by D]",
		Short:   "Give a fork more time before it expires",
		Example: "  kube fork extend alice --by 4h",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if o.By <= 0 {
				return usageError{fmt.Errorf("--by must be positive, not %s", o.By)}
			}
			return or(runF, runForkExtend)(cmd.Context(), o)
		},
	}
	cmd.Flags().DurationVar(&o.By, "by", 4*time.Hour, "how much longer")
	return cmd
}

func runForkExtend(ctx context.Context, o *ForkIDOptions) error {
	c, ns, err := o.connect("extend fork " + o.ID)
	if err != nil {
		return err
	}
	f, err := c.Extend(ctx, ns, o.ID, o.By)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Fork %s now lives %s in all.\n", o.ID, f.Spec.TTL.Duration)
	return nil
}

func newForkDeleteCmd(ff *ForkOptions, runF func(context.Context, *ForkIDOptions) error) *cobra.Command {
	o := &ForkIDOptions{ForkOptions: ff}
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a fork: its copies and routes go, the shared services stay as they were",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return or(runF, runForkDelete)(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.NoWait, "no-wait", false, "do not wait until the controller has removed its routes")
	return cmd
}

func runForkDelete(ctx context.Context, o *ForkIDOptions) error {
	c, ns, err := o.connect("delete fork " + o.ID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.Delete(ctx, ns, o.ID, !o.NoWait); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Deleted fork %s.\n", o.ID)
	return nil
}

// ForkConnectOptions are kube fork connect's.
type ForkConnectOptions struct {
	*ForkOptions
	ID, Workload, Container string
	Ports, Forwards         []string
	EnvFile                 string
	NoSecrets               bool
	Takeover, Keep          bool
	TTL                     time.Duration
	Transport               string
	Command                 []string
}

func newForkConnectCmd(ff *ForkOptions, runF func(context.Context, *ForkConnectOptions) error) *cobra.Command {
	o := &ForkConnectOptions{ForkOptions: ff}
	cmd := &cobra.Command{
		Use:   "connect ID --workload NAME [--port 8080=3000]... [-- COMMAND [ARG...]]",
		Short: "Run one workload of your fork on this machine: the fork's requests reach your process, its calls stay in the fork",
		Long: `Mark a Deployment of the fork local (creating the fork if it does not exist):
kube-controller runs a small agent in its copy's pod, on the container's ports,
and kube connects to it through the API server's port-forward. Every request
that carries the fork's identifier and goes to that Deployment's Services now
reaches a process on this machine: your editor, your debugger, any language.
Everyone else keeps using the shared service.

With COMMAND, kube runs it with the original container's environment (read with
your own rights: what you may not read is named, never fetched; --no-secrets
leaves Secrets out) plus HTTP_PROXY, HTTPS_PROXY and ALL_PROXY pointing at a
local proxy into the cluster (plain HTTP requests get the fork's header) and
KUBE_FORK_IDENTIFIER, which servicex clients use; kube exits with its code.
Without COMMAND, the session lasts until Ctrl-C; --env-file writes the
environment for your IDE.

One session per fork: a second is refused unless --takeover. When the session
ends, the copy goes back to running the image (or the fork is deleted, if connect
created it) unless --keep; while nobody is connected, the fork's requests get
503 with the command to run, never the shared service. No root, no DNS or VPN
change, nothing injected into any pod. See docs/fork.md.`,
		Example: `  kube fork connect alice --workload web -- go run ./cmd/web
  kube fork connect alice -n shop --workload api --port 8080=3000 --env-file .env.fork
  kube fork connect alice --workload web --takeover --no-secrets --forward 5433=db:5432 -- npm start`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n > 1 || (n < 0 && len(args) > 1) {
				return usageError{fmt.Errorf("kube fork connect takes one fork ID; put the command after --")}
			}
			o.ID, o.Command = args[0], args[1:]
			if o.Workload == "" {
				return usageError{fmt.Errorf("name the Deployment to run here with --workload")}
			}
			return or(runF, runForkConnect)(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Workload, "workload", "", "the Deployment whose process runs on this machine")
	cmd.Flags().StringVar(&o.Container, "container", "", "its container whose ports and environment to take (default: the first)")
	cmd.Flags().StringArrayVar(&o.Ports, "port", nil, "CONTAINER_PORT=LOCAL_PORT: where the copy's connections go on this machine (default: the same port; repeatable)")
	cmd.Flags().StringArrayVar(&o.Forwards, "forward", nil, "[LOCAL_PORT=]HOST:PORT: a port on 127.0.0.1 that reaches a cluster address, for clients that ignore proxy variables (repeatable)")
	cmd.Flags().StringVar(&o.EnvFile, "env-file", "", "write the process's environment to this file, without the values of Secrets (mode 0600)")
	cmd.Flags().BoolVar(&o.NoSecrets, "no-secrets", false, "leave the container's Secrets out of the environment")
	cmd.Flags().BoolVar(&o.Takeover, "takeover", false, "take the fork over from another session")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the workload local when the session ends (its requests get 503 until someone connects)")
	cmd.Flags().DurationVar(&o.TTL, "ttl", 8*time.Hour, "TTL of the fork, when connect creates it")
	cmd.Flags().StringVar(&o.Transport, "transport", "", "port-forward transport: websocket or spdy (default: WebSocket, falling back to SPDY as kubectl does)")
	return cmd
}

func runForkConnect(ctx context.Context, o *ForkConnectOptions) error {
	ports, err := forkconnect.ParsePorts(o.Ports)
	if err != nil {
		return usageError{err}
	}
	forwards, err := forkconnect.ParseForwards(o.Forwards)
	if err != nil {
		return usageError{err}
	}
	if o.Transport != "" && o.Transport != forkconnect.TransportWebSocket && o.Transport != forkconnect.TransportSPDY {
		return usageError{fmt.Errorf("--transport must be websocket or spdy, not %q", o.Transport)}
	}
	t, f, err := o.Resolve()
	if err != nil {
		return err
	}
	ns := namespaceOr(o.Namespace, f)
	if err := o.IO.guard(t, o.Yes, cluster.Action{What: fmt.Sprintf("run %s of fork %s on this machine, in namespace %s", o.Workload, o.ID, ns), NotFromTree: true}); err != nil {
		return err
	}
	p := o.IO.Progress()
	code, err := forkconnect.Run(ctx, forkconnect.RunOptions{
		Options: forkconnect.Options{Config: t.Config, Namespace: ns, Fork: o.ID, Workload: o.Workload, Container: o.Container, Ports: ports,
			Takeover: o.Takeover, Holder: fmt.Sprintf("%s on %s (pid %d)", contract.Who(), hostname(), os.Getpid()), Owner: contract.Who(), TTL: o.TTL, Transport: o.Transport, Progress: p.Printf},
		Forwards: forwards, Command: o.Command, EnvFile: o.EnvFile, NoSecrets: o.NoSecrets, Keep: o.Keep,
		Stdin: o.IO.In, Stdout: o.IO.Out, Stderr: o.IO.ErrOut,
		Connected: func(c forkconnect.Connected) { printConnected(o.IO, c) },
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

func printConnected(s *IOStreams, c forkconnect.Connected) {
	fmt.Fprintf(s.ErrOut, "Connected: fork %s's requests to %s (namespace %s) now reach this machine:\n", c.Fork, c.Workload, c.Namespace)
	remote := make([]int, 0, len(c.Ports))
	for r := range c.Ports {
		remote = append(remote, int(r))
	}
	slices.Sort(remote)
	for _, r := range remote {
		fmt.Fprintf(s.ErrOut, "  port %d -> localhost:%d\n", r, c.Ports[int32(r)])
	}
	if c.URL != "" {
		fmt.Fprintf(s.ErrOut, "Preview: %s\n", c.URL)
	}
	fmt.Fprintf(s.ErrOut, "Calls into the cluster: HTTP proxy %s, SOCKS5 proxy %s (set in the command's environment).\n", c.HTTPProxy, c.SOCKSProxy)
	for _, f := range c.Forwards {
		fmt.Fprintf(s.ErrOut, "  localhost:%d -> %s\n", f.Local, f.Target)
	}
	for _, m := range c.Missing {
		fmt.Fprintf(s.ErrOut, "Not in the environment: %s\n", m)
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown host"
	}
	return h
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
