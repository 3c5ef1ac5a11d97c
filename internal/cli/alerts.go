package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/monitoring"
	"github.com/kube-idp/kube/internal/slack"
	"github.com/kube-idp/kube/internal/spec"
)

// AlertsOptions are the options of kube alerts and its subcommands.
type AlertsOptions struct {
	appOptions
	Output       string
	Prometheus   string // overrides the registry's URL
	Alertmanager string
	For          time.Duration
	Reason       string
	Severity     string
	Yes          bool
	SlackAPI     string
	// Action is the subcommand (list, firing, silence, unsilence, route,
	// lint, channels) and Args its arguments.
	Action string
	Args   []string
}

// slackTokenEnv holds the read-only Slack token kube alerts channels uses.
const slackTokenEnv = "KUBE_SLACK_TOKEN"

func newAlertsCmd(f *Factory, runF func(context.Context, *AlertsOptions) error) *cobra.Command {
	o := &AlertsOptions{appOptions: newAppOptions(f)}
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "The app's alert rules, what fires or is silenced, silences, routing, and the rule linter",
		Long: `kube alerts shows the alerting rules that concern the app (the platform's
generic ones and the team's own from kube-generate.yaml) and their state in its
namespace, from the cluster's Prometheus. Its subcommands show what Alertmanager
holds, silence an alert during an incident, tell which channel receives an
alert, and check the spec's alerts as kube generate does.

The cluster registry gives each cluster's Prometheus and Alertmanager URLs
(prometheus:, alertmanager:); --prometheus and --alertmanager override them.
See docs/alerts.md.`,
		Example: `  kube alerts -c prod
  kube alerts firing -c prod
  kube alerts silence KubePodCrashLooping -c prod --for 2h --reason "INC-42: rollback in progress"
  kube alerts unsilence KubePodCrashLooping -c prod
  kube alerts route HTTPHighErrorRatio -c prod
  kube alerts lint`,
		Args: cobra.NoArgs,
	}
	action := func(name string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			o.Action, o.Args = name, args
			return or(runF, runAlerts)(c.Context(), o)
		}
	}
	cmd.RunE = action("list")
	o.register(cmd)
	list := &cobra.Command{Use: "list", Short: "The app's alert rules and their state (the default)", Args: cobra.NoArgs,
		RunE: action("list")}
	firing := &cobra.Command{Use: "firing", Short: "What Alertmanager holds for the app's namespace: firing and silenced alerts, and the silences", Args: cobra.NoArgs,
		RunE: action("firing")}
	silence := &cobra.Command{Use: "silence ALERT", Short: "Silence one alert of the app's namespace for a while (guarded on protected clusters)", Args: cobra.ExactArgs(1),
		Example: `  kube alerts silence KubeDeploymentReplicasMismatch -c prod --for 2h --reason "INC-42: waiting for capacity"`,
		RunE:    action("silence")}
	silence.Flags().DurationVar(&o.For, "for", 2*time.Hour, "how long (at most 7 days)")
	silence.Flags().StringVar(&o.Reason, "reason", "", "why (required): recorded on the silence, e.g. the incident")
	silence.Flags().BoolVarP(&o.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	unsilence := &cobra.Command{Use: "unsilence ALERT|SILENCE-ID", Short: "End the app's silences of an alert (or one silence by ID)", Args: cobra.ExactArgs(1),
		RunE: action("unsilence")}
	unsilence.Flags().BoolVarP(&o.Yes, "yes", "y", false, "confirm on a protected cluster (only with CI=true)")
	route := &cobra.Command{Use: "route ALERT", Short: "Which channel receives an alert of the app, by Alertmanager's running configuration", Args: cobra.ExactArgs(1),
		RunE: action("route")}
	route.Flags().StringVar(&o.Severity, "severity", "", "the alert's severity (default: the rule's, from Prometheus)")
	lint := &cobra.Command{Use: "lint [DIR]", Short: "Check the spec's alerts and run their unit tests, as kube generate does", Args: cobra.MaximumNArgs(1),
		RunE: action("lint")}
	channels := &cobra.Command{Use: "channels [DIR...]", Short: "Check with Slack that every channel the specs route alerts to exists (for CI)",
		Long: `kube alerts channels lists the Slack channels each spec routes alerts to, per
cluster and severity, and checks with Slack's API that each exists and is not
archived, so that a misspelt channel fails in CI rather than at 3 a.m.

The token comes from the environment variable ` + slackTokenEnv + `, never from a flag
or a file: a Slack token with only the channels:read and groups:read scopes,
not the one that posts alerts. See docs/alerts.md.`,
		Example: `  KUBE_SLACK_TOKEN=... kube alerts channels
  kube alerts channels services/* -o json`,
		RunE: action("channels")}
	channels.Flags().StringVar(&o.SlackAPI, "slack-api", slack.WebAPI, "Slack Web API base URL")
	cmd.AddCommand(list, firing, silence, unsilence, route, lint, channels)
	return cmd
}

