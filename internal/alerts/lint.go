package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"
)

// Problem is one finding of Lint about one field of a rule.
type Problem struct {
	// Field is the rule's key the problem is about: alert, expr, for, severity,
	// summary, runbook, description, or labels.
	Field string
	// Offset is the byte offset inside the field's value (expressions), or -1.
	Offset int
	Msg    string
	// Warning problems are reported but do not fail kube generate.
	Warning bool
}

// LintOptions say what the rule is checked against.
type LintOptions struct {
	// Namespace is the app's: selectors of other namespaces are warned about.
	Namespace string
	// ScrapeInterval of the cluster's Prometheus (default 30s): range selectors
	// and `for` shorter than two scrapes see a single sample.
	ScrapeInterval time.Duration
	// Platform rules (the catalogue) may set the platform's labels.
	Platform bool
}

// DefaultScrapeInterval is Prometheus's and prometheus-operator's default.
const DefaultScrapeInterval = 30 * time.Second

// reservedLabels are labels the platform's routing and messages rely on; an
// app's rule setting them would reach another team or rewrite its links.
var reservedLabels = []string{"team", "namespace", "cluster", "prometheus", "receiver", "job"}

// templateAction is one {{ ... }} of a template; dataReadingFuncs are
// Prometheus's template functions that run queries.
var (
	templateAction   = regexp.MustCompile(`(?s){{.*?}}`)
	dataReadingFuncs = regexp.MustCompile(`\b(query)\b`)
)

// dataReadingFunc returns the first function in text that reads Prometheus's
// data, or "".
func dataReadingFunc(text string) string {
	for _, a := range templateAction.FindAllString(text, -1) {
		if m := dataReadingFuncs.FindString(a); m != "" {
			return m
		}
	}
	return ""
}

// highCardinality are labels that, in an alert's labels, would make one alert
// per request, pod restart or user: an alert storm, and silences that never match.
var highCardinality = []string{"pod", "pod_ip", "instance", "uid", "id", "container_id", "request_id", "trace_id", "span_id", "user", "user_id", "ip", "path", "url", "le"}

var alertName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Parser is the PromQL parser kube checks expressions with: Prometheus's own,
// with its default options (what a Prometheus without feature flags accepts).
var Parser = parser.NewParser(parser.Options{})

