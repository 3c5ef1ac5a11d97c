//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package cronjobnotifier_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kube-idp/kube/internal/controller"
	"github.com/kube-idp/kube/internal/controller/cronjobnotifier"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

// webhook is a local Slack: it answers with the queued statuses (then 200) and
// keeps the texts of the messages it accepted.
type webhook struct {
	mu       sync.Mutex
	statuses []int
	texts    []string
	bodies   []string
	// retryAfter is sent with every answer but 200; requests counts them all.
	retryAfter string
	requests   int
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	status := http.StatusOK
	if len(w.statuses) > 0 {
		status, w.statuses = w.statuses[0], w.statuses[1:]
	}
	if status == http.StatusOK {
		body, _ := io.ReadAll(r.Body)
		var m struct{ Text string }
		_ = json.Unmarshal(body, &m)
		w.texts = append(w.texts, m.Text)
		w.bodies = append(w.bodies, string(body))
	} else if w.retryAfter != "" {
		rw.Header().Set("Retry-After", w.retryAfter)
	}
	rw.WriteHeader(status)
}

func (w *webhook) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.texts)
}

func (w *webhook) last() (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.texts[len(w.texts)-1], w.bodies[len(w.bodies)-1]
}

// startWebhook serves a local Slack and stores its URL in the namespace's
// slack-webhooks Secret for channel #team-a.
func startWebhook(t *testing.T, env *testcluster.Env) *webhook {
	t.Helper()
	hook := &webhook{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "slack-webhooks", Namespace: env.Namespace},
		Data: map[string][]byte{"team-a": []byte(srv.URL + "/services/T/B/secret")}}
	if _, err := env.Kube.CoreV1().Secrets(env.Namespace).Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return hook
}

// startManager runs kube-controller's manager on the test's namespace; the
// returned function stops it and waits until it has stopped.
func startManager(t *testing.T, env *testcluster.Env, cfg cronjobnotifier.Config) func() {
	t.Helper()
	cfg.WebhookSecret = types.NamespacedName{Namespace: env.Namespace, Name: "slack-webhooks"}
	mgr, err := controller.NewManager(env.Config, controller.Options{
		MetricsAddr: "0", HealthAddr: "0", SlackBaseDelay: 10 * time.Millisecond, Restartable: true,
		Namespace: env.Namespace, Notifier: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	return func() { cancel(); <-done }
}

func TestFailureAndRecoveryAreNotifiedExactlyOnce(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	hook := startWebhook(t, env)
	start := func() func() {
		return startManager(t, env, cronjobnotifier.Config{Cluster: "sandbox"})
	}
	stop := start()
	defer func() { stop() }()

	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns, Annotations: map[string]string{cronjobnotifier.AnnotationChannel: "#team-a"}},
		Spec:       batchv1.CronJobSpec{Schedule: "0 0 1 1 *", Suspend: ptr.To(true), JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec("")}},
	}
	cron, err := env.Kube.BatchV1().CronJobs(ns).Create(ctx, cron, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// createJob starts a run of the CronJob, as its controller would.
	createJob := func(name string, spec batchv1.JobSpec) {
		t.Helper()
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: ptr.To(true),
			}}},
			Spec: spec,
		}
		if _, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runJob := func(name, exitCode string) {
		t.Helper()
		createJob(name, jobSpec(exitCode))
		// Wait until the notifier has settled the Job, whatever it decided.
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			s := j.Annotations[cronjobnotifier.AnnotationState]
			return s == "none" || strings.HasPrefix(s, "sent:"), nil
		})
		if err != nil {
			t.Fatalf("job %s was not settled by the notifier: %v", name, err)
		}
	}

	runJob("nightly-1", "3")
	if hook.count() != 1 {
		t.Fatalf("%d messages after a failure, want 1", hook.count())
	}
	text, body := hook.last()
	if !strings.Contains(text, "CronJob "+ns+"/nightly failed") || !strings.Contains(body, sandbox.PodLogLines[0]) ||
		!strings.Contains(body, "nightly-1") || strings.Contains(body, "services/T/B/secret") {
		t.Fatalf("failure message: %s\n%s", text, body)
	}

	runJob("nightly-2", "")
	text, _ = hook.last()
	if hook.count() != 2 || !strings.Contains(text, "recovered") {
		t.Fatalf("after the recovery: %d messages, last %q", hook.count(), text)
	}
	runJob("nightly-3", "")
	if hook.count() != 2 {
		for _, n := range []string{"nightly-1", "nightly-2", "nightly-3"} {
			j, _ := env.Kube.BatchV1().Jobs(ns).Get(ctx, n, metav1.GetOptions{})
			t.Logf("%s: %v %v", n, j.Annotations, j.Status.Conditions)
		}
		c, _ := env.Kube.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
		t.Logf("cron: %v", c.Annotations)
		t.Fatalf("a routine success was notified: %d messages: %v", hook.count(), hook.texts)
	}

	// A restart sends nothing again. The restarted notifier reconciles every
	// existing Job before a new one (one worker, in order): once the new run is
	// settled, the old ones were looked at again.
	stop()
	stop = start()
	runJob("nightly-3b", "")
	if hook.count() != 2 {
		t.Fatalf("a restart repeated messages: %d", hook.count())
	}

	// Slack fails three times, then accepts: exactly one message.
	hook.mu.Lock()
	hook.statuses = []int{500, 500, 500}
	hook.mu.Unlock()
	runJob("nightly-4", "3")
	if hook.count() != 3 {
		t.Fatalf("%d messages after 500, 500, 500, 200; want one more (3)", hook.count())
	}

	// A run active past its threshold is announced once, while it runs.
	patch := []byte(`{"metadata":{"annotations":{"` + cronjobnotifier.AnnotationStuckAfter + `":"2s"}}}`)
	if _, err := env.Kube.BatchV1().CronJobs(ns).Patch(ctx, "nightly", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	slow := jobSpec("")
	slow.Template.Annotations[sandbox.AnnotationRunTime] = "30s"
	createJob("nightly-5", slow)
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, "nightly-5", metav1.GetOptions{})
		return err == nil && j.Annotations[cronjobnotifier.AnnotationStuckState] == "sent:stuck", nil
	})
	if err != nil {
		j, _ := env.Kube.BatchV1().Jobs(ns).Get(ctx, "nightly-5", metav1.GetOptions{})
		c, _ := env.Kube.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
		t.Fatalf("the slow run was not announced: %v\njob: %v %+v\ncron: %v", err, j.Annotations, j.Status, c.Annotations)
	}
	if text, _ := hook.last(); hook.count() != 4 || !strings.Contains(text, "is still running after") {
		t.Fatalf("after the slow run: %d messages, last %q", hook.count(), text)
	}

	// The deliveries are counted.
	if got := metric(t, "kube_cronjob_notifications_total", map[string]string{"kind": "failed", "result": "sent"}); got != 2 {
		t.Errorf("failed/sent = %v, want 2", got)
	}
	if got := metric(t, "kube_cronjob_notifications_total", map[string]string{"kind": "recovered", "result": "sent"}); got != 1 {
		t.Errorf("recovered/sent = %v, want 1", got)
	}
	if got := metric(t, "kube_cronjob_notification_retries_total", map[string]string{"reason": "500"}); got != 3 {
		t.Errorf("retries on 500 = %v, want 3", got)
	}
	// The gauge drops just after the delivery is recorded on the Job.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return metric(t, "kube_cronjob_notifications_pending", nil) == 0, nil
	})
	if err != nil {
		t.Errorf("pending = %v, want 0", metric(t, "kube_cronjob_notifications_pending", nil))
	}
}