// runAlerts runs one alerts subcommand.
func runAlerts(ctx context.Context, o *AlertsOptions) error {
	arg := func(fn func(context.Context, *app.App, *monitoring.API, string) error) func(context.Context, *app.App, *monitoring.API) error {
		return func(ctx context.Context, a *app.App, api *monitoring.API) error { return fn(ctx, a, api, o.Args[0]) }
	}
	switch o.Action {
	case "list":
		return o.run(ctx, o.list)
	case "firing":
		return o.run(ctx, o.firing)
	case "silence":
		return o.run(ctx, arg(o.silence))
	case "unsilence":
		return o.run(ctx, arg(o.unsilence))
	case "route":
		return o.run(ctx, arg(o.route))
	case "lint":
		return o.lint(o.Args)
	case "channels":
		return o.channels(ctx, o.Args)
	}
	return usageError{fmt.Errorf("no alerts action %q", o.Action)}
}

func (o *AlertsOptions) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.App.Name, "app", "", "app name (default: app of "+spec.FileName+")")
	pf.StringVarP(&o.App.Namespace, "namespace", "n", "", "the app's namespace (default: the spec's, else the app's name)")
	pf.StringVar(&o.Prometheus, "prometheus", "", "Prometheus URL (default: the cluster registry's)")
	pf.StringVar(&o.Alertmanager, "alertmanager", "", "Alertmanager URL (default: the cluster registry's)")
	addOutputFlag(pf, cmd, &o.Output)
}

func (o *AlertsOptions) run(ctx context.Context, fn func(context.Context, *app.App, *monitoring.API) error) error {
	a, err := o.Resolve(o.App, app.NeedDeployed)
	if err != nil {
		return err
	}
	api := &monitoring.API{Prometheus: o.Prometheus, Alertmanager: o.Alertmanager}
	if e := a.Cluster.Entry; e != nil {
		api.Prometheus = cmp.Or(api.Prometheus, e.Prometheus)
		api.Alertmanager = cmp.Or(api.Alertmanager, e.Alertmanager)
	}
	return fn(ctx, a, api)
}

func (o *AlertsOptions) list(ctx context.Context, a *app.App, api *monitoring.API) error {
	rules, err := api.Rules(ctx, a.Namespace)
	if err != nil {
		return err
	}
	var silences []monitoring.Silence
	if api.Alertmanager != "" {
		if silences, err = api.Silences(ctx, a.Namespace); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "note: silences not shown: %v\n", err)
		}
	}
	if done, err := o.IO.structured(o.Output, alertRules{rules, silences}); done || err != nil {
		return err
	}
	t := o.IO.newTable("ALERT", "SOURCE", "SEVERITY", "STATE", "SILENCED", "SUMMARY")
	for _, r := range rules {
		summary := ""
		if len(r.Alerts) > 0 {
			summary = r.Alerts[0].Annotations[alerts.AnnotationSummary]
			if len(r.Alerts) > 1 {
				summary += fmt.Sprintf(" (+%d more)", len(r.Alerts)-1)
			}
		}
		state := r.State
		if n := len(r.Alerts); n > 0 {
			state = fmt.Sprintf("%s (%d)", state, n)
		}
		t.row(r.Alert, r.Source, r.Severity, state, silencedUntil(silences, r.Alert), summary)
	}
	return t.print()
}

