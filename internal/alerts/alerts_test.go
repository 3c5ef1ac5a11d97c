package alerts

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"
)

// Every rule of the catalogue passes kube's own validator without a warning,
// and Prometheus's rule file loader accepts the catalogue as installed.
func TestCatalogueIsValid(t *testing.T) {
	for _, g := range Catalogue() {
		for _, r := range g.Rules {
			for _, p := range Lint(r, LintOptions{Platform: true}) {
				t.Errorf("%s: %s: %s (warning %v)", r.Alert, p.Field, p.Msg, p.Warning)
			}
			if !strings.HasPrefix(r.Runbook, RunbookBase) {
				t.Errorf("%s: runbook %s is not in docs/alerts.md", r.Alert, r.Runbook)
			}
		}
	}
	data, err := yaml.Marshal(map[string]any{"groups": RuleGroups(Catalogue())})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := rulefmt.Parse(data, false, model.UTF8Validation, Parser, slog.New(slog.DiscardHandler)); len(errs) > 0 {
		t.Fatalf("Prometheus rejects the catalogue: %v", errs)
	}
}

func TestLint(t *testing.T) {
	base := Rule{Alert: "A", Expr: `up{namespace="shop"} == 0`, Severity: "warning", Summary: "s", Runbook: "https://r"}
	cases := []struct {
		name   string
		change func(*Rule)
		field  string
		warn   bool
		msg    string
	}{
		{"parse error with its offset", func(r *Rule) { r.Expr = `rate(up[5m]` }, "expr", false, "unclosed left parenthesis"},
		{"a range vector is no alert", func(r *Rule) { r.Expr = `up{namespace="shop"}[5m]` }, "expr", false, "returns a range vector"},
		{"one-sample range", func(r *Rule) { r.Expr = `rate(up{namespace="shop"}[45s]) > 0` }, "expr", false, "fewer than two samples"},
		{"short range", func(r *Rule) { r.Expr = `rate(up{namespace="shop"}[90s]) > 0` }, "expr", true, "under four scrapes"},
		{"another namespace", func(r *Rule) { r.Expr = `up{namespace=~"shop|billing"} == 0` }, "expr", true, "selects namespaces other than shop"},
		{"every namespace", func(r *Rule) { r.Expr = `up == 0` }, "expr", true, "selects every namespace"},
		{"bad severity", func(r *Rule) { r.Severity = "page" }, "severity", false, "not one of"},
		{"for too short", func(r *Rule) { r.For = "20s" }, "for", true, "shorter than two scrapes"},
		{"bad template", func(r *Rule) { r.Summary = "{{ $labels.x " }, "summary", false, "not a valid template"},
		{"per-request label", func(r *Rule) { r.Labels = map[string]string{"trace_id": "x"} }, "labels", false, "one alert per trace_id"},
		{"runbook not a URL", func(r *Rule) { r.Runbook = "wiki/Orders" }, "runbook", false, "http(s) URL"},
		{"another team's channel", func(r *Rule) { r.Labels = map[string]string{"team": "platform"} }, "labels", false, `label "team" is the platform's`},
		{"link injection", func(r *Rule) { r.Labels = map[string]string{"kube_console_url": "https://evil"} }, "labels", false, `label "kube_console_url" is the platform's`},
		{"query in an annotation", func(r *Rule) { r.Description = `{{ with query "secret_metric" }}{{ . }}{{ end }}` }, "description", false, "calls query"},
		{"query in a label", func(r *Rule) { r.Labels = map[string]string{"x": `{{- query "y" -}}`} }, "labels", false, "labels.x calls query"},
	}
	if ps := Lint(base, LintOptions{Namespace: "shop"}); len(ps) != 0 {
		t.Fatalf("the base rule has problems: %v", ps)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := base
			c.change(&r)
			ps := Lint(r, LintOptions{Namespace: "shop"})
			if len(ps) != 1 || ps[0].Field != c.field || ps[0].Warning != c.warn || !strings.Contains(ps[0].Msg, c.msg) {
				t.Fatalf("Lint = %+v, want one problem of %s (warning %v) saying %q", ps, c.field, c.warn, c.msg)
			}
		})
	}
	if ps := Lint(Rule{Alert: "A", Expr: `rate(up[5m]`, Severity: "warning", Summary: "s", Runbook: "https://r"}, LintOptions{}); ps[0].Offset != 11 {
		t.Errorf("parse error offset = %d, want 11 (the end)", ps[0].Offset)
	}
}
