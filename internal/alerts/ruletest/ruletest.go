package ruletest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/kube-idp/kube/internal/alerts"
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

// Run evaluates the rules over each test's input in-process, with
// Prometheus's own engine and rule evaluation (what `promtool test rules`
// does) over an in-memory store, and returns what failed.
// ctx bounds them: when it ends (a signal, the repository's evaluation
// budget), the test running fails saying so and the others are not run.
func Run(ctx context.Context, rs []alerts.Rule, tests []Test) []Failure {
	return RunGroup(ctx, alerts.Group{Rules: rs}, tests)
}

// RunGroup is Run for a group with recording rules, evaluated
// before its alerts at every step, as Prometheus does.
func RunGroup(ctx context.Context, g alerts.Group, tests []Test) []Failure {
	var out []Failure
	for i, t := range tests {
		out = append(out, runTest(ctx, g, i, t)...)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// stopped says why a test stopped when its context ended.
func stopped(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), ErrEvaluationBudget) {
		return ErrEvaluationBudget.Error()
	}
	return "stopped: " + context.Cause(ctx).Error()
}

// ErrEvaluationBudget is the cause of a context that ran out of the time its
// caller gives all of a repository's rule tests.
var ErrEvaluationBudget = fmt.Errorf("stopped: the rule tests ran out of the %s every test of a repository may take together; make the test shorter (fewer steps, smaller ranges)", EvaluationBudget)

// EvaluationBudget is how long all rule tests of a repository may evaluate.
const EvaluationBudget = 30 * time.Second

func runTest(ctx context.Context, grp alerts.Group, index int, t Test) []Failure {
	rs := grp.Rules
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
	if n := expandedSamples(t.Input); n > maxTestSamples {
		return fail(-1, "input: %d samples, more than the %d a unit test may hold", n, maxTestSamples)
	}
	input, err := parseInput(t.Input, interval)
	if err != nil {
		return fail(-1, "input: %v", err)
	}
	db := &memStorage{}
	engine := engineFor(interval)

	logger := slog.New(slog.DiscardHandler)
	opts := &rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, db),
		AppendableV2: db,
		Context:      ctx,
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {}, // tests look at the rules' alerts
		Logger:       logger,
		Parser:       alerts.Parser,
		Metrics:      groupMetrics,
	}
	// Prometheus expands every annotation template of every alert at every
	// step; a test that names no annotation cannot see them, so they are left
	// out (Lint checks that they parse).
	withAnnotations := slices.ContainsFunc(t.Alerts, func(c AlertCheck) bool {
		return slices.ContainsFunc(c.Expect, func(e ExpectedAlert) bool { return len(e.Annotations) > 0 })
	})
	// Prometheus also expands every label of every alert as a template at
	// every step. Labels without a template are added to the firing alerts
	// when they are compared instead, which is the same unless a rule reads
	// ALERTS or an annotation shows $labels.
	static := !withAnnotations && !slices.ContainsFunc(rs, func(r alerts.Rule) bool { return strings.Contains(r.Expr, "ALERTS") }) &&
		!slices.ContainsFunc(grp.Records, func(r alerts.Record) bool { return strings.Contains(r.Expr, "ALERTS") })
	after := map[*rules.AlertingRule]labels.Labels{}
	var ars []rules.Rule
	for _, r := range grp.Records {
		expr, err := alerts.Parser.ParseExpr(r.Expr)
		if err != nil {
			return fail(-1, "recording rule %s: %v", r.Record, err)
		}
		ars = append(ars, rules.NewRecordingRule(r.Record, expr, labels.FromMap(r.Labels)))
	}
	for _, r := range rs {
		expr, err := alerts.Parser.ParseExpr(r.Expr)
		if err != nil {
			return fail(-1, "rule %s: %v", r.Alert, err) // Lint reports it at its line
		}
		hold, _ := model.ParseDuration(orZero(r.For))
		m := r.Map()
		annotations := labels.EmptyLabels()
		if withAnnotations {
			annotations = labels.FromMap(toStrings(m["annotations"]))
		}
		ruleLabels, later := toStrings(m["labels"]), map[string]string{}
		if static {
			for k, v := range ruleLabels {
				if !strings.Contains(v, "{{") {
					later[k] = v
					delete(ruleLabels, k)
				}
			}
		}
		ar := rules.NewAlertingRule(r.Alert, expr, time.Duration(hold), 0,
			labels.FromMap(ruleLabels), annotations,
			labels.EmptyLabels(), "", true, logger)
		after[ar] = labels.FromMap(later)
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
		if !slices.ContainsFunc(rs, func(r alerts.Rule) bool { return r.Alert == c.Alert }) {
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
	if steps := last / interval; steps > maxTestSteps {
		return append(failures, fail(-1, "%d evaluations up to %s every %s, more than the %d a unit test may take", steps, model.Duration(last), model.Duration(interval), maxTestSteps)...)
	}
	next := 0
	for ts := start; ts.Sub(start) <= last; ts = ts.Add(interval) {
		if ctx.Err() != nil {
			return append(failures, fail(-1, "%s", stopped(ctx))...)
		}
		evalErr := input.appendTill(ctx, db, ts)
		if evalErr == nil {
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					evalErr = fmt.Errorf("rule %s at %s: %w", r.Name(), model.Duration(ts.Sub(start)), r.LastError())
				}
			}
			if err := collision(g, after); err != nil && evalErr == nil {
				evalErr = fmt.Errorf("at %s: %w", model.Duration(ts.Sub(start)), err)
			}
		}
		if ctx.Err() != nil {
			return append(failures, fail(-1, "%s", stopped(ctx))...)
		}
		if evalErr != nil {
			return append(failures, fail(-1, "%v", evalErr)...)
		}
		// A check at time T compares the evaluation at the last step <= T.
		for next < len(checks) && checks[next].at < ts.Sub(start)+interval {
			c := t.Alerts[checks[next].i]
			if msg := compareAlerts(g, c, after); msg != "" {
				failures = append(failures, fail(checks[next].i, "%s", msg)...)
			}
			next++
		}
	}
	return failures
}

