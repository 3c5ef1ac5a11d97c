package monitoring

import (
	"context"
	"strings"
	"testing"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// kube alerts list for shop shows shop's rules, not shop-payments' (whose
// rule files share the prefix).
func TestRuleSourceMatchesTheNamespaceExactly(t *testing.T) {
	rule := func(ns string) promv1.AlertingRule {
		ls := model.LabelSet{"severity": "warning"}
		if ns != "" {
			ls["namespace"] = model.LabelValue(ns)
		}
		return promv1.AlertingRule{Name: "A", Labels: ls}
	}
	group := func(file string) promv1.RuleGroup {
		return promv1.RuleGroup{Name: "g", File: "/etc/prometheus/rules/prometheus-k8s-rulefiles-0/" + file}
	}
	platform := promv1.RuleGroup{Name: "kube-platform.workloads", File: "/x/monitoring-kube-platform-1.yaml"}
	for _, c := range []struct {
		g    promv1.RuleGroup
		r    promv1.AlertingRule
		want string
	}{
		{group("shop-alerts-0a1b.yaml"), rule("shop"), "app"},
		{group("shop-payments-alerts-0a1b.yaml"), rule("shop-payments"), ""},
		{group("shop-alerts-0a1b.yaml"), rule(""), "app"},
		{group("billing-alerts-0a1b.yaml"), rule("billing"), ""},
		{platform, rule(""), "platform"},
		{platform, promv1.AlertingRule{Labels: model.LabelSet{"team": "platform"}}, ""},
	} {
		if got := ruleSource(c.g, c.r, "shop"); got != c.want {
			t.Errorf("ruleSource(%s, %v) = %q, want %q", c.g.File, c.r.Labels, got, c.want)
		}
	}
}

// --prometheus http://user:pass@... never shows its credentials in an error.
func TestErrorsHideURLCredentials(t *testing.T) {
	a := &API{Prometheus: "http://scraper:hunter2hunter2@127.0.0.1:1", Alertmanager: "http://am-user:s3cr3tpass@127.0.0.1:1"}
	_, err := a.Rules(context.Background(), "shop")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "scraper") {
		t.Errorf("prometheus: %v", err)
	}
	_, err = a.Silences(context.Background(), "shop")
	if err == nil || strings.Contains(err.Error(), "s3cr3tpass") || strings.Contains(err.Error(), "am-user") {
		t.Errorf("alertmanager: %v", err)
	}
}

// A silence is an alert's when it matches its name exactly; it prints as
// PromQL matchers.
func TestSilenceMatching(t *testing.T) {
	s := Silence{Matchers: []Matcher{{Name: "alertname", Value: "HighErrors", IsEqual: true}, {Name: "severity", Value: "critical|warning", IsRegex: true, IsEqual: true}, {Name: "team", Value: "x", IsEqual: false}}}
	if !s.Silences("HighErrors") || s.Silences("High") {
		t.Error("exact alertname only")
	}
	if re := (Silence{Matchers: []Matcher{{Name: "alertname", Value: "High.*", IsRegex: true, IsEqual: true}}}); re.Silences("High.*") {
		t.Error("a regular expression is not the alert's silence")
	}
	if got := s.String(); got != `{alertname="HighErrors", severity=~"critical|warning", team!="x"}` {
		t.Errorf("%s", got)
	}
}
