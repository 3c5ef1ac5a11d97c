package alerts

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The monitoring programs the platform runs (config/monitoring asks the
// operator for them). The tests run the same versions, built from the module
// proxy (TestPlatformVersionsAreTheTestedOnes holds the two equal).
const (
	PrometheusRelease   = "3.16.0"
	AlertmanagerRelease = "0.31.1"
)

// Platform describes the monitoring the platform team installs once per
// cluster (config/monitoring): the catalogue, a Prometheus that loads every
// namespace's rules confined to that namespace, and an Alertmanager that
// routes each namespace's alerts by the team's AlertmanagerConfig.
type Platform struct {
	Namespace string // default monitoring
	// Cluster is the registry name of the cluster, the `cluster` label of
	// every alert (messages say it).
	Cluster string
	// SlackSecret holds the Slack credential: key api-url (the Slack API's
	// chat.postMessage URL) and key token (the Slack app's bot token). The
	// platform creates it; no generated file or Git repository holds it.
	SlackSecret string
	// Channels of the platform team: its own alerts, and what no team route
	// matched (FallbackReceiver).
	PlatformChannel, FallbackChannel string
	// ForOverride, when set, replaces every catalogue rule's `for` (tests:
	// seconds instead of the production minutes).
	ForOverride string
}

// Defaults of config/monitoring.
func (p Platform) withDefaults() Platform {
	if p.Namespace == "" {
		p.Namespace = "monitoring"
	}
	if p.SlackSecret == "" {
		p.SlackSecret = "kube-alerts-slack"
	}
	if p.PlatformChannel == "" {
		p.PlatformChannel = "#platform-alerts"
	}
	if p.FallbackChannel == "" {
		p.FallbackChannel = "#platform-alerts-unrouted"
	}
	return p
}

// PlatformName names the Prometheus, Alertmanager and platform
// AlertmanagerConfig objects.
const PlatformName = "kube"

// Objects are the platform's monitoring objects, in apply order.
func (p Platform) Objects() []*unstructured.Unstructured {
	p = p.withDefaults()
	sel := map[string]any{"matchLabels": map[string]any{LabelRuleSelector: "true"}}
	labels := map[string]string{"app.kubernetes.io/part-of": "kube"}
	meta := func(name string) map[string]any {
		return objectMeta(metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: labels})
	}
	catalogue := Catalogue()
	if p.ForOverride != "" {
		for gi := range catalogue {
			for ri := range catalogue[gi].Rules {
				catalogue[gi].Rules[ri].For = p.ForOverride
			}
		}
	}
	rule := PrometheusRule(metav1.ObjectMeta{Name: CatalogueName, Namespace: p.Namespace,
		Labels: map[string]string{"app.kubernetes.io/part-of": "kube", LabelRuleSelector: "true"}}, catalogue)
	prometheus := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": meta(PlatformName),
		"spec": map[string]any{
			"version":        "v" + PrometheusRelease,
			"externalLabels": map[string]any{"cluster": p.Cluster},
			// Every rule of an app namespace gets namespace="<its namespace>" in
			// its selectors and alerts: a team's rule cannot read or raise
			// another team's alerts. The catalogue, which watches every
			// namespace, is the one exception.
			"enforcedNamespaceLabel": "namespace",
			"excludedFromEnforcement": []any{map[string]any{
				"group": "monitoring.coreos.com", "resource": "prometheusrules", "namespace": p.Namespace, "name": CatalogueName}},
			"ruleSelector":                    sel,
			"ruleNamespaceSelector":           map[string]any{},
			"podMonitorSelector":              map[string]any{},
			"podMonitorNamespaceSelector":     map[string]any{},
			"serviceMonitorSelector":          map[string]any{},
			"serviceMonitorNamespaceSelector": map[string]any{},
			"alerting": map[string]any{"alertmanagers": []any{map[string]any{
				"namespace": p.Namespace, "name": "alertmanager-operated", "port": "web", "apiVersion": "v2"}}},
		},
	}}
	alertmanager := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager", "metadata": meta(PlatformName),
		"spec": map[string]any{
			"version":                             "v" + AlertmanagerRelease,
			"alertmanagerConfigSelector":          sel,
			"alertmanagerConfigNamespaceSelector": map[string]any{},
			// A team's config is confined to its namespace; the platform's own
			// configs in this namespace are not, so that they can route
			// alerts about any namespace (the platform's channel).
			"alertmanagerConfigMatcherStrategy": map[string]any{"type": "OnNamespaceExceptForAlertmanagerNamespace"},
			// alertmanager_notifications_total{receiver_name=...}: how many
			// alerts reach the fallback receiver (AlertsUnrouted).
			"enableFeatures": []any{"receiver-name-in-metrics"},
			"alertmanagerConfiguration": map[string]any{
				"name": PlatformName,
				"global": map[string]any{
					"slackApiUrl": map[string]any{"name": p.SlackSecret, "key": "api-url"},
					"httpConfig": map[string]any{"authorization": map[string]any{
						"type": "Bearer", "credentials": map[string]any{"name": p.SlackSecret, "key": "token"}}},
				},
			},
		},
	}}
	target := RouteTarget{App: "kube", Namespace: p.Namespace, Cluster: p.Cluster}
	routing := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig", "metadata": meta(PlatformName),
		"spec": map[string]any{
			"route": map[string]any{
				"receiver": FallbackReceiver,
				"groupBy":  []any{"alertname", "namespace"},
				"routes": []any{map[string]any{
					"matchers": []any{map[string]any{"name": "team", "value": "platform", "matchType": "="}},
					"receiver": "platform",
				}},
			},
			"receivers": []any{
				slackReceiver(FallbackReceiver, p.FallbackChannel, target),
				slackReceiver("platform", p.PlatformChannel, target),
			},
		},
	}}
	// The AlertmanagerConfig is selected by the Alertmanager's
	// alertmanagerConfiguration by name, not by label.
	return []*unstructured.Unstructured{rule, prometheus, alertmanager, routing}
}
