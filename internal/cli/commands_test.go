package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/spec"
)

// testFactory has in-memory streams; out and errOut collect what commands print.
func testFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}}, &out, &errOut
}

// execute runs a command built alone (not under the root), as a test of its
// flag handling.
func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(context.Background())
}

func TestDeployFlags(t *testing.T) {
	f, _, _ := testFactory()
	var got *DeployOptions
	cmd := newDeployCmd(f, func(_ context.Context, o *DeployOptions) error { got = o; return nil })
	err := execute(t, cmd, "-f", "dir", "--app", "billing", "-n", "pay", "-R", "--yes", "--timeout", "2m", "--lock-wait", "0",
		"--image", "r/a=r/a:2", "--image", "r/b=r/b:3", "--delete-crds-and-namespaces", "--full-diff", "-o", "yaml", "--allow-empty")
	if err != nil {
		t.Fatal(err)
	}
	want := app.Flags{Dir: "dir", Name: "billing", Namespace: "pay", Recursive: true}
	if got.App != want || !got.Yes || got.Timeout != 2*time.Minute || got.LockWait != 0 || got.LockLease != 30*time.Second ||
		len(got.Images) != 2 || !got.DeleteCRDs || !got.FullDiff || got.Output != "yaml" || !got.AllowEmpty {
		t.Fatalf("options %+v", got)
	}
	if err := execute(t, newDeployCmd(f, nil), "-o", "xml"); err == nil || !strings.Contains(err.Error(), "text, json or yaml") {
		t.Fatalf("-o xml: %v", err)
	}
	var usage usageError
	if _, err := imageOverrides([]string{"r/a"}); !errors.As(err, &usage) || !strings.Contains(err.Error(), "use NAME=REF") {
		t.Fatalf("--image without =: %v", err)
	}
}

