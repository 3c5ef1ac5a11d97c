package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/testcluster"
)

// app writes a small app's manifests into a directory; replicas and cpu vary.
type app struct {
	ns       string
	replicas int
	cpu      string
	withB    bool
}

func (a app) write(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"namespace.yaml":   fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", a.ns),
		"configmap-a.yaml": fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: %s\n  labels: {app: demo}\ndata: {k: v}\n", a.ns),
		"deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s, labels: {app: demo}}
spec:
  replicas: %d
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
      - name: web
        image: registry.example.com/demo:1
        resources: {requests: {cpu: %q}}
`, a.ns, a.replicas, a.cpu),
	}
	if a.withB {
		files["configmap-b.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: %s\n  labels: {app: demo}\ndata: {k: v}\n", a.ns)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// appEnv is a sandbox namespace for one test app (removed at the end), a
// directory for its manifests and an app name unique to the test.
func appEnv(t *testing.T) (*testcluster.Env, string, string, string) {
	t.Helper()
	env := testcluster.Sandbox(t)
	ns := env.Namespace + "-app"
	t.Cleanup(func() { _ = env.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return env, ns, t.TempDir(), "demo-" + env.Namespace[len(env.Namespace)-6:]
}

func revisions(t *testing.T, dir, name string) int {
	t.Helper()
	r := kube(t, nil, "history", "-f", dir, "--app", name, "-o", "json")
	if r.code != 0 {
		t.Fatalf("history: exit %d: %s", r.code, r.stderr)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return len(hist)
}

// Deploy, change a replica count and remove a ConfigMap, redeploy: the
// Deployment is updated, the ConfigMap deleted, and nothing else touched, not even
// an object with the same labels created by hand. A no-op redeploy records nothing.
func TestDeployUpdatesPrunesAndLeavesOthersAlone(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	ctx := context.Background()

	app{ns: ns, replicas: 2, cpu: "10m", withB: true}.write(t, dir)
	r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Deployed revision 1") {
		t.Fatalf("no revision 1:\n%s", r.stderr)
	}
	// A hand-made object with the app's labels, in its namespace.
	hand := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: ns, Labels: map[string]string{"app": "demo"}}}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, hand, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a0, _ := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{})

	app{ns: ns, replicas: 3, cpu: "10m", withB: false}.write(t, dir)
	r = kube(t, nil, "diff", "-f", dir, "--app", name)
	if r.code != 1 || !strings.Contains(r.stdout, "update    Deployment/web") || !strings.Contains(r.stdout, "delete    ConfigMap/b") ||
		!strings.Contains(r.stdout, "-  replicas: 2\n") {
		t.Fatalf("diff: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = kube(t, nil, "diff", "-f", dir, "--app", name, "-o", "json")
	var plan struct {
		Changes []struct {
			ID     struct{ Kind, Name string }
			Action string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || r.code != 1 {
		t.Fatalf("diff -o json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	actions := map[string]string{}
	for _, c := range plan.Changes {
		actions[c.ID.Kind+"/"+c.ID.Name] = c.Action
	}
	if actions["Deployment/web"] != "update" || actions["ConfigMap/b"] != "delete" || actions["ConfigMap/a"] != "unchanged" {
		t.Fatalf("diff -o json actions: %v", actions)
	}
	r = kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("second deploy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 3 || d.Status.ReadyReplicas != 3 {
		t.Fatalf("deployment after redeploy: %v %+v", err, d.Status)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{}); err == nil {
		t.Error("ConfigMap b was not pruned")
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "hand-made", metav1.GetOptions{}); err != nil {
		t.Errorf("the hand-made ConfigMap was touched: %v", err)
	}
	if a1, _ := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); a1.ResourceVersion != a0.ResourceVersion {
		t.Error("the unchanged ConfigMap a was written")
	}

	before := revisions(t, dir, name)
	r = kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "No changes") {
		t.Fatalf("no-op deploy: exit %d\n%s", r.code, r.stderr)
	}
	if after := revisions(t, dir, name); after != before {
		t.Errorf("a no-op deploy recorded a revision: %d -> %d", before, after)
	}
	if r = kube(t, nil, "diff", "-f", dir, "--app", name); r.code != 0 {
		t.Errorf("diff after deploy: exit %d\n%s", r.code, r.stdout)
	}

	r = kube(t, nil, "status", "-f", dir, "--app", name, "-o", "json")
	var st struct {
		Revision struct{ Revision int }
		Objects  []struct{ Status string }
		Pods     []struct{ Workload, Ready string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("status: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if st.Revision.Revision != 2 || len(st.Objects) != 3 || len(st.Pods) != 3 {
		t.Errorf("status = %+v", st)
	}
	for _, o := range st.Objects {
		if o.Status != "Current" {
			t.Errorf("object not Current in status: %+v", st.Objects)
		}
	}
}

// A Deployment whose pods cannot become ready fails the wait with the reason;
// rollback restores the previous revision and waits successfully.
func TestDeployFailsWithReasonAndRollbackRestores(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	ctx := context.Background()

	app{ns: ns, replicas: 2, cpu: "10m"}.write(t, dir)
	if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", r.code, r.stderr)
	}
	// No node has 1000 CPUs: the new pods stay Pending (Unschedulable).
	app{ns: ns, replicas: 2, cpu: "1000"}.write(t, dir)
	r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "8s")
	if r.code == 0 {
		t.Fatalf("deploy of an unschedulable app succeeded:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "not ready after 8s") || !strings.Contains(r.stderr, "Unschedulable") || !strings.Contains(r.stderr, "Insufficient cpu") {
		t.Fatalf("the failure does not give the reason:\n%s", r.stderr)
	}
	r = kube(t, nil, "rollback", "-f", dir, "--app", name, "--yes", "--timeout", "1m")
	if r.code != 0 || !strings.Contains(r.stderr, "Rolled "+name+" back to revision 1") {
		t.Fatalf("rollback: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d, _ := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	cpu := d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String()
	if cpu != "10m" || d.Status.ReadyReplicas != 2 {
		t.Fatalf("after rollback: cpu %s, ready %d", cpu, d.Status.ReadyReplicas)
	}
	r = kube(t, nil, "history", "-f", dir, "--app", name)
	if !strings.Contains(r.stdout, "rollback to revision 1") {
		t.Errorf("history does not show the rollback:\n%s", r.stdout)
	}
}

// Objects of another app's inventory are never taken over.
func TestDeployRefusesAnotherAppsObject(t *testing.T) {
	_, ns, dir, _ := appEnv(t)
	app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
	if r := kube(t, nil, "deploy", "-f", dir, "--app", "first", "--yes", "--timeout", "0"); r.code != 0 {
		t.Fatalf("deploy first: exit %d\n%s", r.code, r.stderr)
	}
	r := kube(t, nil, "deploy", "-f", dir, "--app", "second", "--yes", "--timeout", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "belongs to another kube inventory") {
		t.Fatalf("second app took over the first one's objects: exit %d\n%s", r.code, r.stderr)
	}
}

// Without a terminal, deploy does not apply unless --yes says so.
func TestDeployNeedsYesWithoutTerminal(t *testing.T) {
	env, ns, dir, _ := appEnv(t)
	app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
	r := kube(t, nil, "deploy", "-f", dir, "--app", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err == nil {
		t.Fatal("something was applied without confirmation")
	}
}

// kube run starts a task from the app's pod template and returns its exit code.
func TestRunReturnsTheTaskExitCode(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
	if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	r := kube(t, nil, "run", "-f", dir, "--app", name, "--timeout", "1m", "--", "bin/migrate", "--all")
	if r.code != 0 || !strings.Contains(r.stderr, "Started job "+ns+"/web-run-") || !strings.Contains(r.stderr, "bin/migrate --all") {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	// The sandbox ends a Job's pod with the exit code its annotation names.
	p := filepath.Join(dir, "deployment.yaml")
	data, _ := os.ReadFile(p)
	annotated := strings.Replace(string(data), "metadata: {labels: {app: demo}}",
		`metadata: {labels: {app: demo}, annotations: {"sandbox.kube-idp.dev/exit-code": "7"}}`, 1)
	if err := os.WriteFile(p, []byte(annotated), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
		t.Fatalf("redeploy: exit %d\n%s", r.code, r.stderr)
	}
	r = kube(t, nil, "run", "-f", dir, "--app", name, "--", "false")
	if r.code != 7 || !strings.Contains(r.stderr, "exited with code 7") {
		t.Fatalf("run of a failing task: exit %d\n%s", r.code, r.stderr)
	}
	jobs, err := env.Kube.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			t.Errorf("job %s was not cleaned up", j.Name)
		}
	}
	// The task's pods are not selected by the app's selector (no traffic from Services).
	pods, _ := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=demo"})
	for _, p := range pods.Items {
		if strings.Contains(p.Name, "-run-") {
			t.Errorf("task pod %s carries the app's selector labels", p.Name)
		}
	}
}

// During an incident the person at the keyboard may not have the repository:
// --app and -n (and -c) are enough for the commands about a deployed app.
func TestAppCommandsWithoutACheckout(t *testing.T) {
	_, ns, dir, name := appEnv(t)
	for _, replicas := range []int{1, 2} {
		app{ns: ns, replicas: replicas, cpu: "10m"}.write(t, dir)
		if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
			t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
		}
	}
	nowhere := t.TempDir() // no kube-generate.yaml, no manifests
	app := []string{"-c", "local", "--app", name, "-n", ns}
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(kubeBin, args...)
		cmd.Dir = nowhere
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		r := result{stdout: out.String(), stderr: errOut.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	if r := run(append([]string{"status"}, app...)...); r.code != 0 || !strings.Contains(r.stdout, "Deployment/web") {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(append([]string{"history", "-o", "yaml"}, app...)...); r.code != 0 || !strings.Contains(r.stdout, "- cause: deploy") || !strings.Contains(r.stdout, "revision: 2") {
		t.Fatalf("history -o yaml: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(append([]string{"ps"}, app...)...); r.code != 0 || !strings.Contains(r.stdout, "web: 2/2 ready") {
		t.Fatalf("ps: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(append([]string{"rollback", "--yes", "-o", "json"}, app...)...)
	var res struct {
		RolledBackTo int `json:"rolledBackTo"`
		Revision     int `json:"revision"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || res.RolledBackTo != 1 || res.Revision != 3 {
		t.Fatalf("rollback -o json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := run(append([]string{"scale", "web=3", "-o", "json"}, app...)...); r.code != 0 || !strings.Contains(r.stdout, `"before": 1`) || !strings.Contains(r.stdout, `"after": 3`) {
		t.Fatalf("scale -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Without --app there is nothing to go on, and kube says what to pass.
	if r := run("-c", "local", "status"); r.code != 2 || !strings.Contains(r.stderr, "--app NAME [-n NAMESPACE]") {
		t.Fatalf("status with nothing named: exit %d\n%s", r.code, r.stderr)
	}
}
