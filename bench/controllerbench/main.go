// Command controllerbench measures kube-controller on the local sandbox, run as
// its own process (so that its memory is its own), for bench/cronjob.sh and
// bench/fork.sh:
//
//	controllerbench -controller bin/kube-controller cronjob -cronjobs 1000 -failures-per-minute 100 -minutes 2
//	controllerbench -controller bin/kube-controller fork -services 50 -timed 50 -forks 500
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/controller/cronjobnotifier"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

func main() {
	controllerBin := flag.String("controller", "bin/kube-controller", "kube-controller binary")
	kubeconfig := flag.String("sandbox-kubeconfig", os.Getenv("KUBECONFIG"), "the sandbox's kubeconfig")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	b := &bench{cfg: cfg, kube: kubernetes.NewForConfigOrDie(cfg), controller: *controllerBin, kubeconfig: *kubeconfig}
	_ = forkv1.AddToScheme(testcluster.Scheme)
	if b.client, err = client.New(cfg, client.Options{Scheme: testcluster.Scheme}); err != nil {
		log.Fatal(err)
	}
	args := flag.Args()
	if len(args) == 0 {
		log.Fatal("usage: controllerbench [flags] cronjob|fork [flags]")
	}
	ctx := context.Background()
	switch args[0] {
	case "cronjob":
		fs := flag.NewFlagSet("cronjob", flag.ExitOnError)
		n := fs.Int("cronjobs", 1000, "CronJobs")
		rate := fs.Int("failures-per-minute", 100, "failed runs per minute")
		minutes := fs.Float64("minutes", 2, "how long failures are produced")
		_ = fs.Parse(args[1:])
		err = b.cronjob(ctx, *n, *rate, time.Duration(*minutes*float64(time.Minute)))
	case "fork":
		fs := flag.NewFlagSet("fork", flag.ExitOnError)
		services := fs.Int("services", 50, "shared services")
		timed := fs.Int("timed", 50, "forks created one at a time, timed to Ready")
		total := fs.Int("forks", 500, "forks in all")
		_ = fs.Parse(args[1:])
		err = b.fork(ctx, *services, *timed, *total)
	default:
		err = fmt.Errorf("unknown benchmark %q", args[0])
	}
	if err != nil {
		log.Fatal(err)
	}
}

type bench struct {
	cfg                    *rest.Config
	kube                   kubernetes.Interface
	client                 client.Client
	controller, kubeconfig string
	proc                   *exec.Cmd
	metricsAddr            string
}

// namespace creates a fresh namespace, deleted when the bench ends.
func (b *bench) namespace(ctx context.Context, prefix string) (string, func()) {
	ns := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	if _, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	return ns, func() { _ = b.kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) }
}

// start runs kube-controller on one namespace with a metrics endpoint.
func (b *bench) start(ns string, extra ...string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.metricsAddr = l.Addr().String()
	l.Close()
	args := append([]string{"--kubeconfig", b.kubeconfig, "--namespace", ns, "--metrics-bind-address", b.metricsAddr,
		"--health-probe-bind-address", "0", "--zap-log-level", "error"}, extra...)
	b.proc = exec.Command(b.controller, args...)
	b.proc.Stderr = os.Stderr
	return b.proc.Start()
}

func (b *bench) stop() {
	if b.proc != nil && b.proc.Process != nil {
		_ = b.proc.Process.Kill()
		_ = b.proc.Wait()
	}
}

