//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package cronjobnotifier_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/controller/cronjobnotifier"
	"github.com/kube-idp/kube/internal/testcluster"
)

// A yearly schedule cannot be waited for, so the notifier's clock is moved just
// past it; the CronJobs, their status and the delivery are real.
func TestMissedScheduleIsNotifiedOncePerEpisode(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	hook := startWebhook(t, env)

	now := time.Now().UTC()
	jan1 := time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	var offset atomic.Int64
	setClock := func(t time.Time) { offset.Store(int64(t.Sub(time.Now()))) }
	cfg := cronjobnotifier.Config{Cluster: "sandbox", MissedAfter: 2 * time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}

	cronJob := func(name string) *batchv1.CronJob {
		t.Helper()
		cj := &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{cronjobnotifier.AnnotationChannel: "#team-a"}},
			Spec: batchv1.CronJobSpec{Schedule: "0 0 1 1 *", TimeZone: ptr.To("Etc/UTC"),
				JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec("")}},
		}
		cj, err := env.Kube.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cj
	}
	// started records a run at the given schedule time, as the CronJob controller does.
	started := func(name string, at time.Time) {
		t.Helper()
		cj, err := env.Kube.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cj.Status.LastScheduleTime = &metav1.Time{Time: at}
		if _, err := env.Kube.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// start runs the manager and notes how many times the schedule controller
	// had reconciled: each start looks at both CronJobs once.
	var base float64
	start := func() func() {
		base = reconciles(t, "cronjob-schedule")
		return startManager(t, env, cfg)
	}
	waitMessages := func(n int) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return hook.count() >= n && reconciles(t, "cronjob-schedule") >= base+2, nil
		})
		if err != nil || hook.count() != n {
			t.Fatalf("%d messages, want %d: %v (%v)", hook.count(), n, hook.texts, err)
		}
	}

	cronJob("yearly")
	cronJob("ontime")
	started("ontime", jan1)
	setClock(jan1.Add(time.Minute)) // within the grace period
	stop := start()
	defer func() { stop() }()
	waitMessages(0)

	setClock(jan1.Add(3 * time.Minute))
	// The clock moved without an event: the requeue set for the end of the grace
	// period is a minute away, so a restart makes the manager look now.
	stop()
	stop = start()
	waitMessages(1)
	text, body := hook.last()
	if !strings.Contains(text, "CronJob "+ns+"/yearly missed its schedule") || !strings.Contains(body, jan1.Format(time.RFC3339)) {
		t.Fatalf("missed message: %s\n%s", text, body)
	}
	yearly, _ := env.Kube.BatchV1().CronJobs(ns).Get(ctx, "yearly", metav1.GetOptions{})
	if got := yearly.Annotations[cronjobnotifier.AnnotationMissedState]; got != "sent:missed" {
		t.Fatalf("delivery state %q, want sent:missed", got)
	}

	// A year later, after a restart: yearly is in the same episode (no new
	// message); ontime, which ran last year, misses this year's run.
	setClock(jan1.AddDate(1, 0, 0).Add(3 * time.Minute))
	stop()
	stop = start()
	waitMessages(2)
	if text, _ := hook.last(); !strings.Contains(text, "/ontime missed") {
		t.Fatalf("second message: %s", text)
	}

	// A run starts: the episode ends; the next missed time is a new one.
	started("yearly", jan1.AddDate(1, 0, 0))
	setClock(jan1.AddDate(2, 0, 0).Add(3 * time.Minute))
	stop()
	stop = start()
	waitMessages(3) // yearly's new episode; ontime is still in its own
	if text, _ := hook.last(); !strings.Contains(text, "/yearly missed") {
		t.Fatalf("third message: %s", text)
	}
	if got := metric(t, "kube_cronjob_notifications_total", map[string]string{"kind": "missed", "result": "sent"}); got != 3 {
		t.Errorf("missed/sent = %v, want 3", got)
	}
}
