package generate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/alerts/ruletest"
	"github.com/kube-idp/kube/internal/spec"
)

var alertsKind = spec.Kind{Key: "alerts", Doc: "Where the app's alerts go (by default every severity but info to the file's slack channel) and the team's own alerting rules with their unit tests. Without this entry, slack: alone routes the platform's generic alerts on every cluster.",
	New: func() spec.GeneratorSpec { return &AlertsGen{} }}

// AlertsGen routes the namespace's alerts to the team's channels (an
// AlertmanagerConfig) and adds the team's own rules (a PrometheusRule).
type AlertsGen struct {
	spec.Common `yaml:",inline"`
	Channels    *AlertChannels `yaml:"channels" doc:"Slack channel per severity; default: critical and warning to the file's slack, info nowhere."`
	Rules       []AlertRule    `yaml:"rules" doc:"The team's own alerting rules, besides the platform's generic ones."`
	Tests       []AlertTest    `yaml:"tests" doc:"Unit tests of the rules, as promtool test rules runs them: input series, then the alerts expected at given times. Run by kube generate."`
	Loc         spec.Loc

	implicit bool // made from slack: alone
}

// AlertChannels are the Slack channels per severity.
type AlertChannels struct {
	Critical spec.PerCluster[string] `yaml:"critical" doc:"Channel of critical alerts (pages). Default: the file's slack."`
	Warning  spec.PerCluster[string] `yaml:"warning" doc:"Channel of warnings. Default: the file's slack."`
	Info     spec.PerCluster[string] `yaml:"info" doc:"Channel of informational alerts (CPU throttling...). Default: none."`
	Loc      spec.Loc
}

// AlertRule is one of the team's alerting rules.
type AlertRule struct {
	Alert       string                  `yaml:"alert" required:"true" doc:"Alert name, e.g. OrdersBacklogHigh."`
	Expr        spec.PerCluster[string] `yaml:"expr" required:"true" doc:"PromQL expression; each series it returns is an alert. Per cluster."`
	For         spec.PerCluster[string] `yaml:"for" doc:"How long the expression must hold before the alert fires, e.g. 10m. Per cluster."`
	Severity    spec.PerCluster[string] `yaml:"severity" required:"true" doc:"critical (pages), warning or info. Per cluster."`
	Summary     string                  `yaml:"summary" required:"true" doc:"One line naming the object; may use {{ $labels.x }} and {{ $value }}."`
	Description string                  `yaml:"description" doc:"What is happening and why it matters."`
	Runbook     string                  `yaml:"runbook" required:"true" doc:"URL of what to do when it fires."`
	Labels      map[string]string       `yaml:"labels" doc:"Extra labels (never per-request or per-pod values)."`
	Loc         spec.Loc
}

// AlertTest is a unit test of the rules.
type AlertTest struct {
	Name     string              `yaml:"name" doc:"What the test shows."`
	Interval string              `yaml:"interval" doc:"Time between input samples and between evaluations. Default: 1m."`
	Clusters []string            `yaml:"clusters" doc:"Clusters whose rules it tests. Default: every cluster of the entry."`
	Input    []AlertTestSeries   `yaml:"input" required:"true" doc:"Input series."`
	Alerts   []AlertTestExpected `yaml:"alerts" required:"true" doc:"Alerts expected to fire (or not) at given times."`
	Loc      spec.Loc
}

// AlertTestSeries is one input series in promtool's notation.
type AlertTestSeries struct {
	Series string `yaml:"series" required:"true" doc:"Series, e.g. 'orders_backlog{namespace=\"orders\"}'."`
	Values string `yaml:"values" required:"true" doc:"Values in promtool's expanding notation, e.g. '0+10x30' or '1 1 _ 4'."`
	Loc    spec.Loc
}

// AlertTestExpected is what must fire at one time.
type AlertTestExpected struct {
	At     string              `yaml:"at" required:"true" doc:"Time since the first sample, e.g. 15m."`
	Alert  string              `yaml:"alert" required:"true" doc:"The rule's alert name."`
	Expect []AlertTestInstance `yaml:"expect" doc:"The firing alerts; empty or absent: none fires."`
	Loc    spec.Loc
}

// AlertTestInstance is one firing alert.
type AlertTestInstance struct {
	Labels      map[string]string `yaml:"labels" doc:"Its labels exactly, besides alertname (severity included)."`
	Annotations map[string]string `yaml:"annotations" doc:"Annotations to compare; those not named are not compared."`
	Loc         spec.Loc
}

func (a *AlertsGen) Base() *spec.Common { return &a.Common }
func (a *AlertsGen) Describe() string {
	if a.implicit {
		return "alerts (from slack:)"
	}
	return "alerts"
}

func (a *AlertsGen) Default(f *spec.File) {
	if a.Channels == nil {
		a.Channels = &AlertChannels{}
	}
	for _, ch := range []*spec.PerCluster[string]{&a.Channels.Critical, &a.Channels.Warning} {
		if !ch.Set {
			*ch = spec.Of(f.Slack)
		}
	}
	for i := range a.Tests {
		if len(a.Tests[i].Clusters) == 0 {
			a.Tests[i].Clusters = a.Clusters
		}
	}
}