func TestRollbackScaleRunExecFlags(t *testing.T) {
	f, _, _ := testFactory()
	var rb *RollbackOptions
	if err := execute(t, newRollbackCmd(f, func(_ context.Context, o *RollbackOptions) error { rb = o; return nil }), "--app", "a", "-n", "ns", "7", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if rb.Revision != 7 || rb.App.Name != "a" || rb.App.Namespace != "ns" || rb.Output != "json" {
		t.Fatalf("rollback %+v", rb)
	}
	for _, bad := range []string{"x", "0", "-3", "1.5"} {
		if err := execute(t, newRollbackCmd(f, nil), "--", bad); err == nil || !strings.Contains(err.Error(), "REVISION must be") {
			t.Errorf("rollback %s: %v", bad, err)
		}
	}
	var sc *ScaleOptions
	if err := execute(t, newScaleCmd(f, func(_ context.Context, o *ScaleOptions) error { sc = o; return nil }), "web=4", "-y", "-o", "yaml"); err != nil {
		t.Fatal(err)
	}
	if sc.Process != "web" || sc.Replicas != 4 || !sc.Yes || sc.Output != "yaml" {
		t.Fatalf("scale %+v", sc)
	}
	for _, bad := range []string{"web", "web=", "=3", "web=-1", "web=x"} {
		if err := execute(t, newScaleCmd(f, nil), bad); err == nil || !strings.Contains(err.Error(), "PROCESS=N") {
			t.Errorf("scale %s: %v", bad, err)
		}
	}
	var rn *RunOptions
	if err := execute(t, newRunCmd(f, func(_ context.Context, o *RunOptions) error { rn = o; return nil }), "--process", "worker", "--keep", "--", "rake", "x"); err != nil {
		t.Fatal(err)
	}
	if rn.Process != "worker" || !rn.Keep || strings.Join(rn.Command, " ") != "rake x" || rn.Timeout != time.Hour {
		t.Fatalf("run %+v", rn)
	}
	if err := execute(t, newRunCmd(f, nil), "rake"); err == nil || !strings.Contains(err.Error(), "after --") {
		t.Fatalf("run without --: %v", err)
	}
	var ex *ExecOptions
	if err := execute(t, newExecCmd(f, func(_ context.Context, o *ExecOptions) error { ex = o; return nil }), "web", "--", "sh", "-c", "ls"); err != nil {
		t.Fatal(err)
	}
	if ex.Process != "web" || strings.Join(ex.Command, " ") != "sh -c ls" {
		t.Fatalf("exec %+v", ex)
	}
	var lg *LogsOptions
	if err := execute(t, newLogsCmd(f, func(_ context.Context, o *LogsOptions) error { lg = o; return nil }), "web", "-f", "--tail", "10", "--filename", "d", "--app", "a"); err != nil {
		t.Fatal(err)
	}
	if lg.Process != "web" || !lg.Follow || lg.Tail != 10 || lg.App.Dir != "d" {
		t.Fatalf("logs %+v", lg)
	}
}

func TestViewAndForkFlags(t *testing.T) {
	f, _, _ := testFactory()
	for _, build := range []func(*Factory, func(context.Context, *ViewOptions) error) *cobra.Command{newStatusCmd, newHistoryCmd, newPsCmd} {
		var got *ViewOptions
		cmd := build(f, func(_ context.Context, o *ViewOptions) error { got = o; return nil })
		if err := execute(t, cmd, "--app", "billing", "-n", "payments", "-o", "yaml"); err != nil {
			t.Fatalf("%s: %v", cmd.Name(), err)
		}
		if got.App.Name != "billing" || got.App.Namespace != "payments" || got.Output != "yaml" {
			t.Fatalf("%s: %+v", cmd.Name(), got)
		}
	}
	ff := &ForkOptions{IO: f.IO}
	var fc *ForkCreateOptions
	cmd := newForkCreateCmd(ff, func(_ context.Context, o *ForkCreateOptions) error { fc = o; return nil })
	if err := execute(t, cmd, "alice", "--deployment", "web", "--image", "r/web:x", "--ttl", "2h", "--replicas", "2", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if fc.Fork.ID != "alice" || fc.Fork.TTL != 2*time.Hour || !fc.replicasChangedFlag || fc.Replicas != 2 || fc.Output != "json" || fc.Fork.Deployments[0] != "web" {
		t.Fatalf("fork create %+v", fc)
	}
	// --dry-run needs no cluster: the Fork as YAML, in the app's namespace.
	co := &ForkCreateOptions{ForkOptions: &ForkOptions{IO: f.IO, Output: "text", RepoSpec: func() *spec.File { return nil }}, TTLFrom: "creation", DryRun: true}
	co.Fork.ID, co.Fork.Deployments = "bob", []string{"web"}
	if err := runForkCreate(context.Background(), co); err != nil {
		t.Fatal(err)
	}
	if out := f.IO.Out.(*bytes.Buffer).String(); !strings.Contains(out, "kind: Fork") || !strings.Contains(out, "namespace: default") {
		t.Fatalf("dry run:\n%s", out)
	}
	co.TTLFrom = "tomorrow"
	if err := runForkCreate(context.Background(), co); err == nil || !strings.Contains(err.Error(), "--ttl-from") {
		t.Fatalf("bad --ttl-from: %v", err)
	}
}

func TestColorFollowsTheEnvironment(t *testing.T) {
	for _, c := range []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, map[string]string{"NO_COLOR": "1"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{true, map[string]string{"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, true},
		{false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
	} {
		s := &IOStreams{OutTTY: c.tty, ErrTTY: c.tty, Getenv: func(k string) string { return c.env[k] }}
		if got := s.Color(); got != c.want {
			t.Errorf("tty %v, env %v: color %v", c.tty, c.env, got)
		}
		if s.Progress().TTY != (c.tty && c.env["TERM"] != "dumb") {
			t.Errorf("tty %v, env %v: progress redraws %v", c.tty, c.env, s.Progress().TTY)
		}
	}
}

// Tables: aligned and fitted to the terminal's width on a terminal, tab-separated
// when piped.
func TestTables(t *testing.T) {
	var out bytes.Buffer
	s := &IOStreams{Out: &out, OutTTY: true, Width: 30}
	tb := s.newTable("NAME", "MESSAGE")
	tb.row("web", "a message far too long to fit on this narrow terminal")
	if err := tb.print(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if n := len([]rune(line)); n > 30 {
			t.Errorf("line of %d runes on a 30-column terminal: %q", n, line)
		}
	}
	if !strings.Contains(out.String(), "NAME  MESSAGE") || !strings.Contains(out.String(), "…") {
		t.Errorf("terminal table:\n%s", out.String())
	}
	out.Reset()
	s.OutTTY = false
	tb = s.newTable("NAME", "MESSAGE")
	tb.row("web", "a message far too long to fit on this narrow terminal")
	_ = tb.print()
	if out.String() != "NAME\tMESSAGE\nweb\ta message far too long to fit on this narrow terminal\n" {
		t.Errorf("piped table: %q", out.String())
	}
	// A revision's cause or an annotation cannot drive the terminal.
	out.Reset()
	tb = s.newTable("CAUSE")
	tb.row("deploy \x1b[2J\x1b]8;;https://evil\x07x\tand\u009b")
	_ = tb.print()
	if out.String() != `CAUSE`+"\n"+`deploy \x1b[2J\x1b]8;;https://evil\ax\tand\u009b`+"\n" {
		t.Errorf("control characters: %q", out.String())
	}
}

func TestPlanAndResultOutput(t *testing.T) {
	f, out, errOut := testFactory()
	plan := &deploy.Plan{App: "billing", Changes: []deploy.Change{
		{ID: deploy.ID{Group: "apps", Kind: "Deployment", Namespace: "b", Name: "web"}, Action: deploy.Update, Diff: "--- a\n+++ b\n-  replicas: 2\n+  replicas: 3\n"},
		{ID: deploy.ID{Kind: "ConfigMap", Namespace: "b", Name: "c"}, Action: deploy.Create, Diff: "+x\n"},
		{ID: deploy.ID{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "w.example.com"}, Action: deploy.Keep, Note: "kept"},
		{ID: deploy.ID{Kind: "ConfigMap", Namespace: "b", Name: "old"}, Action: deploy.Delete},
		{ID: deploy.ID{Kind: "Service", Namespace: "b", Name: "web"}, Action: deploy.Unchanged},
	}}
	printPlan(f.IO, plan, false)
	for _, want := range []string{"update    Deployment/web (b)\n    --- a", "    +  replicas: 3\n", "create    ConfigMap/c (b)\n", "keep      CustomResourceDefinition/w.example.com\n          kept\n", "delete    ConfigMap/old (b)\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "+x") || strings.Contains(out.String(), "Service/web") {
		t.Errorf("a create's diff or an unchanged object shown:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "Plan for billing: 1 to create, 1 to update, 1 to delete, 1 to keep (1 objects unchanged).") {
		t.Errorf("summary: %q", errOut.String())
	}
	for _, c := range []struct {
		res  *deploy.Result
		err  error
		want string
	}{
		{&deploy.Result{Plan: plan, Revision: 4}, nil, "Deployed revision 4."},
		{&deploy.Result{Plan: plan, Revision: 4}, errors.New("not ready"), "Revision 4 was applied but is not healthy"},
		{&deploy.Result{Plan: plan, Declined: true}, nil, "Nothing applied."},
		{&deploy.Result{Plan: &deploy.Plan{}}, nil, "No changes; nothing to deploy."},
		{&deploy.Result{Plan: &deploy.Plan{}, Recorded: true, Revision: 5}, nil, "No changes; recorded what runs as revision 5."},
		{&deploy.Result{Plan: &deploy.Plan{}}, errors.New("not ready"), "No changes to apply, but what runs is not ready."},
	} {
		errOut.Reset()
		if err := reportDeploy(f.IO, c.res, c.err); !errors.Is(err, c.err) || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("reportDeploy: %v %q, want %q", err, errOut.String(), c.want)
		}
	}
	out.Reset()
	if done, err := f.IO.structured(outputYAML, rollbackResult{Result: &deploy.Result{Plan: &deploy.Plan{App: "billing"}, Revision: 6}, RolledBackTo: 4}); !done || err != nil ||
		!strings.Contains(out.String(), "rolledBackTo: 4\n") || !strings.Contains(out.String(), "revision: 6\n") {
		t.Fatalf("rollback -o yaml: %v\n%s", err, out.String())
	}
}

func TestStatusAndHistoryText(t *testing.T) {
	f, out, errOut := testFactory()
	a := &app.App{Name: "billing", Namespace: "payments", Cluster: &cluster.Target{Name: "qa"}}
	st := &deploy.AppStatus{App: "billing", Namespace: "payments",
		Revision: &deploy.Revision{Number: 3, User: "alice", Cause: "deploy"},
		Objects:  []deploy.ObjectStatus{{ID: deploy.ID{Kind: "Deployment", Name: "web"}, Status: "Current", Message: "Deployment is available"}},
		Missing:  []string{"ConfigMap/gone"},
		Pods:     []deploy.PodStatus{{Workload: "Deployment/web", Name: "web-1", Phase: "Running", Ready: "1/1", Node: "n1"}},
	}
	if err := printAppStatus(f.IO, a, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cluster:   qa\n", "revision:  3 (", "Deployment/web\tCurrent\tDeployment is available\n", "ConfigMap/gone\tMissing\t", "Deployment/web\tweb-1\tRunning\t1/1\t0\tn1\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := printHistory(f.IO, a, nil); err != nil || !strings.Contains(errOut.String(), "billing has no revisions on cluster qa (namespace payments)") {
		t.Fatalf("empty history: %v %q", err, errOut.String())
	}
	_ = printHistory(f.IO, a, []deploy.Revision{{Number: 2, User: "bob", Commit: "abc", Objects: 7, Cause: "rollback to revision 1", Images: []string{"r/a:1"}}})
	if !strings.Contains(out.String(), "REVISION\tTIME\tUSER\tCOMMIT\tOBJECTS\tCAUSE / IMAGES\n2\t") || !strings.Contains(out.String(), "\tbob\tabc\t7\trollback to revision 1 r/a:1\n") {
		t.Errorf("history:\n%s", out.String())
	}
}

// The help of -c names every source of the cluster, in the order kube looks.
func TestClusterFlagHelp(t *testing.T) {
	code, out, _ := run(t, "deploy", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	flat := strings.Join(strings.Fields(out), " ")
	order := []string{"$KUBE_CLUSTER", ".kube-cluster (kube use)", "cluster: of kube-generate.yaml", `"local"`}
	last := -1
	for _, w := range order {
		i := strings.Index(flat, w)
		if i < 0 || i < last {
			t.Fatalf("-c help lacks %q in order:\n%s", w, out)
		}
		last = i
	}
}

// The operate commands parse their flags into their options alone: nothing
// resolved, nothing asked of a cluster.
func TestOperateCommandsParseFlags(t *testing.T) {
	f := &Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}}
	exec := func(cmd *cobra.Command, args ...string) {
		t.Helper()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	var slo *SLOOptions
	exec(newSLOCmd(f, func(_ context.Context, o *SLOOptions) error { slo = o; return nil }), "--all", "--prometheus", "http://prom:9090", "-o", "json")
	if !slo.All || slo.Prometheus != "http://prom:9090" || slo.Output != outputJSON {
		t.Errorf("slo: %+v", slo)
	}
	var con *ConsoleOptions
	exec(newConsoleCmd(f, func(_ context.Context, o *ConsoleOptions) error { con = o; return nil }), "--listen", "127.0.0.1:9000", "--in-cluster", "--cluster-name", "prod", "--host", "a.example,b.example")
	if con.Listen != "127.0.0.1:9000" || !con.InCluster || con.ClusterName != "prod" || strings.Join(con.Hosts, " ") != "a.example b.example" {
		t.Errorf("console: %+v", con)
	}
	var up *UpgradeCheckOptions
	exec(newUpgradeCmd(f, func(_ context.Context, o *UpgradeCheckOptions) error { up = o; return nil }), "check", "--to", "v1.38", "--offline", "--addons", "x.yaml", "r1", "r2")
	if up.To != "v1.38" || !up.Offline || up.Addons != "x.yaml" || strings.Join(up.Repos, " ") != "r1 r2" {
		t.Errorf("upgrade check: %+v", up)
	}
	var diff *addonsDiffOptions
	exec(newAddonsDiffCmd(f, func(_ context.Context, o *addonsDiffOptions) error { diff = o; return nil }), "--full-diff", "-f", "addons.yaml", "ingress")
	if !diff.FullDiff || diff.File != "addons.yaml" || strings.Join(diff.Names, " ") != "ingress" {
		t.Errorf("addons diff: %+v", diff)
	}
	var sb *SandboxOptions
	exec(newSandboxCmd(f, func(_ context.Context, o *SandboxOptions) error { sb = o; return nil }), "up", "--name", "dev", "--port", "6443", "--nodes", "3", "-o", "yaml")
	if sb.Action != "up" || sb.Name != "dev" || sb.Port != 6443 || sb.Nodes != 3 || sb.Output != outputYAML {
		t.Errorf("sandbox up: %+v", sb)
	}
	exec(newSandboxCmd(f, func(_ context.Context, o *SandboxOptions) error { sb = o; return nil }), "kubeconfig", "--path")
	if sb.Action != "kubeconfig" || !sb.PathOnly || sb.Name != "local" {
		t.Errorf("sandbox kubeconfig: %+v", sb)
	}
	var cat *CatalogOptions
	exec(newCatalogCmd(f, func(_ context.Context, o *CatalogOptions) error { cat = o; return nil }), "gaps", "-C", "/platform", "~/src/billing", "~/src/orders")
	if cat.Action != "gaps" || cat.Repo != "/platform" || strings.Join(cat.Args, " ") != "~/src/billing ~/src/orders" {
		t.Errorf("catalog gaps: %+v", cat)
	}
	var al *AlertsOptions
	exec(newAlertsCmd(f, func(_ context.Context, o *AlertsOptions) error { al = o; return nil }), "silence", "KubePodCrashLooping", "--for", "2h", "--reason", "INC-42", "--yes", "--app", "shop", "-n", "shop", "--alertmanager", "http://am:9093")
	if al.Action != "silence" || strings.Join(al.Args, " ") != "KubePodCrashLooping" || al.For != 2*time.Hour || al.Reason != "INC-42" || !al.Yes || al.App.Name != "shop" || al.Alertmanager != "http://am:9093" {
		t.Errorf("alerts silence: %+v", al)
	}
	var dep *addonsDeployOptions
	exec(newAddonsDeployCmd(f, func(_ context.Context, o *addonsDeployOptions) error { dep = o; return nil }), "--yes", "--timeout", "2m", "a", "b")
	if !dep.Yes || dep.Timeout != 2*time.Minute || strings.Join(dep.Names, " ") != "a b" {
		t.Errorf("addons deploy: %+v", dep)
	}
	var ad *addonsOptions
	exec(newAddonsListCmd(f, func(_ context.Context, o *addonsOptions) error { ad = o; return nil }), "-f", "x.yaml", "-o", "json")
	if ad.File != "x.yaml" || ad.Output != outputJSON {
		t.Errorf("addons list: %+v", ad)
	}
	exec(newAddonsStatusCmd(f, func(_ context.Context, o *addonsOptions) error { ad = o; return nil }), "ingress")
	if strings.Join(ad.Names, " ") != "ingress" || ad.Output != outputText {
		t.Errorf("addons status: %+v", ad)
	}
	exec(newAddonsHistoryCmd(f, func(_ context.Context, o *addonsOptions) error { ad = o; return nil }), "ingress", "-o", "yaml")
	if strings.Join(ad.Names, " ") != "ingress" || ad.Output != outputYAML {
		t.Errorf("addons history: %+v", ad)
	}
	var rb *addonsRollbackOptions
	exec(newAddonsRollbackCmd(f, func(_ context.Context, o *addonsRollbackOptions) error { rb = o; return nil }), "ingress", "4", "--yes")
	if strings.Join(rb.Names, " ") != "ingress" || rb.Revision != 4 || !rb.Yes {
		t.Errorf("addons rollback: %+v", rb)
	}
	ff := &ForkOptions{IO: f.IO}
	var fk *ForkIDOptions
	grab := func(_ context.Context, o *ForkIDOptions) error { fk = o; return nil }
	exec(newForkListCmd(ff, grab), "-o", "json")
	if fk.Output != outputJSON {
		t.Errorf("fork list: %+v", fk)
	}
	exec(newForkStatusCmd(ff, grab), "alice")
	if fk.ID != "alice" {
		t.Errorf("fork status: %+v", fk)
	}
	exec(newForkExtendCmd(ff, grab), "alice", "--by", "2h")
	if fk.ID != "alice" || fk.By != 2*time.Hour {
		t.Errorf("fork extend: %+v", fk)
	}
	exec(newForkDeleteCmd(ff, grab), "bob", "--no-wait")
	if fk.ID != "bob" || !fk.NoWait {
		t.Errorf("fork delete: %+v", fk)
	}
	var in *InfraOptions
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "targets", "--base", "origin/main", "-C", "/infra", "-o", "json")
	if in.Action != "targets" || in.Base != "origin/main" || in.Head != "HEAD" || in.Repo != "/infra" || in.Output != outputJSON {
		t.Errorf("infra targets: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "tags", "plan.json", "--schemas", "s.json")
	if in.Action != "tags" || strings.Join(in.Args, " ") != "plan.json" || in.Schemas != "s.json" {
		t.Errorf("infra tags: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "plan", "envs/db", "--out", "p", "--labels", "a,b", "--tool", "/t")
	if in.Action != "plan" || in.Args[0] != "envs/db" || in.Out != "p" || strings.Join(in.Labels, " ") != "a b" || in.Tool != "/t" {
		t.Errorf("infra plan: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "apply", "envs/db", "--plan", "p", "--lock-timeout", "1m")
	if in.Action != "apply" || in.PlanDir != "p" || in.LockTimeout != "1m" {
		t.Errorf("infra apply: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "comment", "p", "--pr", "7", "--repository", "a/b", "--apply")
	if in.Action != "comment" || in.Comment.PR != 7 || in.Comment.Repository != "a/b" || !in.Comment.Apply {
		t.Errorf("infra comment: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "follow-up", "envs/db", "--plan", "p", "--pr", "7", "--slack-webhooks", "h.yaml")
	if in.Action != "follow-up" || in.PlanDir != "p" || in.Comment.PR != 7 || in.SlackWebhooks != "h.yaml" {
		t.Errorf("infra follow-up: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "replan", "envs/db", "--after", "7", "--commit", "abc")
	if in.Action != "replan" || in.Comment.PR != 7 || in.Commit != "abc" {
		t.Errorf("infra replan: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "policy", "plan.json", "--policies-from", "origin/main")
	if in.Action != "policy" || in.Args[0] != "plan.json" || in.PoliciesFrom != "origin/main" {
		t.Errorf("infra policy: %+v", in)
	}
	exec(newInfraCmd(f, func(_ context.Context, o *InfraOptions) error { in = o; return nil }), "unlock", "envs/db", "--pr", "9")
	if in.Action != "unlock" || in.Comment.PR != 9 || in.lock().PR != 9 || in.lock().Cluster == nil {
		t.Errorf("infra unlock: %+v", in)
	}
	var fc *ForkConnectOptions
	exec(newForkConnectCmd(ff, func(_ context.Context, o *ForkConnectOptions) error { fc = o; return nil }),
		"alice", "--workload", "web", "--port", "8080=3000", "--takeover", "--keep", "--no-secrets", "--env-file", ".env", "--forward", "8081=orders:80", "--transport", "spdy", "--", "go", "run", "./cmd/web", "--flag")
	if fc.ID != "alice" || fc.Workload != "web" || strings.Join(fc.Ports, " ") != "8080=3000" || !fc.Takeover || !fc.Keep || !fc.NoSecrets ||
		fc.EnvFile != ".env" || strings.Join(fc.Forwards, " ") != "8081=orders:80" || fc.Transport != "spdy" || strings.Join(fc.Command, " ") != "go run ./cmd/web --flag" {
		t.Errorf("fork connect: %+v", fc)
	}
}
