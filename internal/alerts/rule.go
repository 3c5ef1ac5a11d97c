// Package alerts is kube's alerting: the platform's generic alert catalogue,
// the rules teams add to their spec (checked by Lint and unit-tested in-process
// by RunTests with Prometheus's own packages), the routing of a namespace's
// alerts to its team's Slack channel, and the clients of Prometheus's and
// Alertmanager's HTTP APIs behind `kube alerts`.
package alerts

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Severities are the allowed values of an alert's severity label, most urgent
// first. Routing and the catalogue rely on them: critical pages, warning goes
// to the team's channel, info is shown in kube alerts but sent nowhere unless a
// team asks for it.
var Severities = []string{"critical", "warning", "info"}

// Rule is one alerting rule, as Prometheus loads it, plus the annotations kube
// requires of every alert.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"` // Prometheus duration, e.g. 15m
	Severity    string            `json:"severity"`
	Summary     string            `json:"summary"`
	Description string            `json:"description,omitempty"`
	Runbook     string            `json:"runbook"`
	Labels      map[string]string `json:"labels,omitempty"` // besides severity
}

// Record is a recording rule: Prometheus stores the expression's result
// under a new metric name at every evaluation.
type Record struct {
	Record string            `json:"record"`
	Expr   string            `json:"expr"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Group is a named list of rules evaluated together, in order: its recording
// rules first, so that its alerts read what they recorded at the same time.
type Group struct {
	Name string `json:"name"`
	// Interval between evaluations; empty: Prometheus's global one.
	Interval string   `json:"interval,omitempty"`
	Records  []Record `json:"records,omitempty"`
	Rules    []Rule   `json:"rules"`
}

func (r Record) Map() map[string]any {
	m := map[string]any{"record": r.Record, "expr": r.Expr}
	if len(r.Labels) > 0 {
		m["labels"] = toAny(r.Labels)
	}
	return m
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Annotation and label names kube writes on alerts.
const (
	LabelSeverity        = "severity"
	AnnotationSummary    = "summary"
	AnnotationDescribe   = "description"
	AnnotationRunbookURL = "runbook_url" // the name kubernetes-mixin and most runbooks use
)

// Map is the rule as it appears in a rule file or PrometheusRule.
func (r Rule) Map() map[string]any {
	labels := map[string]any{LabelSeverity: r.Severity}
	for k, v := range r.Labels {
		labels[k] = v
	}
	ann := map[string]any{AnnotationSummary: r.Summary, AnnotationRunbookURL: r.Runbook}
	if r.Description != "" {
		ann[AnnotationDescribe] = r.Description
	}
	m := map[string]any{"alert": r.Alert, "expr": r.Expr, "labels": labels, "annotations": ann}
	if r.For != "" && r.For != "0s" && r.For != "0" {
		m["for"] = r.For
	}
	return m
}

// RuleGroups renders groups as the `groups:` list of a Prometheus rule file
// (and of a PrometheusRule's spec).
func RuleGroups(groups []Group) []any {
	out := make([]any, 0, len(groups))
	for _, g := range groups {
		rs := make([]any, 0, len(g.Records)+len(g.Rules))
		for _, r := range g.Records {
			rs = append(rs, r.Map())
		}
		for _, r := range g.Rules {
			rs = append(rs, r.Map())
		}
		m := map[string]any{"name": g.Name, "rules": rs}
		if g.Interval != "" {
			m["interval"] = g.Interval
		}
		out = append(out, m)
	}
	return out
}

// PrometheusRule is the prometheus-operator object holding groups.
func PrometheusRule(meta metav1.ObjectMeta, groups []Group) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata":   objectMeta(meta),
		"spec":       map[string]any{"groups": RuleGroups(groups)},
	}}
	return u
}

// objectMeta keeps only what generated objects set, so that the YAML carries no
// empty creationTimestamp.
func objectMeta(m metav1.ObjectMeta) map[string]any {
	out := map[string]any{"name": m.Name}
	if m.Namespace != "" {
		out["namespace"] = m.Namespace
	}
	for key, v := range map[string]map[string]string{"labels": m.Labels, "annotations": m.Annotations} {
		if len(v) > 0 {
			mm := map[string]any{}
			for k, s := range v {
				mm[k] = s
			}
			out[key] = mm
		}
	}
	return out
}

// ValidSeverity tells whether s is one of Severities.
func ValidSeverity(s string) bool { return slices.Contains(Severities, s) }

func severityList() string { return fmt.Sprintf("%q", Severities) }