func compareAlerts(g *rules.Group, c AlertCheck, after map[*rules.AlertingRule]labels.Labels) string {
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
			if a.State != rules.StateFiring {
				continue
			}
			l := withLabels(a.Labels, after[ar])
			got = append(got, describeAlert(l, a.Annotations, nil))
			// Annotations are compared only where the test names them.
			gotCompared = append(gotCompared, describeAlert(l, a.Annotations, annotationsNamed(c, l)))
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

func withLabels(l, add labels.Labels) labels.Labels {
	b := labels.NewBuilder(l)
	add.Range(func(x labels.Label) { b.Set(x.Name, x.Value) })
	return b.Labels()
}

// collision is the error Prometheus's evaluation gives when two series make
// one alert once the rule's labels are applied (added late, see runTest).
func collision(g *rules.Group, after map[*rules.AlertingRule]labels.Labels) error {
	for _, r := range g.Rules() {
		ar, ok := r.(*rules.AlertingRule)
		if !ok || after[ar].IsEmpty() {
			continue
		}
		seen := map[uint64]bool{}
		for _, a := range ar.ActiveAlerts() {
			h := withLabels(a.Labels, after[ar]).Hash()
			if seen[h] {
				return fmt.Errorf("rule %s: vector contains metrics with the same labelset after applying alert labels", ar.Name())
			}
			seen[h] = true
		}
	}
	return nil
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

// A test runs inside kube generate, on every pull request: these bounds keep
// a mistaken or hostile one from taking the CI runner's memory or time.
const (
	maxTestSamples = 100_000
	// maxQuerySamples bounds the samples one query of a test loads at once.
	maxQuerySamples = 1_000_000
	maxTestSteps    = 10_000
)

var expansion = regexp.MustCompile(`x(\d+)`)

// expandedSamples bounds from above the samples promtool's notation expands
// to ("0+1x100" is 101), before the parser allocates them.
func expandedSamples(in []Series) int {
	n := 0
	for _, s := range in {
		n += len(strings.Fields(s.Values))
		for _, m := range expansion.FindAllStringSubmatch(s.Values, -1) {
			k, err := strconv.Atoi(m[1])
			if err != nil || k > maxTestSamples {
				return maxTestSamples + 1
			}
			n += k
		}
		if n > maxTestSamples {
			return n
		}
	}
	return n
}

// groupMetrics are shared by every test's rule group, and engines by every
// test of an interval: each would otherwise make summaries of ~300 kB that
// nobody reads, a third of a test's allocations.
var (
	groupMetrics = rules.NewGroupMetrics(nil)
	engines      sync.Map // time.Duration -> *promql.Engine
)

// engineFor returns the engine of tests whose subqueries default to interval
// steps, as promtool's do.
func engineFor(interval time.Duration) *promql.Engine {
	if e, ok := engines.Load(interval); ok {
		return e.(*promql.Engine)
	}
	e, _ := engines.LoadOrStore(interval, promql.NewEngine(promql.EngineOpts{
		// A dense subquery within the input and step limits could still
		// load 1.5 GB in one evaluation; a test's queries never need this many.
		MaxSamples:               maxQuerySamples,
		Timeout:                  10 * time.Second,
		NoStepSubqueryIntervalFn: func(int64) int64 { return interval.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   alerts.Parser,
	}))
	return e.(*promql.Engine)
}

// inputSeries holds a test's samples, appended up to each evaluation time as
// promtool does, so rules never see samples from their future.
type inputSeries struct {
	series  []labels.Labels
	samples [][]parser.SequenceValue
	next    []int
	step    time.Duration
}

func parseInput(in []Series, step time.Duration) (*inputSeries, error) {
	s := &inputSeries{step: step}
	for _, x := range in {
		l, vals, err := alerts.Parser.ParseSeriesDesc(x.Series + " " + x.Values)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", x.Series, err)
		}
		s.series = append(s.series, l)
		s.samples = append(s.samples, vals)
		s.next = append(s.next, 0)
	}
	return s, nil
}

func (s *inputSeries) appendTill(ctx context.Context, db storage.AppendableV2, ts time.Time) error {
	app := db.AppenderV2(ctx)
	till := ts.UnixMilli()
	for i, l := range s.series {
		for ; s.next[i] < len(s.samples[i]); s.next[i]++ {
			t := time.Unix(0, 0).Add(time.Duration(s.next[i]) * s.step).UnixMilli()
			if t > till {
				break
			}
			v := s.samples[i][s.next[i]]
			if v.Omitted {
				continue
			}
			if _, err := app.Append(0, l, 0, t, v.Value, nil, v.Histogram, storage.AppendV2Options{}); err != nil {
				app.Rollback()
				return fmt.Errorf("series %s: %w", l, err)
			}
		}
	}
	return app.Commit()
}