// A Slack that asks to wait an hour (429, Retry-After: 3600) does not hold the
// notifier: the message is requeued (the wait capped), and other teams' messages
// go out meanwhile. The notifier used to sleep inside Reconcile for as long as
// Slack asked, so nothing else was delivered.
func TestSlowSlackDoesNotBlockOtherDeliveries(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	slow := startWebhook(t, env)
	slow.mu.Lock()
	slow.statuses, slow.retryAfter = []int{429, 429, 429, 429, 429, 429, 429, 429}, "3600"
	slow.mu.Unlock()
	fast := &webhook{}
	srv := httptest.NewServer(fast)
	t.Cleanup(srv.Close)
	patch := []byte(`{"stringData":{"team-b":"` + srv.URL + `/services/T/B/other"}}`)
	if _, err := env.Kube.CoreV1().Secrets(ns).Patch(ctx, "slack-webhooks", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := startManager(t, env, cronjobnotifier.Config{Cluster: "sandbox"})
	defer stop()
	for _, c := range []struct{ job, channel string }{{"a-1", "#team-a"}, {"b-1", "#team-b"}} {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: c.job, Namespace: ns, Annotations: map[string]string{
			cronjobnotifier.AnnotationOptIn: "true", cronjobnotifier.AnnotationChannel: c.channel}}, Spec: jobSpec("1")}
		if _, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Either message may be tried first; team-b's must arrive while team-a's
	// Slack keeps asking to wait.
	asked := func() int {
		slow.mu.Lock()
		defer slow.mu.Unlock()
		return slow.requests
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return fast.count() == 1 && asked() > 0, nil
	})
	if err != nil {
		t.Fatalf("team-b's message waited behind team-a's slow Slack: %v (team-b: %d messages, team-a: %d requests)", err, fast.count(), asked())
	}
	if slow.count() != 0 {
		t.Fatalf("team-a's Slack: %d requests, %d messages", asked(), slow.count())
	}
}

// reconciles is how many reconciles a controller of this process has finished,
// whatever their result: the signal that it looked at what a test changed.
func reconciles(t *testing.T, controllerName string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controllerName {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// metric reads one sample from controller-runtime's registry.
func metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func jobSpec(exitCode string) batchv1.JobSpec {
	annotations := map[string]string{}
	if exitCode != "" {
		annotations[sandbox.AnnotationExitCode] = exitCode
	}
	return batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "task", Image: "registry.example.com/task:1"}},
			},
		},
	}
}