// withImplicitAlerts routes the platform's alerts to slack: on every cluster
// when the file has no alerts entry: the one knob a team needs.
func withImplicitAlerts(f *spec.File) *spec.File {
	if f.Slack == "" || slices.ContainsFunc(f.Generates, func(g spec.Generator) bool { return g.Kind == alertsKind.Key }) {
		return f
	}
	a := &AlertsGen{Common: spec.Common{Clusters: f.Clusters}, implicit: true}
	a.Default(f)
	f.Generates = append(f.Generates, spec.Generator{Kind: alertsKind.Key, Spec: a, Loc: spec.Loc{Pos: f.Loc.At("slack")}})
	return f
}

func (a *AlertsGen) Validate(v *spec.Validator) {
	f := v.File()
	v.Common(v.Entry(), &a.Common, "alerts", "AlertmanagerConfig", f.App+"-"+alertsObjectName)
	for _, ch := range []struct {
		key string
		p   spec.PerCluster[string]
	}{{"critical", a.Channels.Critical}, {"warning", a.Channels.Warning}, {"info", a.Channels.Info}} {
		v.PerCluster(ch.p.Loc)
		for _, cl := range a.Clusters {
			if c := ch.p.For(cl); c != "" && !strings.HasPrefix(c, "#") {
				v.Errorf(a.Channels.Loc.At(ch.key), "channel %q (%s) must be a Slack channel starting with #", c, spec.ClusterLabel(cl))
			}
		}
	}
	for _, cl := range a.Clusters {
		if a.channels(cl) == (alerts.Channels{}) {
			v.Errorf(v.Entry().Pos, "alerts: no channel receives the app's alerts on cluster %s: set slack: in the file or channels: here", cl)
			break
		}
	}
	names := map[string]bool{}
	for i := range a.Rules {
		r := &a.Rules[i]
		if names[r.Alert] {
			v.Errorf(r.Loc.At("alert"), "alert %q is defined twice: give one another name", r.Alert)
		}
		names[r.Alert] = true
		v.PerCluster(r.Expr.Loc)
		v.PerCluster(r.For.Loc)
		v.PerCluster(r.Severity.Loc)
		seen := map[string]bool{}
		for _, cl := range a.Clusters {
			rule := r.resolve(cl)
			for _, p := range alerts.Lint(rule, alerts.LintOptions{Namespace: f.Namespace}) {
				at, msg := r.position(p, cl)
				if seen[fmt.Sprint(at, msg)] {
					continue // the same on every cluster
				}
				seen[fmt.Sprint(at, msg)] = true
				if p.Warning {
					v.Warnf(at, "%s", msg)
				} else {
					v.Errorf(at, "%s", msg)
				}
			}
		}
	}
	a.runTests(v)
}

// runTests runs each test on the rules of each of its clusters, once per
// distinct set of rules.
func (a *AlertsGen) runTests(v *spec.Validator) {
	for i := range a.Rules {
		for _, cl := range a.Clusters {
			if _, err := alerts.Parser.ParseExpr(a.Rules[i].Expr.For(cl)); err != nil {
				return // reported at the rule; the tests would only repeat it
			}
		}
	}
	// All tests of the entry share one evaluation budget.
	ctx, cancel := context.WithTimeoutCause(context.Background(), ruletest.EvaluationBudget, ruletest.ErrEvaluationBudget)
	defer cancel()
	for ti := range a.Tests {
		t := &a.Tests[ti]
		tested := map[string]bool{}
		for _, cl := range t.Clusters {
			if !slices.Contains(a.Clusters, cl) {
				v.Errorf(t.Loc.At("clusters"), "test %s: cluster %q is not one of this entry's clusters (%s)", t.label(ti), cl, strings.Join(a.Clusters, ", "))
				continue
			}
			rules := a.rulesFor(cl)
			key := fmt.Sprintf("%#v", rules)
			if tested[key] {
				continue
			}
			tested[key] = true
			for _, fl := range ruletest.Run(ctx, rules, []ruletest.Test{t.core()}) {
				at := t.Loc.Pos
				if fl.Check >= 0 {
					at = t.Alerts[fl.Check].Loc.Pos
				}
				where := ""
				if len(a.Clusters) > 1 && len(t.Clusters) > 1 {
					where = " (" + spec.ClusterLabel(cl) + ")"
				}
				v.Errorf(at, "test %s failed%s: %s", t.label(ti), where, fl.Msg)
			}
		}
	}
}

func (t *AlertTest) label(i int) string {
	if t.Name != "" {
		return fmt.Sprintf("%q", t.Name)
	}
	return fmt.Sprintf("#%d", i+1)
}

func (t *AlertTest) core() ruletest.Test {
	out := ruletest.Test{Name: t.Name, Interval: t.Interval}
	for _, s := range t.Input {
		out.Input = append(out.Input, ruletest.Series{Series: s.Series, Values: s.Values})
	}
	for _, c := range t.Alerts {
		ac := ruletest.AlertCheck{At: c.At, Alert: c.Alert}
		for _, e := range c.Expect {
			ac.Expect = append(ac.Expect, ruletest.ExpectedAlert{Labels: e.Labels, Annotations: e.Annotations})
		}
		out.Alerts = append(out.Alerts, ac)
	}
	return out
}

