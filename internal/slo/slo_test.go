package slo

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/alerts/ruletest"
	"github.com/kube-idp/kube/internal/yamlout"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestDecimalsAreExact(t *testing.T) {
	for _, c := range []struct{ objective, budget, minutes string }{
		{"99.95", "0.0005", "21.6"},
		{"99.9", "0.001", "43.2"},
		{"99", "0.01", "432"},
		{"99.999", "0.00001", "0.432"},
		{"50", "0.5", "21600"},
	} {
		b, err := ErrorBudget(c.objective)
		if err != nil || Decimal(b) != c.budget {
			t.Errorf("ErrorBudget(%s) = %v, %v; want %s", c.objective, b, err, c.budget)
		}
		m, err := BudgetMinutes(c.objective, DefaultWindow)
		if err != nil || Decimal(m) != c.minutes {
			t.Errorf("BudgetMinutes(%s, 30d) = %v, %v; want %s", c.objective, m, err, c.minutes)
		}
	}
	for _, bad := range []string{"100", "0", "100.5", "99,9", "9e1", "-1", "abc", ""} {
		if _, err := ErrorBudget(bad); err == nil {
			t.Errorf("ErrorBudget(%q) accepted", bad)
		}
	}
	// The page threshold of 99.95% is 14.4 x 0.0005, written as such.
	g, err := availability("99.95").Rules()
	if err != nil || !strings.Contains(g.Rules[0].Expr, "> 0.0072 and") || strings.Contains(g.Rules[0].Expr, "0.00719") {
		t.Errorf("page expression: %v\n%s", err, g.Rules[0].Expr)
	}
}

func availability(objective string) SLO {
	return SLO{Name: "availability", App: "shop", Namespace: "shop", Objective: objective, SLI: SLI{Availability: &Availability{Process: "web"}}}
}

// Golden rule groups; Prometheus's own rule-file parser accepts each.
func TestRulesGolden(t *testing.T) {
	cases := map[string]SLO{
		"availability": availability("99.95"),
		"latency": {Name: "latency", App: "shop", Namespace: "shop", Objective: "99", Window: model.Duration(28 * 24 * time.Hour),
			SLI: SLI{Latency: &Latency{Process: "web", Threshold: model.Duration(250 * time.Millisecond)}}, Burn: BurnRates{Page: "13.44"}},
		"ratio": {Name: "payments", App: "shop", Namespace: "shop", Objective: "99.5",
			SLI: SLI{Ratio: &Ratio{Good: `sum(rate(payments_total{result="ok"}[{{.window}}]))`, Total: `sum(rate(payments_total[{{.window}}]))`}}},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			g, err := s.Rules()
			if err != nil {
				t.Fatal(err)
			}
			got, err := yamlout.Marshal(map[string]any{"groups": alerts.RuleGroups([]alerts.Group{g})})
			if err != nil {
				t.Fatal(err)
			}
			if _, errs := rulefmt.Parse(got, false, model.UTF8Validation, alerts.Parser, slog.New(slog.DiscardHandler)); len(errs) > 0 {
				t.Fatalf("Prometheus refuses the rules: %v", errs)
			}
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil || string(want) != string(got) {
				t.Errorf("%s differs (go test ./internal/slo -update):\n%s", path, got)
			}
			// Sloth records 15 series per SLO for the same alerts.
			if n := len(g.Records); n > 15 {
				t.Errorf("%d recording rules, more than Sloth's 15", n)
			}
		})
	}
}

func TestLatencyThresholdMustBeABucket(t *testing.T) {
	s := availability("99")
	s.SLI = SLI{Latency: &Latency{Process: "web", Threshold: model.Duration(300 * time.Millisecond)}}
	if _, err := s.Rules(); err == nil || !strings.Contains(err.Error(), "250ms, 500ms") {
		t.Errorf("a 300ms threshold: %v", err)
	}
	s.SLI.Latency.Threshold = model.Duration(time.Second)
	if expr, err := s.ErrorRatio("5m"); err != nil || !strings.Contains(expr, `le=~"1(\\.0)?"`) {
		t.Errorf("a whole-second threshold must match le 1 and 1.0: %v %s", err, expr)
	}
}

// The alerts' semantics, evaluated by Prometheus's engine and rule manager as
// promtool test rules would, on servicex's metric at 100 requests a second
// (6,000 a minute) for a 99.9% objective (budget 0.1%).
func TestBurnRateAlerts(t *testing.T) {
	g, err := availability("99.9").Rules()
	if err != nil {
		t.Fatal(err)
	}
	const ok = `http_server_request_duration_seconds_count{namespace="shop", job="shop/web", http_response_status_code="200"}`
	const failed = `http_server_request_duration_seconds_count{namespace="shop", job="shop/web", http_response_status_code="500"}`
	firing := func(at, alert, severity string) ruletest.AlertCheck {
		return ruletest.AlertCheck{At: at, Alert: alert, Expect: []ruletest.ExpectedAlert{{Labels: map[string]string{"app": "shop", "slo": "availability", "severity": severity}}}}
	}
	none := func(at, alert string) ruletest.AlertCheck { return ruletest.AlertCheck{At: at, Alert: alert} }
	tests := []ruletest.Test{
		{
			Name: "a 10-minute burst at 10% errors pages, and recovery resolves it",
			// 50 minutes clean, 10 minutes with 600 of 6,000 requests failing, then clean.
			Input: []ruletest.Series{{Series: ok, Values: "0+6000x50 300000+5400x10 354000+6000x60"}, {Series: failed, Values: "0x50 0+600x10 6000x60"}},
			Alerts: []ruletest.AlertCheck{
				none("49m", AlertPage),
				firing("60m", AlertPage, "critical"),
				none("110m", AlertPage),
			},
		},
		{
			Name:  "a slow leak (0.5% errors, 5x the budget) opens a ticket and never pages",
			Input: []ruletest.Series{{Series: ok, Values: "0+5970x300"}, {Series: failed, Values: "0+30x300"}},
			Alerts: []ruletest.AlertCheck{
				none("300m", AlertPage),
				firing("300m", AlertTicket, "warning"),
			},
		},
		{
			Name:   "no errors, nothing fires",
			Input:  []ruletest.Series{{Series: ok, Values: "0+6000x300"}, {Series: failed, Values: "0x300"}},
			Alerts: []ruletest.AlertCheck{none("300m", AlertPage), none("300m", AlertTicket)},
		},
	}
	for _, f := range ruletest.RunGroup(context.Background(), g, tests) {
		t.Errorf("%s: %s", tests[f.Test].Name, f.Msg)
	}
}

// Objectives and burn rates come from the spec: whatever ParseDecimal
// accepts, Decimal writes back exactly.
func FuzzDecimal(f *testing.F) {
	f.Add("99.95")
	f.Add("0.0000001")
	f.Add("14.4")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseDecimal(s)
		if err != nil {
			return
		}
		back, err := ParseDecimal(Decimal(r))
		if err != nil || back.Cmp(r) != 0 {
			t.Fatalf("Decimal(%s) = %s", s, Decimal(r))
		}
	})
}
