package alerts

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// RunbookBase is where the catalogue's runbooks live: docs/alerts.md, one
// section per alert, versioned with kube like the rules.
const RunbookBase = "https://github.com/kube-idp/kube/blob/main/docs/alerts.md#"

// CatalogueName is the PrometheusRule holding the catalogue, installed once
// per cluster in the monitoring namespace (config/monitoring).
const CatalogueName = "kube-platform-alerts"

// FallbackReceiver receives what no team route matches: a namespace without
// an AlertmanagerConfig, or a team route that was rejected.
const FallbackReceiver = "unrouted"

// Catalogue is the platform's generic alerts for every app. The rules keep
// the labels of the object they are about, above all namespace, which is how
// each alert reaches the team owning that namespace (Route). They read the
// standard metric names: kube-state-metrics (kube_*), the kubelet and cAdvisor
// (kubelet_volume_*, container_*), servicex's OpenTelemetry HTTP server
// metrics (http_server_request_duration_seconds), and Alertmanager's own.
func Catalogue() []Group {
	rb := func(alert string) string { return RunbookBase + alert }
	return []Group{
		{Name: "kube-platform.workloads", Rules: []Rule{
			{
				Alert:    "KubePodCrashLooping",
				Expr:     `max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1`,
				For:      "15m",
				Severity: "warning",
				Summary:  `Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} is crash-looping`,
				Description: `It has been waiting in CrashLoopBackOff for 15 minutes. ` +
					`Its last log lines usually say why: kube logs --previous.`,
				Runbook: rb("KubePodCrashLooping"),
			},
			{
				Alert: "KubeContainerOOMKilled",
				Expr: `(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m >= 1)` +
					` and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[10m]) == 1`,
				Severity:    "warning",
				Summary:     `Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} was killed for using more memory than its limit`,
				Description: `It restarted in the last 10 minutes after an out-of-memory kill. Raise resources.memory in kube-generate.yaml or find the leak.`,
				Runbook:     rb("KubeContainerOOMKilled"),
			},
			{
				Alert: "KubeDeploymentReplicasMismatch",
				Expr: `(kube_deployment_spec_replicas > kube_deployment_status_replicas_available)` +
					` and (changes(kube_deployment_status_replicas_updated[10m]) == 0)`,
				For:         "15m",
				Severity:    "warning",
				Summary:     `Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has fewer available replicas than it wants`,
				Description: `For 15 minutes it has not had its {{ $value }} replicas available and no rollout is moving. Pods may be pending (no room, a node selector nothing matches) or failing their readiness probe.`,
				Runbook:     rb("KubeDeploymentReplicasMismatch"),
			},
			{
				Alert:       "KubeDeploymentRolloutStuck",
				Expr:        `kube_deployment_status_condition{condition="Progressing", status="false"} == 1`,
				For:         "15m",
				Severity:    "warning",
				Summary:     `The rollout of Deployment {{ $labels.namespace }}/{{ $labels.deployment }} is stuck`,
				Description: `It exceeded its progress deadline. kube status shows the pods that do not become ready; kube rollback returns to the last good revision.`,
				Runbook:     rb("KubeDeploymentRolloutStuck"),
			},
			{
				Alert: "KubePodNotReady",
				Expr: `max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Unknown|Failed"}) == 1` +
					` unless on (namespace, pod) kube_pod_owner{owner_kind="Job"}`,
				For:         "15m",
				Severity:    "warning",
				Summary:     `Pod {{ $labels.namespace }}/{{ $labels.pod }} has not been running for 15 minutes`,
				Description: `It is Pending, Unknown or Failed. Pending pods usually wait for room on a node or for a volume.`,
				Runbook:     rb("KubePodNotReady"),
			},
			{
				Alert:       "KubeHpaMaxedOut",
				Expr:        `kube_horizontalpodautoscaler_status_current_replicas >= kube_horizontalpodautoscaler_spec_max_replicas`,
				For:         "15m",
				Severity:    "warning",
				Summary:     `Autoscaler {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its maximum for 15 minutes`,
				Description: `It cannot add replicas although its target is exceeded. Raise the maximum, or make the process cheaper.`,
				Runbook:     rb("KubeHpaMaxedOut"),
			},
			{
				// The CronJob notifier already reports failed runs of CronJobs to
				// the team, once each: this rule is for Jobs nobody else watches.
				Alert:       "KubeJobFailed",
				Expr:        `kube_job_failed{condition="true"} == 1 unless on (namespace, job_name) kube_job_owner{owner_kind="CronJob"}`,
				Severity:    "warning",
				Summary:     `Job {{ $labels.namespace }}/{{ $labels.job_name }} failed`,
				Description: `It used up its retries or its deadline. Failed runs of CronJobs are reported by the CronJob notifier instead. Delete the Job to clear the alert.`,
				Runbook:     rb("KubeJobFailed"),
			},
			{
				// Informational: throttling is normal for bursty processes and the
				// classic source of false alarms; kube alerts shows it, no channel
				// receives it unless the team asks for info alerts.
				Alert: "CPUThrottlingHigh",
				Expr: `sum by (namespace, pod, container) (increase(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))` +
					` / sum by (namespace, pod, container) (increase(container_cpu_cfs_periods_total{container!=""}[5m])) > 0.25`,
				For:         "15m",
				Severity:    "info",
				Summary:     `Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} is CPU-throttled in {{ $value | humanizePercentage }} of periods`,
				Description: `Its CPU limit holds it back. kube generate sets no CPU limit by default; this happens only with resources.cpuLimit.`,
				Runbook:     rb("CPUThrottlingHigh"),
			},
		}},
		{Name: "kube-platform.storage", Rules: []Rule{
			{
				Alert: "KubePersistentVolumeFillingUp",
				Expr: `kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.10` +
					` and kubelet_volume_stats_used_bytes > 0`,
				For:         "5m",
				Severity:    "warning",
				Summary:     `Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} free`,
				Description: `Less than 10% of it is free. Grow the claim or delete data before writes fail.`,
				Runbook:     rb("KubePersistentVolumeFillingUp"),
			},
			{
				Alert: "KubePersistentVolumeFull",
				Expr: `kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.03` +
					` and kubelet_volume_stats_used_bytes > 0`,
				For:         "1m",
				Severity:    "critical",
				Summary:     `Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is almost full ({{ $value | humanizePercentage }} free)`,
				Description: `Writes will fail within minutes.`,
				Runbook:     rb("KubePersistentVolumeFull"),
			},
		}},
		{Name: "kube-platform.http", Rules: []Rule{
			{
				// servicex's OpenTelemetry HTTP server metrics (docs/servicex.md).
				Alert: "HTTPHighErrorRatio",
				Expr: `sum by (namespace, job) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))` +
					` / sum by (namespace, job) (rate(http_server_request_duration_seconds_count[5m])) > 0.05`,
				For:         "10m",
				Severity:    "critical",
				Summary:     `{{ $labels.job }} answers {{ $value | humanizePercentage }} of requests with 5xx`,
				Description: `More than 5% of its requests failed for 10 minutes.`,
				Runbook:     rb("HTTPHighErrorRatio"),
			},
			{
				Alert: "HTTPHighLatency",
				Expr: `histogram_quantile(0.99, sum by (namespace, job, le) (rate(http_server_request_duration_seconds_bucket[5m])))` +
					` > 1 and sum by (namespace, job) (rate(http_server_request_duration_seconds_count[5m])) > 0.1`,
				For:         "15m",
				Severity:    "warning",
				Summary:     `{{ $labels.job }} answers 1% of requests in more than {{ $value | humanizeDuration }}`,
				Description: `Its 99th percentile latency has been above 1s for 15 minutes.`,
				Runbook:     rb("HTTPHighLatency"),
			},
		}},
		{Name: "kube-platform.alerting", Rules: []Rule{
			{
				// A team channel that does not exist or the Slack app is not in:
				// Slack answers channel_not_found or not_in_channel.
				Alert:       "AlertmanagerNotificationsFailing",
				Expr:        `sum by (namespace, integration, receiver_name) (increase(alertmanager_notifications_failed_total[10m])) > 0`,
				Severity:    "critical",
				Summary:     `Alertmanager fails to deliver {{ $labels.integration }} notifications of {{ $labels.receiver_name }}`,
				Description: `A team's alerts are not reaching its channel: the channel may not exist, or the Slack app is not in it. Alertmanager's log names the error.`,
				Runbook:     rb("AlertmanagerNotificationsFailing"),
				Labels:      map[string]string{"team": "platform"},
			},
			{
				Alert:       "AlertsUnrouted",
				Expr:        `sum by (namespace) (increase(alertmanager_notifications_total{receiver_name=~"(.*/)?` + FallbackReceiver + `"}[1h])) > 0`,
				Severity:    "warning",
				Summary:     `Alerts reached the fallback receiver: some namespace has no team channel`,
				Description: `An alert was not matched by any team's route. Set slack: in the app's kube-generate.yaml.`,
				Runbook:     rb("AlertsUnrouted"),
				Labels:      map[string]string{"team": "platform"},
			},
		}},
	}
}

// CatalogueRule is the catalogue as the PrometheusRule config/monitoring
// installs once per cluster.
func CatalogueRule(namespace string) *unstructured.Unstructured {
	return PrometheusRule(metav1.ObjectMeta{Name: CatalogueName, Namespace: namespace,
		Labels: map[string]string{"app.kubernetes.io/part-of": "kube", LabelRuleSelector: "true"}}, Catalogue())
}

// LabelRuleSelector marks the PrometheusRules the platform's Prometheus loads.
const LabelRuleSelector = "kube-idp.dev/alerts"
