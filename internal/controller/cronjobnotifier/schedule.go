package cronjobnotifier

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ScheduleReconciler watches CronJobs and announces a missed schedule: a time the
// schedule asked for, older than the grace period, at which no run started. It
// shares the delivery (routing, retries, exactly-once record) with the Job
// notifier; the record lives on the CronJob.
type ScheduleReconciler struct {
	*Reconciler
}

// SetupWithManager registers the reconciler.
func (r *ScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("cronjob-schedule").For(&batchv1.CronJob{}).Complete(r)
}

// Reconcile handles one CronJob. A missed schedule starts an episode that ends
// when a run starts again, and is announced once per episode: a job stuck
// behind concurrencyPolicy Forbid tells its team once, not every minute.
func (r *ScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cj batchv1.CronJob
	// The cache is enough to find nothing to do; a decision re-reads below.
	if err := r.Client.Get(ctx, req.NamespacedName, &cj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	missed, wake, err := r.check(&cj)
	if err != nil || missed.IsZero() {
		return ctrl.Result{RequeueAfter: wake}, nil // a bad schedule is the API server's and its controller's to report
	}
	if err := r.Reader.Get(ctx, req.NamespacedName, &cj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if missed, _, _ = r.check(&cj); missed.IsZero() {
		return ctrl.Result{}, nil
	}
	if !strings.HasPrefix(cj.Annotations[AnnotationMissedState], "pending:") {
		// Decide under an optimistic lock: two stale copies cannot both decide.
		if err := r.annotate(ctx, &cj, true, AnnotationMissedAt, missed.UTC().Format(time.RFC3339), AnnotationMissedState, "pending:missed"); err != nil {
			return ctrl.Result{}, err
		}
	}
	last := "never"
	if cj.Status.LastScheduleTime != nil {
		last = cj.Status.LastScheduleTime.UTC().Format(time.RFC3339)
	}
	n := notice{target: &cj, stateKey: AnnotationMissedState, regarding: &cj, msg: run{
		Cluster: r.Config.Cluster, Namespace: cj.Namespace, CronJob: cj.Name, Kind: "missed",
		Reason:   fmt.Sprintf("no run started for %s (schedule %q; last run started %s)", missed.UTC().Format(time.RFC3339), cj.Spec.Schedule, last),
		Duration: r.Config.now().Sub(missed),
	}}
	return r.deliver(ctx, n)
}

// check returns the missed schedule time to announce (zero when there is
// none) and, otherwise, when to look again.
func (r *ScheduleReconciler) check(cj *batchv1.CronJob) (missed time.Time, wake time.Duration, err error) {
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return time.Time{}, 0, nil // resumed CronJobs come back through the watch
	}
	if strings.HasPrefix(cj.Annotations[AnnotationMissedState], "pending:") {
		at, _ := time.Parse(time.RFC3339, cj.Annotations[AnnotationMissedAt])
		return at, 0, nil // decided, not delivered yet
	}
	expr := cj.Spec.Schedule
	if cj.Spec.TimeZone != nil {
		expr = "CRON_TZ=" + *cj.Spec.TimeZone + " " + expr
	}
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return time.Time{}, 0, err
	}
	// Runs are due from the last start (or the CronJob's creation) on.
	from := cj.CreationTimestamp.Time
	if t := cj.Status.LastScheduleTime; t != nil && t.After(from) {
		from = t.Time
	}
	// An episode already announced lasts until a run starts; the watch brings
	// that status change.
	if at, err := time.Parse(time.RFC3339, cj.Annotations[AnnotationMissedAt]); err == nil && at.After(from) {
		return time.Time{}, 0, nil
	}
	due := sched.Next(from)
	grace := r.Config.missedAfter()
	now := r.Config.now()
	if now.Before(due.Add(grace)) {
		return time.Time{}, due.Add(grace).Sub(now) + time.Second, nil
	}
	return due, 0, nil
}