// memory is the controller's resident memory now and at its peak, in MiB.
func (b *bench) memory() (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.proc.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// metric sums the samples of one metric whose labels contain match.
func (b *bench) metric(name, match string) float64 {
	resp, err := http.Get("http://" + b.metricsAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, name) && strings.Contains(line, match) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (b *bench) cronjob(ctx context.Context, n, perMinute int, duration time.Duration) error {
	ns, cleanup := b.namespace(ctx, "bench-cronjob")
	defer cleanup()
	var mu sync.Mutex
	received := map[string]time.Time{} // job -> message time
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		s := bufio.NewScanner(r.Body)
		for s.Scan() {
			body.WriteString(s.Text())
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if i := strings.Index(body.String(), "job/run-"); i >= 0 {
			name := strings.FieldsFunc(body.String()[i+4:], func(r rune) bool { return r == '`' || r == '"' || r == ' ' })[0]
			received[name] = now
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = hook.Serve(l) }()
	defer hook.Close()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "slack-webhooks", Namespace: ns},
		StringData: map[string]string{"bench": "http://" + l.Addr().String() + "/hook"}}
	if _, err := b.kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return err
	}

	fmt.Printf("creating %d CronJobs ...\n", n)
	crons := make([]*batchv1.CronJob, n)
	err = parallel(n, 20, func(i int) error {
		cj := &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cron-%04d", i), Namespace: ns, Annotations: map[string]string{cronjobnotifier.AnnotationChannel: "#bench"}},
			Spec:       batchv1.CronJobSpec{Schedule: "0 0 1 1 *", JobTemplate: batchv1.JobTemplateSpec{Spec: failingJob()}},
		}
		var err error
		crons[i], err = b.kube.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if err := b.start(ns, "--webhook-secret", ns+"/slack-webhooks", "--cluster-name", "sandbox"); err != nil {
		return err
	}
	defer b.stop()
	time.Sleep(3 * time.Second)
	idleRSS, _ := b.memory()

	// The bench watches the Jobs and notes when each is seen failed: the start of
	// the latency, with millisecond precision (conditions have seconds).
	failedAt := map[string]time.Time{}
	w, err := b.kube.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		for ev := range w.ResultChan() {
			job, ok := ev.Object.(*batchv1.Job)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			for _, c := range job.Status.Conditions {
				if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
					mu.Lock()
					if _, seen := failedAt[job.Name]; !seen {
						failedAt[job.Name] = time.Now()
					}
					mu.Unlock()
				}
			}
		}
	}()
	defer w.Stop()

	total := int(float64(perMinute) * duration.Minutes())
	fmt.Printf("failing %d runs, %d per minute, over %s ...\n", total, perMinute, duration)
	interval := time.Minute / time.Duration(perMinute)
	tick := time.NewTicker(interval)
	for i := 0; i < total; i++ {
		<-tick.C
		cron := crons[i%n]
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("run-%05d", i), Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: ptr.To(true),
			}}},
			Spec: failingJob(),
		}
		go func() {
			if _, err := b.kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
				log.Print(err)
			}
		}()
	}
	tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := len(received) >= total
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	rss, peak := b.memory()
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for name, at := range received {
		if f, ok := failedAt[name]; ok {
			lat = append(lat, max(0, at.Sub(f)))
		}
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	fmt.Printf("\nCronJob notifier: %d CronJobs, %d failed runs, %d messages received\n", n, total, len(received))
	fmt.Printf("  latency (failure seen -> webhook received): p50 %s  p99 %s   goal p99 < 3s: %.2fx of goal\n",
		p50.Round(time.Millisecond), p99.Round(time.Millisecond), p99.Seconds()/3)
	fmt.Printf("  controller memory: %.0f MiB idle with the CronJobs, %.0f MiB after, %.0f MiB peak   goal < 150 MiB: %.2fx of goal\n",
		idleRSS, rss, peak, peak/150)
	fmt.Printf("  reconciles: %.0f (Jobs), %.0f (CronJobs)\n",
		b.metric("controller_runtime_reconcile_total", `controller="cronjob-notifier"`), b.metric("controller_runtime_reconcile_total", `controller="cronjob-schedule"`))
	if len(received) < total {
		return fmt.Errorf("%d of %d failures were not notified within a minute", total-len(received), total)
	}
	return nil
}

func failingJob() batchv1.JobSpec {
	return batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{sandbox.AnnotationExitCode: "1"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "task", Image: "registry.example.com/task:1"}}},
		},
	}
}

