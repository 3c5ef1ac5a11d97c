package cronjobnotifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/slack"
)

// Reconciler watches Jobs of CronJobs (and opted-in Jobs) and notifies their
// outcome. Delivery state lives on the Job, so a restart neither repeats a sent
// message nor forgets an unsent one.
type Reconciler struct {
	Client client.Client
	// Reader reads from the API server, not the cache: the delivery state must
	// never be judged from a stale copy, or a message would be sent twice.
	Reader   client.Reader
	Kube     kubernetes.Interface // for pod logs
	Recorder events.EventRecorder
	Slack    *slack.Client
	Config   Config

	pending pendingSet
	// attempts counts the failed deliveries of each pending notification, for
	// the backoff of its next requeue.
	attempts attemptCounter
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("cronjob-notifier").For(&batchv1.Job{}).Complete(r)
}

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods;pods/log,verbs=get;list
// The webhook Secret is read through a Role bound in its own namespace, limited
// to its name (config/install): the controller can read no other Secret.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile handles one Job.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var job batchv1.Job
	if err := r.Reader.Get(ctx, req.NamespacedName, &job); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	state := job.Annotations[AnnotationState]
	if settled(state) {
		return ctrl.Result{}, nil
	}
	cron, err := r.owner(ctx, &job)
	if err != nil {
		return ctrl.Result{}, err
	}
	if cron == nil && job.Annotations[AnnotationOptIn] != "true" {
		return ctrl.Result{}, nil
	}
	kind := strings.TrimPrefix(state, "pending:")
	outcome := finished(&job)
	if state == "" {
		if outcome == "" {
			return r.checkStuck(ctx, &job, cron)
		}
		kind = r.decide(cron, outcome)
		// Record the decision before anything is sent (optimistic lock: a stale
		// copy cannot decide twice).
		next := "none"
		if kind != "" {
			next = "pending:" + kind
		}
		if err := r.annotate(ctx, &job, true, AnnotationState, next); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Then the CronJob's last outcome, for the next run's recovery check; also on
	// a retry, since the first attempt may have stopped in between. The CronJob is
	// updated by its controller too, so this patch takes no lock.
	if cron != nil && outcome != "" && cron.Annotations[AnnotationLastOutcome] != outcome {
		if err := r.annotate(ctx, cron, false, AnnotationLastOutcome, outcome); err != nil {
			return ctrl.Result{}, err
		}
	}
	if kind == "" {
		return ctrl.Result{}, nil
	}
	return r.deliver(ctx, noticeFor(&job, cron, r.Config.Cluster, kind, AnnotationState))
}

// checkStuck announces once a run that is still active past its threshold, and
// otherwise asks to be called again when the threshold is reached (no polling).
func (r *Reconciler) checkStuck(ctx context.Context, job *batchv1.Job, cron *batchv1.CronJob) (ctrl.Result, error) {
	if job.Status.StartTime == nil || settled(job.Annotations[AnnotationStuckState]) {
		return ctrl.Result{}, nil
	}
	annotations := job.Annotations
	if cron != nil {
		annotations = cron.Annotations
	}
	left := r.Config.stuckAfter(annotations) - r.Config.now().Sub(job.Status.StartTime.Time)
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	if job.Annotations[AnnotationStuckState] == "" {
		if err := r.annotate(ctx, job, true, AnnotationStuckState, "pending:stuck"); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.deliver(ctx, noticeFor(job, cron, r.Config.Cluster, "stuck", AnnotationStuckState))
}

// settled tells whether a delivery state needs no more work.
func settled(state string) bool {
	return state == "none" || strings.HasPrefix(state, "sent:") || strings.HasPrefix(state, "rejected:")
}

// finished is "failed" or "succeeded" once the Job has ended, else "".
func finished(job *batchv1.Job) string { return contract.JobOutcome(job) }

// decide what to say: every failure, and a success right after a failure.
func (r *Reconciler) decide(cron *batchv1.CronJob, outcome string) string {
	switch {
	case outcome == "failed":
		return "failed"
	case cron != nil && cron.Annotations[AnnotationLastOutcome] == "failed":
		return "recovered"
	}
	return ""
}

func (r *Reconciler) owner(ctx context.Context, job *batchv1.Job) (*batchv1.CronJob, error) {
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != "CronJob" {
		return nil, nil
	}
	var cron batchv1.CronJob
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: ref.Name}, &cron); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &cron, nil
}

// annotate sets annotations (key, value, key, value...); with lock it fails on a
// concurrent change of the object.
func (r *Reconciler) annotate(ctx context.Context, obj client.Object, lock bool, kv ...string) error {
	var patch client.Patch = client.MergeFrom(obj.DeepCopyObject().(client.Object))
	if lock {
		patch = client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	}
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	obj.SetAnnotations(a)
	return r.Client.Patch(ctx, obj, patch)
}

// notice is one notification: what to say, where its delivery state lives and
// which object its events are about.
type notice struct {
	target    client.Object // holds the delivery state under stateKey
	stateKey  string
	regarding client.Object // the CronJob, else the Job
	job       *batchv1.Job  // the run, when there is one (events' related object, log tail)
	msg       run
}