func silencedUntil(ss []monitoring.Silence, alert string) string {
	for _, s := range ss {
		if s.Silences(alert) {
			return "until " + s.EndsAt.Local().Format("15:04 Jan 2")
		}
	}
	return ""
}

// What the alerts commands print with -o json|yaml.
type (
	alertRules struct {
		Rules    []monitoring.RuleState `json:"rules"`
		Silences []monitoring.Silence   `json:"silences"`
	}
	firingAlerts struct {
		Alerts   []monitoring.AlertInfo `json:"alerts"`
		Silences []monitoring.Silence   `json:"silences"`
	}
	silenceCreated struct {
		SilenceID string `json:"silenceID"`
	}
	silencesExpired struct {
		Expired []string `json:"expired"`
	}
	alertRoute struct {
		Labels       map[string]string    `json:"labels"`
		Destinations []alerts.Destination `json:"destinations"`
	}
)

func (o *AlertsOptions) firing(ctx context.Context, a *app.App, api *monitoring.API) error {
	got, err := api.Alerts(ctx, a.Namespace)
	if err != nil {
		return err
	}
	silences, err := api.Silences(ctx, a.Namespace)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, firingAlerts{got, silences}); done || err != nil {
		return err
	}
	if len(got) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "Nothing fires in namespace %s on cluster %s.\n", a.Namespace, a.Cluster.Name)
	} else {
		t := o.IO.newTable("ALERT", "SEVERITY", "STATE", "SINCE", "SUMMARY")
		for _, al := range got {
			t.row(al.Labels["alertname"], al.Labels[alerts.LabelSeverity], al.State, time.Since(al.Since).Round(time.Minute).String(), al.Annotations[alerts.AnnotationSummary])
		}
		if err := t.print(); err != nil {
			return err
		}
	}
	for _, s := range silences {
		fmt.Fprintf(o.IO.Out, "silence %s: %s until %s by %s: %s\n", s.ID, s, s.EndsAt.Local().Format(time.DateTime), s.CreatedBy, s.Comment)
	}
	return nil
}

const maxSilence = 7 * 24 * time.Hour

func (o *AlertsOptions) silence(ctx context.Context, a *app.App, api *monitoring.API, alert string) error {
	switch {
	case strings.TrimSpace(o.Reason) == "":
		return usageError{errors.New(`--reason is required: say why, e.g. --reason "INC-42: rollback in progress"`)}
	case o.For <= 0 || o.For > maxSilence:
		return usageError{fmt.Errorf("--for %s: give a duration between 1m and 168h", o.For)}
	}
	if err := o.IO.guard(a.Cluster, o.Yes, cluster.Action{What: fmt.Sprintf("silence %s in namespace %s for %s", alert, a.Namespace, o.For), NotFromTree: true}); err != nil {
		return err
	}
	id, err := api.CreateSilence(ctx, a.Namespace, alert, o.For, contract.Who(), o.Reason)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, silenceCreated{id}); done || err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "Silenced %s in namespace %s on cluster %s until %s (silence %s).\nEnd it early: kube alerts unsilence %s -c %s\n",
		alert, a.Namespace, a.Cluster.Name, time.Now().Add(o.For).Format(time.DateTime), id, alert, a.Cluster.Name)
	return nil
}

func (o *AlertsOptions) unsilence(ctx context.Context, a *app.App, api *monitoring.API, what string) error {
	silences, err := api.Silences(ctx, a.Namespace)
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range silences {
		if s.ID == what || s.Silences(what) {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("no active silence of %q in namespace %s (kube alerts firing lists them)", what, a.Namespace)
	}
	if err := o.IO.guard(a.Cluster, o.Yes, cluster.Action{What: fmt.Sprintf("end the silences of %s in namespace %s", what, a.Namespace), NotFromTree: true}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := api.ExpireSilence(ctx, id); err != nil {
			return err
		}
	}
	if done, err := o.IO.structured(o.Output, silencesExpired{ids}); done || err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "Ended %d silence(s) of %s: %s\n", len(ids), what, strings.Join(ids, ", "))
	return nil
}

