package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// Test is a unit test of alerting rules in the shape `promtool test rules`
// uses: input series, then the alerts expected to fire at given times.
type Test struct {
	Name string `json:"name,omitempty"`
	// Interval between the input samples, and between rule evaluations
	// (default 1m).
	Interval string       `json:"interval,omitempty"`
	Input    []Series     `json:"input"`
	Alerts   []AlertCheck `json:"alerts"`
}

// Series is one input series in promtool's notation: `metric{label="v"}` and
// values such as `0+1x10` or `1 1 _ 5`.
type Series struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

// AlertCheck lists the alerts of one rule expected to fire at one time; an
// empty Expect means none fires.
type AlertCheck struct {
	At     string          `json:"at"`
	Alert  string          `json:"alert"`
	Expect []ExpectedAlert `json:"expect"`
}

// ExpectedAlert is one firing alert: its labels exactly (alertname aside), and
// the annotations given, if any.
type ExpectedAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Failure is a test that did not pass; Check is the index of the failing entry
// of Alerts, or -1 for the test as a whole.
type Failure struct {
	Test  int
	Check int
	Msg   string
}

func (f Failure) Error() string { return f.Msg }

// RunTests evaluates the rules over each test's input in-process, with
// Prometheus's own storage, engine and rule evaluation (what `promtool test
// rules` does), and returns what failed.
func RunTests(rs []Rule, tests []Test) []Failure {
	var out []Failure
	for i, t := range tests {
		out = append(out, runTest(rs, i, t)...)
	}
	return out
}

func runTest(rs []Rule, index int, t Test) []Failure {
	fail := func(check int, format string, args ...any) []Failure {
		return []Failure{{Test: index, Check: check, Msg: fmt.Sprintf(format, args...)}}
	}
	interval := time.Minute
	if t.Interval != "" {
		d, err := model.ParseDuration(t.Interval)
		if err != nil || d <= 0 {
			return fail(-1, "interval %q is not a duration such as 1m", t.Interval)
		}
		interval = time.Duration(d)
	}
	var load strings.Builder
	fmt.Fprintf(&load, "load %s\n", model.Duration(interval))
	for _, s := range t.Input {
		fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
	}
	suite, err := promqltest.NewLazyLoader(load.String(), promqltest.LazyLoaderOpts{EnableAtModifier: true, EnableNegativeOffset: true, Parser: Parser})
	if err != nil {
		return fail(-1, "input: %v", err)
	}
	defer suite.Close()
	suite.SubqueryInterval = interval

	logger := slog.New(slog.DiscardHandler)
	opts := &rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		AppendableV2: suite.Storage(),
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {}, // tests look at the rules' alerts
		Logger:       logger,
		Parser:       Parser,
	}
	var ars []rules.Rule
	for _, r := range rs {
		expr, err := Parser.ParseExpr(r.Expr)
		if err != nil {
			return fail(-1, "rule %s: %v", r.Alert, err) // Lint reports it at its line
		}
		hold, _ := model.ParseDuration(orZero(r.For))
		m := r.ruleMap()
		ar := rules.NewAlertingRule(r.Alert, expr, time.Duration(hold), 0,
			labels.FromMap(toStrings(m["labels"])), labels.FromMap(toStrings(m["annotations"])),
			labels.EmptyLabels(), "", true, logger)
		ars = append(ars, ar)
	}
	g := rules.NewGroup(rules.GroupOptions{Name: "test", Interval: interval, Rules: ars, Opts: opts})

	type check struct {
		at time.Duration
		i  int
	}
	var checks []check
	var failures []Failure
	for i, c := range t.Alerts {
		d, err := model.ParseDuration(c.At)
		if err != nil {
			failures = append(failures, fail(i, "at %q is not a duration such as 10m", c.At)...)
			continue
		}
		if !slices.ContainsFunc(rs, func(r Rule) bool { return r.Alert == c.Alert }) {
			failures = append(failures, fail(i, "no rule is named %q", c.Alert)...)
			continue
		}
		checks = append(checks, check{time.Duration(d), i})
	}
	slices.SortStableFunc(checks, func(a, b check) int { return int(a.at - b.at) })
	if len(checks) == 0 {
		return failures
	}
	start := time.Unix(0, 0).UTC()
	last := checks[len(checks)-1].at
	next := 0
	for ts := start; ts.Sub(start) <= last; ts = ts.Add(interval) {
		var evalErr error
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				evalErr = err
				return
			}
			g.Eval(suite.Context(), ts)
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					evalErr = fmt.Errorf("rule %s at %s: %w", r.Name(), model.Duration(ts.Sub(start)), r.LastError())
				}
			}
		})
		if evalErr != nil {
			return append(failures, fail(-1, "%v", evalErr)...)
		}
		// A check at time T compares the evaluation at the last step <= T.
		for next < len(checks) && checks[next].at < ts.Sub(start)+interval {
			c := t.Alerts[checks[next].i]
			if msg := compareAlerts(g, c); msg != "" {
				failures = append(failures, fail(checks[next].i, "%s", msg)...)
			}
			next++
		}
	}
	return failures
}

func compareAlerts(g *rules.Group, c AlertCheck) string {
	var want, got, gotCompared []string
	for _, e := range c.Expect {
		l := labels.NewBuilder(labels.FromMap(e.Labels)).Set(labels.AlertName, c.Alert).Labels()
		want = append(want, describeAlert(l, labels.FromMap(e.Annotations), e.Annotations))
	}
	for _, r := range g.Rules() {
		ar, ok := r.(*rules.AlertingRule)
		if !ok || ar.Name() != c.Alert {
			continue
		}
		for _, a := range ar.ActiveAlerts() {
			if a.State == rules.StateFiring {
				got = append(got, describeAlert(a.Labels, a.Annotations, nil))
				// Annotations are compared only where the test names them.
				gotCompared = append(gotCompared, describeAlert(a.Labels, a.Annotations, annotationsNamed(c, a.Labels)))
			}
		}
	}
	slices.Sort(gotCompared)
	slices.Sort(want)
	if slices.Equal(gotCompared, want) {
		return ""
	}
	slices.Sort(got)
	return fmt.Sprintf("alert %s at %s:\n    want: %s\n    got:  %s", c.Alert, c.At, orNone(want), orNone(got))
}

// annotationsNamed returns the annotations an expected alert with these labels
// names, so that only those are compared.
func annotationsNamed(c AlertCheck, l labels.Labels) map[string]string {
	for _, e := range c.Expect {
		el := labels.NewBuilder(labels.FromMap(e.Labels)).Set(labels.AlertName, c.Alert).Labels()
		if labels.Equal(el, l) && e.Annotations != nil {
			return e.Annotations
		}
	}
	return map[string]string{}
}

// describeAlert writes labels, and the annotations named in only (all when
// only is nil), in one stable line.
func describeAlert(l, ann labels.Labels, only map[string]string) string {
	s := l.String()
	var parts []string
	ann.Range(func(a labels.Label) {
		if only == nil {
			parts = append(parts, fmt.Sprintf("%s=%q", a.Name, a.Value))
			return
		}
		if _, ok := only[a.Name]; ok {
			parts = append(parts, fmt.Sprintf("%s=%q", a.Name, a.Value))
		}
	})
	if len(parts) > 0 && (only == nil || len(only) > 0) {
		s += " annotations{" + strings.Join(parts, ", ") + "}"
	}
	return s
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no alert firing"
	}
	return strings.Join(s, "\n          ")
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

func toStrings(v any) map[string]string {
	out := map[string]string{}
	for k, x := range v.(map[string]any) {
		out[k] = fmt.Sprint(x)
	}
	return out
}