// noticeFor a run of a CronJob (or of a standalone Job when cron is nil).
func noticeFor(job *batchv1.Job, cron *batchv1.CronJob, cluster, kind, stateKey string) notice {
	n := notice{target: job, stateKey: stateKey, regarding: job, job: job, msg: run{
		Cluster: cluster, Namespace: job.Namespace, CronJob: job.Name, Job: job.Name, Kind: kind,
		Reason: reason(job), Duration: duration(job),
	}}
	if cron != nil {
		n.regarding, n.msg.CronJob = cron, cron.Name
	}
	return n
}

// deliver sends a pending notification and records it. A crash between the
// send and the record is the only way a message can be sent twice.
func (r *Reconciler) deliver(ctx context.Context, n notice) (res ctrl.Result, err error) {
	if app := n.regarding.GetLabels()[contract.LabelName]; r.Config.ConsoleURL != "" && app != "" {
		n.msg.Console = strings.TrimSuffix(r.Config.ConsoleURL, "/") + contract.ConsoleAppPath(n.msg.Cluster, n.msg.Namespace, app)
	}
	key := fmt.Sprintf("%T %s/%s %s", n.target, n.target.GetNamespace(), n.target.GetName(), n.stateKey)
	r.pending.set(key, true)
	defer func() { r.pending.set(key, err != nil || res.RequeueAfter > 0) }()
	kind := n.msg.Kind
	var related runtime.Object
	if n.job != nil {
		related = n.job
	}
	channel := r.Config.channel(n.target.GetNamespace(), n.regarding.GetAnnotations())
	if channel == "" {
		notifications.WithLabelValues(kind, "no_channel").Inc()
		r.Recorder.Eventf(n.regarding, related, corev1.EventTypeWarning, "NoChannel", "Notify",
			"%s: %s but no Slack channel is configured (annotation %s, namespace or cluster default)", n.msg.subject(), kind, AnnotationChannel)
		return ctrl.Result{}, r.annotate(ctx, n.target, true, n.stateKey, "none")
	}
	webhook, err := r.webhook(ctx, channel)
	if err != nil {
		notifications.WithLabelValues(kind, "no_webhook").Inc()
		r.Recorder.Eventf(n.regarding, related, corev1.EventTypeWarning, "NoWebhook", "Notify", "%v", err)
		return ctrl.Result{RequeueAfter: time.Minute}, nil // delivered once the Secret has it
	}
	if kind == "failed" && n.job != nil {
		n.msg.LogTail = r.logTail(ctx, n.job)
	}
	// One attempt per reconcile: a retry is a requeue after the backoff, so that
	// a slow Slack never blocks the notifier's workers.
	err = r.Slack.Post(ctx, webhook, n.msg.message(), r.attempts.get(key)+1)
	var rejected *slack.PermanentError
	var retry *slack.RetryableError
	switch {
	case errors.As(err, &retry):
		attempt := r.attempts.inc(key)
		OnRetry(attempt, retry.Wait, retry.Reason)
		return ctrl.Result{RequeueAfter: retry.Wait}, nil
	case errors.As(err, &rejected):
		r.attempts.forget(key)
		notifications.WithLabelValues(kind, "rejected").Inc()
		r.Recorder.Eventf(n.regarding, related, corev1.EventTypeWarning, "NotificationRejected", "Notify", "%s: %v", channel, err)
		return ctrl.Result{}, r.annotate(ctx, n.target, true, n.stateKey, "rejected:"+kind)
	case err != nil:
		notifications.WithLabelValues(kind, "error").Inc()
		return ctrl.Result{}, fmt.Errorf("notifying %s: %w", channel, err) // retried with backoff
	}
	r.attempts.forget(key)
	notifications.WithLabelValues(kind, "sent").Inc()
	r.Recorder.Eventf(n.regarding, related, corev1.EventTypeNormal, "NotificationSent", "Notify", "told %s: %s %s", channel, n.msg.subject(), kind)
	return ctrl.Result{}, r.annotate(ctx, n.target, true, n.stateKey, "sent:"+kind)
}

func (r *Reconciler) webhook(ctx context.Context, channel string) (string, error) {
	var s corev1.Secret
	if err := r.Reader.Get(ctx, r.Config.WebhookSecret, &s); err != nil {
		return "", fmt.Errorf("reading webhook Secret %s: %w", r.Config.WebhookSecret, err)
	}
	url := strings.TrimSpace(string(s.Data[webhookKey(channel)]))
	if url == "" {
		return "", fmt.Errorf("Secret %s has no webhook for channel %s (key %q)", r.Config.WebhookSecret, channel, webhookKey(channel))
	}
	return url, nil
}

func reason(job *batchv1.Job) string {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	return ""
}

func duration(job *batchv1.Job) time.Duration {
	if job.Status.StartTime == nil {
		return 0
	}
	end := time.Now()
	if job.Status.CompletionTime != nil {
		end = job.Status.CompletionTime.Time
	}
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			end = c.LastTransitionTime.Time
		}
	}
	return end.Sub(job.Status.StartTime.Time)
}

// logTail is the end of the log of the Job's failed pod ("" when unavailable).
func (r *Reconciler) logTail(ctx context.Context, job *batchv1.Job) string {
	pods, err := r.Kube.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	pod := pods.Items[len(pods.Items)-1]
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodFailed {
			pod = p
		}
	}
	tail := int64(20)
	rc, err := r.Kube.CoreV1().Pods(job.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{TailLines: &tail}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, 64*1024))
	return strings.TrimSpace(string(data))
}
