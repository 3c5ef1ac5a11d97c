// Package contract is what kube's parts agree on: the labels and annotations
// they write and read on objects (kube generate writes what the notifier, deploy
// and the console read), the ApplySet keys that kubectl understands too, the
// field managers, and who is running a command. One place, so that a key is
// never spelled twice, nor two keys given one name.
package contract

import (
	"net/url"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Labels of the Kubernetes recommended set, written by kube generate.
const (
	// LabelName is the app's name (app.kubernetes.io/name).
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

// kube's own labels and annotations.
const (
	// LabelApp names the app that owns an inventory, a revision or a run.
	LabelApp = "kube-idp.dev/app"
	// LabelTeam is the owning team, from kube-generate.yaml's team.
	LabelTeam = "kube-idp.dev/team"

	// AnnotationNotifyChannel names the Slack channel of a CronJob (written by
	// kube generate, read by the CronJob notifier).
	AnnotationNotifyChannel = "kube-idp.dev/notify-channel"
	// AnnotationNotify on a Job not owned by a CronJob makes it notify too.
	AnnotationNotify = "kube-idp.dev/notify"
	// AnnotationNotifyAfter on a CronJob: how long a run may stay active before
	// it is announced as still running (a Go duration).
	AnnotationNotifyAfter = "kube-idp.dev/notify-after"
	// The CronJob notifier's delivery state (see docs/cronjob-notifier.md).
	AnnotationNotification      = "kube-idp.dev/notification"
	AnnotationStuckNotification = "kube-idp.dev/stuck-notification"
	AnnotationLastOutcome       = "kube-idp.dev/last-outcome"
	AnnotationMissedSchedule    = "kube-idp.dev/missed-schedule"
	AnnotationMissedState       = "kube-idp.dev/missed-notification"

	// AnnotationApplied holds the hash of what kube deploy last applied to an object.
	AnnotationApplied = "kube-idp.dev/applied"
	// AnnotationSecretKeys, on a Secret inside a revision record, lists the keys
	// whose values kube left out.
	AnnotationSecretKeys = "kube-idp.dev/secret-keys"

	// Revision records (Secrets kube-revision-<app>-<n>).
	LabelRevision               = "kube-idp.dev/revision"
	LabelRevisionPart           = "kube-idp.dev/revision-part"
	AnnotationRevisionUser      = "kube-idp.dev/user"
	AnnotationRevisionCommit    = "kube-idp.dev/commit"
	AnnotationRevisionImages    = "kube-idp.dev/images"
	AnnotationRevisionCause     = "kube-idp.dev/cause"
	AnnotationRevisionObjects   = "kube-idp.dev/objects"
	AnnotationRevisionParts     = "kube-idp.dev/parts"
	AnnotationRevisionContent   = "kube-idp.dev/content"
	AnnotationRevisionOverrides = "kube-idp.dev/override-budget"

	// LabelRun marks the Jobs (and pods) that kube run starts; AnnotationCommand
	// is the command they run.
	LabelRun          = "kube-idp.dev/run"
	AnnotationCommand = "kube-idp.dev/command"
)

// ApplySet keys (KEP-3659), so that kubectl sees an app's set too.
const (
	LabelApplySetID          = "applyset.kubernetes.io/id"
	LabelPartOf              = "applyset.kubernetes.io/part-of"
	AnnotationTooling        = "applyset.kubernetes.io/tooling"
	AnnotationGroupKinds     = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationAdditionalNSes = "applyset.kubernetes.io/additional-namespaces"
)

// Argo CD's sync waves, honoured by kube deploy so that manifests deploy in the
// same order under both.
const AnnotationSyncWave = "argocd.argoproj.io/sync-wave"

// Fork objects (the Fork API in api/fork/v1alpha1 uses these).
const (
	// LabelForkIdentifier is on every object the controller makes for a fork.
	LabelForkIdentifier = "fork.kube-idp.dev/identifier"
	LabelForkWorkload   = "fork.kube-idp.dev/workload"
	// LabelForkManaged marks shared objects the controller owns (VirtualServices).
	LabelForkManaged = "fork.kube-idp.dev/managed"
	FinalizerFork    = "fork.kube-idp.dev/routes"
)

// Sandbox annotations that make its fake pods behave like programs.
const (
	AnnotationSandboxExitCode = "sandbox.kube-idp.dev/exit-code"
	AnnotationSandboxRunTime  = "sandbox.kube-idp.dev/run-time"
)

// Field managers of server-side apply and updates.
const (
	// FieldManager owns every field kube deploy applies.
	FieldManager = "kube"
	// FieldManagerScale owns the replicas kube scale sets; the next deploy
	// recognises it and sets the manifests' count again.
	FieldManagerScale = "kube-scale"
	// FieldManagerHandOver keeps the replicas kube applied when an autoscaler
	// arrives, until the autoscaler sets its own.
	FieldManagerHandOver = "kube-autoscaler-handover"
)

// LabelConsoleURL is the Prometheus external label that names the web
// console's URL (set by the platform on each cluster's Prometheus): alert
// messages link to the app's page there when it is set.
const LabelConsoleURL = "kube_console_url"

// ConsoleAppPath is the path of an app's page in the web console, the deep
// link that notifications add after the console's URL.
func ConsoleAppPath(cluster, namespace, app string) string {
	return "/clusters/" + url.PathEscape(cluster) + "/namespaces/" + url.PathEscape(namespace) + "/apps/" + url.PathEscape(app)
}

// JobOutcome is "failed" or "succeeded" once a Job has ended, else "": how the
// notifier and the console read a run.
func JobOutcome(job *batchv1.Job) string {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			return "failed"
		case batchv1.JobComplete:
			return "succeeded"
		}
	}
	return ""
}

// PlatformNamespaces are the namespaces of the cluster and of the platform
// itself (kube-controller, the console, monitoring). An app may not use one:
// an AlertmanagerConfig in the monitoring namespace, say, would receive every
// team's alerts.
var PlatformNamespaces = []string{"kube-system", "kube-public", "kube-node-lease", "kube-idp-system", "kube-console", "monitoring"}