func (r *AlertRule) resolve(cluster string) alerts.Rule {
	return alerts.Rule{Alert: r.Alert, Expr: r.Expr.For(cluster), For: r.For.For(cluster), Severity: r.Severity.For(cluster),
		Summary: r.Summary, Description: r.Description, Runbook: r.Runbook, Labels: r.Labels}
}

func (a *AlertsGen) rulesFor(cluster string) []alerts.Rule {
	out := make([]alerts.Rule, 0, len(a.Rules))
	for i := range a.Rules {
		out = append(out, a.Rules[i].resolve(cluster))
	}
	return out
}

// position is where in the file a problem of the rule on a cluster is: the
// value for that cluster, and inside an expression the line of the offset.
func (r *AlertRule) position(p alerts.Problem, cluster string) (spec.Pos, string) {
	var pc *spec.PerCluster[string]
	switch p.Field {
	case "expr":
		pc = &r.Expr
	case "for":
		pc = &r.For
	case "severity":
		pc = &r.Severity
	}
	at, msg := r.Loc.At(p.Field), p.Msg
	if pc == nil {
		return at, msg
	}
	if _, perCluster := pc.Clusters[cluster]; perCluster {
		at = pc.Loc.Keys[cluster]
		msg = spec.ClusterLabel(cluster) + ": " + msg
	} else if pc.Set && len(pc.Clusters) == 0 {
		at = pc.Loc.Pos
	} else if k, ok := pc.Loc.Keys["default"]; ok {
		at = k
	}
	if p.Field == "expr" && p.Offset >= 0 {
		expr := pc.For(cluster)
		if nl := strings.Count(expr[:min(p.Offset, len(expr))], "\n"); strings.Contains(strings.TrimRight(expr, "\n"), "\n") {
			at.Line += 1 + nl // a block scalar starts on the next line
		}
		switch {
		case p.Offset >= len(expr):
			msg += " (at the end of the expression)"
		case p.Offset > 0:
			msg = fmt.Sprintf("%s (at %q)", msg, excerpt(expr, p.Offset))
		}
	}
	return at, msg
}

// excerpt is the expression from offset, short enough for one line.
func excerpt(s string, offset int) string {
	s = s[min(offset, len(s)):]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// alertsObjectName names the AlertmanagerConfig and PrometheusRule of an app:
// the app name keeps two apps sharing a namespace apart.
const alertsObjectName = "alerts"

func (a *AlertsGen) channels(cluster string) alerts.Channels {
	return alerts.Channels{
		Critical: a.Channels.Critical.For(cluster),
		Warning:  a.Channels.Warning.For(cluster),
		Info:     a.Channels.Info.For(cluster),
	}
}

// ChannelUse is a channel a spec routes alerts to: for which cluster and
// severity, and where the file sets it.
type ChannelUse struct {
	Cluster  string   `json:"cluster"`
	Severity string   `json:"severity"`
	Channel  string   `json:"channel"`
	Pos      spec.Pos `json:"-"`
}

// ChannelUses lists every channel the file's alerts entries route to, in
// file order, for kube alerts channels.
func ChannelUses(f *spec.File) []ChannelUse {
	var out []ChannelUse
	for _, g := range f.Generates {
		a, ok := g.Spec.(*AlertsGen)
		if !ok {
			continue
		}
		for _, c := range a.Clusters {
			for _, sev := range []struct {
				name string
				ch   spec.PerCluster[string]
			}{{"critical", a.Channels.Critical}, {"warning", a.Channels.Warning}, {"info", a.Channels.Info}} {
				ch := sev.ch.For(c)
				if ch == "" {
					continue
				}
				pos := sev.ch.Loc.At(c)
				if pos == (spec.Pos{}) { // defaulted from slack:
					pos = f.Loc.At("slack")
				}
				out = append(out, ChannelUse{Cluster: c, Severity: sev.name, Channel: ch, Pos: pos})
			}
		}
	}
	return out
}

func (a *AlertsGen) Objects(b *builder) ([]runtime.Object, error) {
	f := b.f
	name := f.App + "-" + alertsObjectName
	ch := a.channels(b.cluster)
	m := b.meta(name, "alerts")
	m.Labels[alerts.LabelRuleSelector] = "true"
	// Messages name the cluster as kube -c does: kubernetes/sandbox/ is what
	// the registry's local sandbox deploys.
	registryName := b.cluster
	if registryName == "sandbox" {
		registryName = "local"
	}
	objs := []runtime.Object{alerts.AlertmanagerConfig(m, alerts.RouteTarget{App: f.App, Namespace: f.Namespace, Cluster: registryName}, ch)}
	if len(a.Rules) > 0 {
		objs = append(objs, alerts.PrometheusRule(m, []alerts.Group{{Name: f.Namespace + "." + f.App, Rules: a.rulesFor(b.cluster)}}))
	}
	return objs, nil
}
