// Package monitoring reaches a cluster's Prometheus and Alertmanager over
// their HTTP APIs: rules and their state, alerts, silences, routes, instant
// queries. kube alerts, kube slo and the console read through it.
package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/secrets"
)

// API reaches a cluster's Prometheus and Alertmanager over their HTTP APIs.
type API struct {
	Prometheus, Alertmanager string // base URLs
	HTTP                     *http.Client
}

// promError names Prometheus in an error without the credentials a URL such
// as http://user:pass@prometheus may hold (in the URL and in the error's text).
func (a *API) promError(err error) error {
	return fmt.Errorf("prometheus %s: %s", secrets.RedactURL(a.Prometheus), secrets.RedactURLsIn(err.Error()))
}

func (a *API) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// RuleState is one alerting rule that concerns a namespace, with its alerts
// there.
type RuleState struct {
	Alert    string `json:"alert"`
	Source   string `json:"source"` // platform or app
	Severity string `json:"severity"`
	// State is the rule's worst state in the namespace: inactive, pending or firing.
	State  string      `json:"state"`
	Alerts []AlertInfo `json:"alerts,omitempty"`
}

// AlertInfo is one alert of a rule (Prometheus) or one alert of Alertmanager.
type AlertInfo struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	State       string            `json:"state"` // pending, firing; active, suppressed
	Since       time.Time         `json:"since"`
	SilencedBy  []string          `json:"silencedBy,omitempty"`
}

// Rules lists the catalogue's rules and the namespace's own, with the
// namespace's alerts, from Prometheus's /api/v1/rules.
func (a *API) Rules(ctx context.Context, namespace string) ([]RuleState, error) {
	if a.Prometheus == "" {
		return nil, errNoURL("prometheus")
	}
	c, err := api.NewClient(api.Config{Address: a.Prometheus, Client: a.client()})
	if err != nil {
		return nil, err
	}
	res, err := promv1.NewAPI(c).Rules(ctx, nil)
	if err != nil {
		return nil, a.promError(err)
	}
	var out []RuleState
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			ar, ok := r.(promv1.AlertingRule)
			if !ok {
				continue
			}
			source := ruleSource(g, ar, namespace)
			if source == "" {
				continue
			}
			rs := RuleState{Alert: ar.Name, Source: source, Severity: string(ar.Labels[alerts.LabelSeverity]), State: "inactive"}
			for _, al := range ar.Alerts {
				if string(al.Labels["namespace"]) != namespace {
					continue
				}
				rs.Alerts = append(rs.Alerts, AlertInfo{Labels: labelMap(al.Labels), Annotations: labelMap(al.Annotations), State: string(al.State), Since: al.ActiveAt})
				if al.State == promv1.AlertStateFiring || rs.State == "inactive" {
					rs.State = string(al.State)
				}
			}
			out = append(out, rs)
		}
	}
	slices.SortStableFunc(out, func(x, y RuleState) int { return strings.Compare(x.Alert, y.Alert) })
	return out, nil
}

// ruleSource tells whose rule r is for namespace: "platform" (the catalogue's,
// about apps), "app" (the namespace's own), or "" (neither). prometheus-operator
// names a rule file <namespace>-<rule>-<uid>.yaml, so the file's prefix alone
// cannot tell shop from shop-payments: the namespace label that its
// enforcedNamespaceLabel adds to every rule decides when present.
func ruleSource(g promv1.RuleGroup, r promv1.AlertingRule, namespace string) string {
	if strings.HasPrefix(g.Name, "kube-platform.") {
		if r.Labels["team"] == "platform" {
			return "" // about the platform itself, not the app
		}
		return "platform"
	}
	if !strings.HasPrefix(path.Base(g.File), namespace+"-") {
		return ""
	}
	if ns, ok := r.Labels["namespace"]; ok && string(ns) != namespace {
		return ""
	}
	return "app"
}

func labelMap(ls model.LabelSet) map[string]string {
	out := make(map[string]string, len(ls))
	for k, v := range ls {
		out[string(k)] = string(v)
	}
	return out
}