// Lint checks a rule and returns every problem at once.
func Lint(r Rule, o LintOptions) []Problem {
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = DefaultScrapeInterval
	}
	var ps []Problem
	add := func(field string, warn bool, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Offset: -1, Msg: fmt.Sprintf(format, args...), Warning: warn})
	}
	if !alertName.MatchString(r.Alert) {
		add("alert", false, "alert name %q must start with a letter and hold only letters, digits and _ (e.g. OrdersBacklogHigh)", r.Alert)
	}
	ps = append(ps, lintExpr(r.Expr, o)...)
	if r.For != "" {
		d, err := model.ParseDuration(r.For)
		switch {
		case err != nil:
			add("for", false, "for %q is not a Prometheus duration such as 5m or 1h", r.For)
		case d > 0 && time.Duration(d) < 2*o.ScrapeInterval:
			add("for", true, "for %s is shorter than two scrapes (%s): a single late scrape fires it; use at least %s", r.For, model.Duration(o.ScrapeInterval), model.Duration(2*o.ScrapeInterval))
		}
	}
	if !ValidSeverity(r.Severity) {
		add("severity", false, "severity %q is not one of %s (critical pages, warning goes to the team's channel, info is shown but not sent)", r.Severity, severityList())
	}
	if strings.TrimSpace(r.Summary) == "" {
		add("summary", false, "summary is missing: one line naming the object, e.g. \"Orders backlog of {{ $labels.queue }} is {{ $value }}\"")
	}
	if u, err := url.Parse(r.Runbook); strings.TrimSpace(r.Runbook) == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("runbook", false, "runbook must be the http(s) URL of what to do when the alert fires, got %q", r.Runbook)
	}
	for _, k := range sortedKeys(r.Labels) {
		v := r.Labels[k]
		switch {
		case k == LabelSeverity || k == "alertname":
			add("labels", false, "label %q is set by kube; use severity: instead", k)
		case !o.Platform && (slices.Contains(reservedLabels, k) || strings.HasPrefix(k, "kube_") || strings.HasPrefix(k, "__")):
			// team routes to another team's channel; kube_console_url would
			// replace the console link in every message (link injection).
			add("labels", false, "label %q is the platform's (routing, links, the namespace): an app's alert cannot set it", k)
		case !model.LabelName(k).IsValidLegacy():
			add("labels", false, "label name %q must hold only letters, digits and _", k)
		case slices.Contains(highCardinality, k):
			add("labels", false, "label %q would make one alert per %s (an alert storm, and silences that never match); put it in the description", k, k)
		case strings.Contains(v, "$value") || strings.Contains(v, ".Value"):
			add("labels", false, "label %q uses the value: each new value starts a new alert; put {{ $value }} in the summary or description", k)
		}
	}
	texts := map[string]string{"summary": r.Summary, "description": r.Description}
	for _, k := range sortedKeys(r.Labels) {
		texts["labels."+k] = r.Labels[k]
	}
	for name, text := range texts {
		field := name
		if strings.HasPrefix(name, "labels.") {
			field = "labels" // positions are per key of the rule
		}
		if err := checkTemplate(text); err != nil {
			add(field, false, "%s is not a valid template: %v", name, err)
		} else if fn := dataReadingFunc(text); fn != "" {
			add(field, false, "%s calls %s, which reads any namespace's series when the alert fires (the platform confines only the rule's expression): put what you need in expr and use $value or $labels", name, fn)
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	return ps
}

func lintExpr(expr string, o LintOptions) []Problem {
	if strings.TrimSpace(expr) == "" {
		return []Problem{{Field: "expr", Offset: -1, Msg: "expr is missing: the PromQL expression whose result series are the alerts"}}
	}
	e, err := Parser.ParseExpr(expr)
	if err != nil {
		var pes parser.ParseErrors
		if errors.As(err, &pes) {
			out := make([]Problem, 0, len(pes))
			for _, pe := range pes {
				out = append(out, Problem{Field: "expr", Offset: int(pe.PositionRange.Start), Msg: "PromQL: " + pe.Err.Error()})
			}
			return out
		}
		return []Problem{{Field: "expr", Offset: -1, Msg: "PromQL: " + err.Error()}}
	}
	var ps []Problem
	switch e.Type() {
	case parser.ValueTypeMatrix:
		ps = append(ps, Problem{Field: "expr", Offset: 0, Msg: "the expression returns a range vector; an alert needs an instant vector (wrap the range in rate(), max_over_time() ...)"})
	case parser.ValueTypeString:
		ps = append(ps, Problem{Field: "expr", Offset: 0, Msg: "the expression returns a string; an alert needs an instant vector"})
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			r := n.Range
			at := int(n.PositionRange().Start)
			switch {
			case r < 2*o.ScrapeInterval:
				ps = append(ps, Problem{Field: "expr", Offset: at, Msg: fmt.Sprintf("range [%s] holds fewer than two samples at the %s scrape interval, so rate() and increase() return nothing; use at least [%s]", model.Duration(r), model.Duration(o.ScrapeInterval), model.Duration(4*o.ScrapeInterval))})
			case r < 4*o.ScrapeInterval:
				ps = append(ps, Problem{Field: "expr", Offset: at, Warning: true, Msg: fmt.Sprintf("range [%s] is under four scrapes (%s): one missed scrape leaves a single sample; use at least [%s]", model.Duration(r), model.Duration(o.ScrapeInterval), model.Duration(4*o.ScrapeInterval))})
			}
		case *parser.VectorSelector:
			if o.Namespace != "" {
				if msg := namespaceProblem(n, o.Namespace); msg != "" {
					ps = append(ps, Problem{Field: "expr", Offset: int(n.PositionRange().Start), Warning: true, Msg: msg})
				}
			}
		}
		return nil
	})
	return ps
}

// namespaceProblem says how a selector reaches beyond the app's namespace.
func namespaceProblem(vs *parser.VectorSelector, ns string) string {
	for _, m := range vs.LabelMatchers {
		if m.Name != "namespace" {
			continue
		}
		if m.Type == labels.MatchEqual && m.Value == ns {
			return ""
		}
		return fmt.Sprintf("%s selects namespaces other than %s (namespace%s%q): alerts of other teams' objects are theirs; the platform confines app rules to %s", vs.String(), ns, m.Type, m.Value, ns)
	}
	return fmt.Sprintf("%s selects every namespace; add namespace=%q (the platform confines app rules to %s, so the rule means that anyway)", vs.String(), ns, ns)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkTemplate parses an annotation as Prometheus does when it loads a rule
// (rulefmt's check), with the variables alert templates have.
func checkTemplate(text string) error {
	if !strings.Contains(text, "{{") {
		return nil
	}
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(map[string]string{}, map[string]string{}, "", promql.Sample{})
	return template.NewTemplateExpander(context.Background(), defs+text, "__alert", data, model.Now(), nil, nil, nil).ParseTest()
}
