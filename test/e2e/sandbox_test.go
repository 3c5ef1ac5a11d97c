package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

func TestDeploymentRollsOutOnSandbox(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: env.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:           "web",
					Image:          "registry.example/web:1",
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
				}}},
			},
		},
	}
	if _, err := env.Kube.AppsV1().Deployments(env.Namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := env.Kube.AppsV1().Deployments(env.Namespace).Get(ctx, "web", metav1.GetOptions{})
		if err != nil || d.Status.ReadyReplicas != 3 || d.Status.UpdatedReplicas != 3 {
			return false, nil
		}
		list, err := env.Kube.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		return len(pods) == 3 && allReady(pods), nil
	})
	if err != nil {
		t.Fatalf("deployment did not roll out: %v (pods: %s)", err, describePods(pods))
	}
	nodes := map[string]bool{}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s on node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		nodes[p.Spec.NodeName] = true
	}
	t.Logf("3 pods Ready on nodes %v", nodes)
}

func allReady(pods []corev1.Pod) bool {
	for _, p := range pods {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false
		}
	}
	return true
}

func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		b.WriteString(p.Name + "=" + string(p.Status.Phase) + " ")
	}
	return b.String()
}

// The sandbox serves the third-party APIs that kube generates objects for.
func TestThirdPartyKindsAreServed(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	objs := []struct {
		gvr schema.GroupVersionResource
		obj map[string]any
	}{
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "web"},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"name": "gw"}},
				"hostnames":  []any{"web.example.com"},
				"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "web", "port": int64(80)}}}},
			},
		}},
		{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}, map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"metadata": map[string]any{"name": "web"},
			"spec": map[string]any{
				"hosts": []any{"web"},
				"http":  []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "web"}}}}},
			},
		}},
		{schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"}, map[string]any{
			"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
			"metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"groups": []any{map[string]any{
				"name":  "web",
				"rules": []any{map[string]any{"alert": "WebDown", "expr": "up == 0"}},
			}}},
		}},
	}
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o.obj}
		created, err := env.Dynamic.Resource(o.gvr).Namespace(env.Namespace).Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Errorf("creating %s: %v", u.GetKind(), err)
			continue
		}
		if created.GetUID() == "" {
			t.Errorf("%s was not stored", u.GetKind())
		}
	}
	// The CRDs validate: an HTTPRoute with a wrong type is rejected.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "bad"},
		"spec":     map[string]any{"hostnames": "not-a-list"},
	}}
	if _, err := env.Dynamic.Resource(objs[0].gvr).Namespace(env.Namespace).Create(ctx, bad, metav1.CreateOptions{}); err == nil {
		t.Error("an invalid HTTPRoute was accepted: the CRD schema is not installed")
	}
}

func TestKubeVersionReportsSandboxServer(t *testing.T) {
	testcluster.Sandbox(t)
	r := kube(t, nil, "version", "-o", "json", "-c", "local")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var v struct{ Client, Go, Cluster, Server string }
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.Server != sandbox.KubernetesVersion || v.Cluster != "local" || v.Go == "" {
		t.Fatalf("version = %+v, want server %s", v, sandbox.KubernetesVersion)
	}
}

