package alerts

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/contract"
)

// Channels say which Slack channel receives each severity; "" sends it
// nowhere (it still shows in kube alerts).
type Channels struct {
	Critical string `json:"critical,omitempty"`
	Warning  string `json:"warning,omitempty"`
	Info     string `json:"info,omitempty"`
}

// For returns the channel of a severity.
func (c Channels) For(severity string) string {
	switch severity {
	case "critical":
		return c.Critical
	case "info":
		return c.Info
	}
	return c.Warning
}

// Receivers named in a team's AlertmanagerConfig; prometheus-operator
// prefixes them with <namespace>/<name>/ in Alertmanager's configuration.
const (
	receiverNone = "none"
)

func receiverName(severity string) string { return "slack-" + severity }

// RouteTarget is who an AlertmanagerConfig is for, for its messages.
type RouteTarget struct {
	App, Namespace, Cluster string
}

// AlertmanagerConfig routes every alert of the namespace to the team's
// channels, by severity. prometheus-operator adds the namespace="<ns>" matcher
// itself, so a team's config can never receive another namespace's alerts.
// No credential appears here: the Slack app's token is Alertmanager's global
// configuration, a Secret the platform manages (config/monitoring).
func AlertmanagerConfig(meta metav1.ObjectMeta, t RouteTarget, ch Channels) *unstructured.Unstructured {
	var routes, receivers []any
	receivers = append(receivers, map[string]any{"name": receiverNone})
	// Critical and info first: the default route is warning's.
	for _, sev := range []string{"critical", "info"} {
		recv := receiverNone
		if ch.For(sev) != "" {
			recv = receiverName(sev)
			receivers = append(receivers, slackReceiver(recv, ch.For(sev), t))
		}
		routes = append(routes, map[string]any{
			"matchers": []any{map[string]any{"name": LabelSeverity, "value": sev, "matchType": "="}},
			"receiver": recv,
		})
	}
	def := receiverNone
	if ch.Warning != "" {
		def = receiverName("warning")
		receivers = append(receivers, slackReceiver(def, ch.Warning, t))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1alpha1",
		"kind":       "AlertmanagerConfig",
		"metadata":   objectMeta(meta),
		"spec": map[string]any{
			"route": map[string]any{
				"receiver":       def,
				"groupBy":        []any{"alertname", "namespace"},
				"groupWait":      "30s",
				"groupInterval":  "5m",
				"repeatInterval": "4h",
				"routes":         routes,
			},
			"receivers": receivers,
		},
	}}
}

func slackReceiver(name, channel string, t RouteTarget) map[string]any {
	return map[string]any{
		"name": name,
		"slackConfigs": []any{map[string]any{
			"channel":      channel,
			"sendResolved": true,
			"title":        SlackTitle(t),
			"text":         SlackText(t),
		}},
	}
}

// SlackTitle and SlackText are the Alertmanager templates of a team's
// messages: cluster, namespace, object, severity, summary, runbook and the
// kube status command, like the CronJob notifier's.
func SlackTitle(t RouteTarget) string {
	return `{{ if eq .Status "firing" }}:rotating_light: {{ .CommonLabels.alertname }} in ` + t.Namespace + ` on ` + t.Cluster +
		`{{ else }}:white_check_mark: {{ .CommonLabels.alertname }} in ` + t.Namespace + ` on ` + t.Cluster + ` resolved{{ end }}`
}

// SlackText: see SlackTitle.
func SlackText(t RouteTarget) string {
	return `{{ range .Alerts }}*{{ .Annotations.summary }}*
*Severity:* {{ .Labels.severity }}   *Cluster:* ` + t.Cluster + `   *Namespace:* {{ .Labels.namespace }}   *Object:* ` + objectTemplate + `
{{ with .Annotations.description }}{{ . }}
{{ end }}*Runbook:* {{ .Annotations.runbook_url }}
{{ end }}More: ` + "`" + fmt.Sprintf("kube status --app %s -n %s -c %s", t.App, t.Namespace, t.Cluster) + "`" +
		// The console's link, when the cluster's Prometheus names the console
		// in its external labels: the URL is the platform's, not the app's.
		`{{ with .CommonLabels.` + contract.LabelConsoleURL + ` }}  ·  <{{ . }}` + contract.ConsoleAppPath(t.Cluster, t.Namespace, t.App) + `|Open in the console>{{ end }}`
}

// objectTemplate names the object an alert is about from the labels
// kube-state-metrics and the catalogue's rules keep.
const objectTemplate = `{{ if .Labels.deployment }}deployment/{{ .Labels.deployment }}` +
	`{{ else if .Labels.horizontalpodautoscaler }}hpa/{{ .Labels.horizontalpodautoscaler }}` +
	`{{ else if .Labels.job_name }}job/{{ .Labels.job_name }}` +
	`{{ else if .Labels.persistentvolumeclaim }}pvc/{{ .Labels.persistentvolumeclaim }}` +
	`{{ else if .Labels.pod }}pod/{{ .Labels.pod }}{{ if .Labels.container }} container {{ .Labels.container }}{{ end }}` +
	`{{ else if .Labels.job }}{{ .Labels.job }}{{ else }}-{{ end }}`