// Query evaluates an instant PromQL query on the cluster's Prometheus.
func (a *API) Query(ctx context.Context, expr string, at time.Time) (model.Vector, error) {
	if a.Prometheus == "" {
		return nil, errNoURL("prometheus")
	}
	c, err := api.NewClient(api.Config{Address: a.Prometheus, Client: a.client()})
	if err != nil {
		return nil, err
	}
	v, _, _, err := promv1.NewAPI(c).Query(ctx, expr, at)
	if err != nil {
		return nil, a.promError(err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus %s: %s is a %s, not a vector", secrets.RedactURL(a.Prometheus), expr, v.Type())
	}
	return vec, nil
}

func errNoURL(what string) error {
	return fmt.Errorf("the cluster registry gives no %s URL for this cluster: add %s: https://... to its entry, or pass --%s", what, what, what)
}

// amAlert is an alert of Alertmanager's API v2.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

// Alerts lists what Alertmanager holds for the namespace: active and
// suppressed (silenced or inhibited) alerts.
func (a *API) Alerts(ctx context.Context, namespace string) ([]AlertInfo, error) {
	var got []amAlert
	q := url.Values{"filter": {fmt.Sprintf("namespace=%q", namespace)}}
	if err := a.am(ctx, http.MethodGet, "/api/v2/alerts?"+q.Encode(), nil, &got); err != nil {
		return nil, err
	}
	out := make([]AlertInfo, 0, len(got))
	for _, g := range got {
		out = append(out, AlertInfo{Labels: g.Labels, Annotations: g.Annotations, State: g.Status.State, Since: g.StartsAt, SilencedBy: g.Status.SilencedBy})
	}
	slices.SortStableFunc(out, func(x, y AlertInfo) int { return strings.Compare(x.Labels["alertname"], y.Labels["alertname"]) })
	return out, nil
}

// Silence is one of Alertmanager's silences.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	Status    *struct {
		State string `json:"state"`
	} `json:"status,omitempty"`
}

// Matcher is a label matcher of a silence.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// Silences says whether the silence is for the alert by name (an exact
// alertname matcher; kube's silences are made so).
func (s Silence) Silences(alert string) bool {
	for _, m := range s.Matchers {
		if m.Name == "alertname" && m.Value == alert && !m.IsRegex && m.IsEqual {
			return true
		}
	}
	return false
}

// String writes the matchers as PromQL does: {alertname="X", severity=~"a|b"}.
func (s Silence) String() string {
	parts := make([]string, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		op := "="
		switch {
		case m.IsRegex && !m.IsEqual:
			op = "!~"
		case m.IsRegex:
			op = "=~"
		case !m.IsEqual:
			op = "!="
		}
		parts = append(parts, m.Name+op+strconv.Quote(m.Value))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Severity is the severity label of the namespace's rule named alert, "" when
// no such rule is loaded.
func (a *API) Severity(ctx context.Context, namespace, alert string) (string, error) {
	rules, err := a.Rules(ctx, namespace)
	if err != nil {
		return "", err
	}
	for _, r := range rules {
		if r.Alert == alert {
			return r.Severity, nil
		}
	}
	return "", nil
}

// Silences lists the active and pending silences of the namespace.
func (a *API) Silences(ctx context.Context, namespace string) ([]Silence, error) {
	var got []Silence
	q := url.Values{"filter": {fmt.Sprintf("namespace=%q", namespace)}}
	if err := a.am(ctx, http.MethodGet, "/api/v2/silences?"+q.Encode(), nil, &got); err != nil {
		return nil, err
	}
	out := got[:0]
	for _, s := range got {
		if s.Status == nil || s.Status.State != "expired" {
			out = append(out, s)
		}
	}
	return out, nil
}

// CreateSilence silences one alert of one namespace for d.
func (a *API) CreateSilence(ctx context.Context, namespace, alert string, d time.Duration, by, reason string) (string, error) {
	now := time.Now().UTC()
	s := Silence{
		Matchers: []Matcher{{Name: "alertname", Value: alert, IsEqual: true}, {Name: "namespace", Value: namespace, IsEqual: true}},
		StartsAt: now, EndsAt: now.Add(d), CreatedBy: by, Comment: reason,
	}
	var res struct {
		SilenceID string `json:"silenceID"`
	}
	if err := a.am(ctx, http.MethodPost, "/api/v2/silences", s, &res); err != nil {
		return "", err
	}
	return res.SilenceID, nil
}

// ExpireSilence ends a silence now.
func (a *API) ExpireSilence(ctx context.Context, id string) error {
	return a.am(ctx, http.MethodDelete, "/api/v2/silence/"+url.PathEscape(id), nil, nil)
}

// Route answers which receivers, and which Slack channels, Alertmanager's
// running configuration gives an alert with these labels.
func (a *API) Route(ctx context.Context, labels map[string]string) ([]alerts.Destination, error) {
	var status struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := a.am(ctx, http.MethodGet, "/api/v2/status", nil, &status); err != nil {
		return nil, err
	}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return alerts.Destinations(status.Config.Original, ls)
}

func (a *API) am(ctx context.Context, method, p string, body, into any) error {
	if a.Alertmanager == "" {
		return errNoURL("alertmanager")
	}
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.Alertmanager, "/")+p, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client().Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager %s: %s", secrets.RedactURL(a.Alertmanager), secrets.RedactURLsIn(err.Error()))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s %s: %s: %s", method, strings.SplitN(p, "?", 2)[0], resp.Status, strings.TrimSpace(string(data)))
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(data, into)
}