// parallel runs fn(0..n-1) with at most width at a time; the first error wins.
func parallel(n, width int, fn func(int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	sem := make(chan struct{}, width)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return first
}

func (b *bench) fork(ctx context.Context, services, timed, total int) error {
	ns, cleanup := b.namespace(ctx, "bench-fork")
	defer cleanup()
	fmt.Printf("creating %d shared services ...\n", services)
	err := parallel(services, 10, func(i int) error {
		name := fmt.Sprintf("svc-%02d", i)
		lbls := map[string]string{"app": name}
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/" + name + ":1"}}}},
		}}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: lbls, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if err := b.client.Create(ctx, dep); err != nil {
			return err
		}
		return b.client.Create(ctx, svc)
	})
	if err != nil {
		return err
	}
	if err := b.start(ns); err != nil {
		return err
	}
	defer b.stop()
	time.Sleep(2 * time.Second)

	newFork := func(i int) *forkv1.Fork {
		return &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dev-%03d", i), Namespace: ns}, Spec: forkv1.ForkSpec{
			TTL: &metav1.Duration{Duration: 8 * time.Hour},
			Workloads: []forkv1.Workload{{Name: fmt.Sprintf("svc-%02d", i%services),
				Containers: []forkv1.ContainerOverride{{Image: fmt.Sprintf("registry.example.com/branch:%d", i)}}}},
		}}
	}
	isReady := func(f *forkv1.Fork) bool {
		return meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionReady) && f.Status.ObservedGeneration == f.Generation
	}
	waitReady := func(name string, timeout time.Duration) error {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			var f forkv1.Fork
			if err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &f); err == nil && isReady(&f) {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("fork %s not ready after %s", name, timeout)
	}

	fmt.Printf("creating %d forks one at a time, each timed to Ready ...\n", timed)
	var lat []time.Duration
	for i := 0; i < timed; i++ {
		start := time.Now()
		if err := b.client.Create(ctx, newFork(i)); err != nil {
			return err
		}
		if err := waitReady(fmt.Sprintf("dev-%03d", i), time.Minute); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
	}
	fmt.Printf("creating %d more forks, 20 at a time ...\n", total-timed)
	start := time.Now()
	if err := parallel(total-timed, 20, func(j int) error { return b.client.Create(ctx, newFork(timed+j)) }); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	ready := 0
	for time.Now().Before(deadline) {
		var list forkv1.ForkList
		if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		ready = 0
		for i := range list.Items {
			if isReady(&list.Items[i]) {
				ready++
			}
		}
		if ready == total {
			break
		}
		time.Sleep(time.Second)
	}
	bulk := time.Since(start)
	time.Sleep(3 * time.Second) // let the last status updates settle
	rss, peak := b.memory()
	reconciles := b.metric("controller_runtime_reconcile_total", `controller="fork"`)
	p50, p95 := percentile(lat, 0.5), percentile(lat, 0.95)
	fmt.Printf("\nkubefork: %d services, %d forks (%d ready)\n", services, total, ready)
	fmt.Printf("  creation -> Ready, one at a time: p50 %s  p95 %s   goal p50 < 2s: %.2fx of goal\n",
		p50.Round(time.Millisecond), p95.Round(time.Millisecond), p50.Seconds()/2)
	fmt.Printf("  %d more forks, 20 at a time: all Ready after %s\n", total-timed, bulk.Round(100*time.Millisecond))
	fmt.Printf("  controller memory: %.0f MiB now, %.0f MiB peak   goal < 150 MiB: %.2fx of goal\n", rss, peak, peak/150)
	fmt.Printf("  reconciles: %.0f in all, %.1f per fork (no reconcile lists Forks; expiry is a requeue)\n", reconciles, reconciles/float64(total))
	if ready < total {
		return fmt.Errorf("%d forks not ready", total-ready)
	}
	return nil
}