func (o *AlertsOptions) route(ctx context.Context, a *app.App, api *monitoring.API, alert string) error {
	severity := o.Severity
	if severity == "" && api.Prometheus != "" {
		severity, _ = api.Severity(ctx, a.Namespace, alert)
	}
	if severity == "" {
		return usageError{fmt.Errorf("no rule %q is known for namespace %s: give its --severity", alert, a.Namespace)}
	}
	labels := map[string]string{"alertname": alert, "namespace": a.Namespace, alerts.LabelSeverity: severity}
	dests, err := api.Route(ctx, labels)
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, alertRoute{labels, dests}); done || err != nil {
		return err
	}
	for _, d := range dests {
		ch := strings.Join(d.Channels, ", ")
		if ch == "" {
			ch = "no channel (shown by kube alerts only)"
		}
		fmt.Fprintf(o.IO.Out, "%s (%s) of %s on %s goes to %s (receiver %s)\n", alert, severity, a.Namespace, a.Cluster.Name, ch, d.Receiver)
	}
	return nil
}

// lint loads the spec, which checks every alert and runs their tests, and
// prints the findings; no file is written.
func (o *AlertsOptions) lint(args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	f, err := generate.LoadSpec(filepath.Join(dir, spec.FileName))
	if err != nil {
		fmt.Fprintln(o.IO.ErrOut, err)
		return exitCode(exitUsage)
	}
	for _, w := range f.Warnings {
		fmt.Fprintln(o.IO.ErrOut, w)
	}
	n, tests := 0, 0
	for _, g := range f.Generates {
		if ag, ok := g.Spec.(*generate.AlertsGen); ok {
			n += len(ag.Rules)
			tests += len(ag.Tests)
		}
	}
	fmt.Fprintf(o.IO.Out, "%s: %d alert rule(s) valid, %d test(s) passed, %d warning(s)\n", f.Path, n, tests, len(f.Warnings))
	return nil
}

// ChannelCheck is one channel of one spec, checked.
type ChannelCheck struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	generate.ChannelUse
	Problem string `json:"problem,omitempty"`
}

// channels checks every channel the specs in dirs route alerts to against
// the channels Slack lists; any problem makes it fail.
func (o *AlertsOptions) channels(ctx context.Context, dirs []string) error {
	token := os.Getenv(slackTokenEnv)
	if token == "" {
		return usageError{fmt.Errorf("set %s to a Slack token with the channels:read and groups:read scopes (see docs/alerts.md)", slackTokenEnv)}
	}
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	var checks []ChannelCheck
	for _, d := range dirs {
		f, err := generate.LoadSpec(filepath.Join(d, spec.FileName))
		if err != nil {
			fmt.Fprintln(o.IO.ErrOut, err)
			return exitCode(exitUsage)
		}
		for _, u := range generate.ChannelUses(f) {
			checks = append(checks, ChannelCheck{File: f.Path, Line: u.Pos.Line, Column: u.Pos.Column, ChannelUse: u})
		}
	}
	known, err := (&slack.Directory{API: o.SlackAPI, Token: token}).Channels(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for i := range checks {
		if checks[i].Problem = slack.ChannelProblem(checks[i].Channel, known); checks[i].Problem != "" {
			failed++
		}
	}
	if done, err := o.IO.structured(o.Output, checks); err != nil {
		return err
	} else if !done {
		for _, c := range checks {
			if c.Problem != "" {
				fmt.Fprintf(o.IO.Out, "%s:%d:%d: %s alerts on %s go to %s, which %s\n", c.File, c.Line, c.Column, c.Severity, c.Cluster, c.Channel, c.Problem)
			}
		}
		fmt.Fprintf(o.IO.Out, "%d channel use(s) checked, %d with a problem\n", len(checks), failed)
	}
	if failed > 0 {
		return exitCode(exitFailure)
	}
	return nil
}