func TestSandboxStatusShowsReadyNodes(t *testing.T) {
	testcluster.Sandbox(t)
	r := kube(t, nil, "sandbox", "status", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	var st sandbox.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, n := range st.Nodes {
		if n.Ready {
			ready++
		}
	}
	if st.State != sandbox.StateRunning || ready < 2 || !strings.HasPrefix(st.Server, "https://") || st.Kubeconfig == "" {
		t.Fatalf("status = %+v", st)
	}
	if len(st.Components) < 5 {
		t.Errorf("components = %+v, want etcd, apiserver, controller-manager, scheduler, kwok", st.Components)
	}
}

// A second sandbox in its own state directory: up, up again (no-op), a component
// that dies, repair by up, and down leaving no process and no file behind, and
// nothing written to the user's home directory.
func TestSandboxLifecycle(t *testing.T) {
	testcluster.NeedsCluster(t)
	stateDir, home := t.TempDir(), t.TempDir()
	cache, err := sandbox.CacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBE_STATE_DIR=" + stateDir, "KUBE_CACHE_DIR=" + cache, "HOME=" + home}
	name := []string{"--name", "e2e"}
	sb := openIn(t, stateDir, "e2e")
	t.Cleanup(func() { kube(t, env, append([]string{"sandbox", "down"}, name...)...) })

	r := kube(t, env, append([]string{"sandbox", "up"}, name...)...)
	if r.code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "state:      running") || !strings.Contains(r.stdout, "kwok-node-2\tReady") {
		t.Fatalf("up output lacks the running state or the nodes:\n%s", r.stdout)
	}
	pids := processesUsing(sb.Dir)
	if len(pids) < 5 {
		t.Fatalf("processes of the sandbox = %v, want at least 5", pids)
	}

	r = kube(t, env, append([]string{"sandbox", "up"}, name...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "already up; nothing to do") {
		t.Fatalf("second up: exit %d\n%s", r.code, r.stderr)
	}
	if again := processesUsing(sb.Dir); !equal(again, pids) {
		t.Fatalf("second up changed the processes: %v -> %v", pids, again)
	}

	// A component that exits is reported with its log.
	st := sb.Status(context.Background())
	var scheduler int
	for _, c := range st.Components {
		if c.Name == "kube-scheduler" {
			scheduler = c.PID
		}
	}
	if scheduler == 0 {
		t.Fatalf("no kube-scheduler in %+v", st.Components)
	}
	if err := syscall.Kill(scheduler, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r = kube(t, env, append([]string{"sandbox", "status"}, name...)...); r.code == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = kube(t, env, append([]string{"sandbox", "status"}, name...)...)
	}
	if r.code != 1 || !strings.Contains(r.stdout, "kube-scheduler (pid") || !strings.Contains(r.stdout, "full log: ") {
		t.Fatalf("status after a component died: exit %d\n%s", r.code, r.stdout)
	}

	// up repairs a broken sandbox.
	r = kube(t, env, append([]string{"sandbox", "up"}, name...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "state:      running") {
		t.Fatalf("up on a broken sandbox: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A sandbox started by another kube version (other stamp) is restarted by up,
	// with new certificates on the same paths.
	if err := os.WriteFile(filepath.Join(sb.Dir, "stamp"), []byte("older\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r = kube(t, env, append([]string{"sandbox", "status"}, name...)...); r.code != 1 || !strings.Contains(r.stdout, "state:      outdated") {
		t.Fatalf("status of an outdated sandbox: exit %d\n%s", r.code, r.stdout)
	}
	r = kube(t, env, append([]string{"sandbox", "up"}, name...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "state:      running") || !strings.Contains(r.stdout, "kwok-node-2") {
		t.Fatalf("up on an outdated sandbox: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = kube(t, env, append([]string{"sandbox", "down"}, name...)...)
	if r.code != 0 {
		t.Fatalf("down: exit %d: %s", r.code, r.stderr)
	}
	if left := processesUsing(sb.Dir); len(left) > 0 {
		t.Fatalf("processes left after down: %v", left)
	}
	if _, err := os.Stat(sb.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after down (%v)", sb.Dir, err)
	}
	if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
		t.Errorf("files left in the state directory: %v", entries)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the sandbox wrote to the home directory: %v", entries)
	}
}

func openIn(t *testing.T, stateDir, name string) *sandbox.Sandbox {
	t.Helper()
	t.Setenv("KUBE_STATE_DIR", stateDir)
	sb, err := sandbox.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Interrupting `up` while components are starting leaves nothing behind.
func TestSandboxUpInterruptedLeavesNothing(t *testing.T) {
	testcluster.NeedsCluster(t)
	stateDir := t.TempDir()
	sb := openIn(t, stateDir, "e2e-int")
	cmd := exec.Command(kubeBin, "sandbox", "up", "--name", "e2e-int")
	cmd.Env = append(os.Environ(), "KUBE_STATE_DIR="+stateDir)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kube(t, []string{"KUBE_STATE_DIR=" + stateDir}, "sandbox", "down", "--name", "e2e-int") })
	// Wait until kwokctl has started at least one component besides itself.
	deadline := time.Now().Add(time.Minute)
	for len(processesUsing(sb.Dir)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no process of the sandbox appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("up succeeded despite the interrupt:\n%s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", errOut.String())
	}
	if left := processesUsing(sb.Dir); len(left) > 0 {
		t.Fatalf("processes left after an interrupted up: %v", left)
	}
	if _, err := os.Stat(sb.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after an interrupted up", sb.Dir)
	}
}

// processesUsing lists the processes whose command line mentions dir, from /proc:
// an independent check that no component of a sandbox escaped its pid files (the
// tests run on Linux; kube itself reads the pid files).
func processesUsing(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir+"/") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue // a zombie
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}
