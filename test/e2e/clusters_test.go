package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

// withKubectl puts the kubectl built with the sandbox first on PATH, so that the
// tests use a kubectl of the server's version on every machine.
func withKubectl(t *testing.T, env ...string) []string {
	t.Helper()
	comps, ok, err := sandbox.CachedComponents()
	if err != nil || !ok {
		t.Fatalf("sandbox components are not built: %v", err)
	}
	return append(env, "PATH="+comps.BinDir()+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

func TestKubectlPassThrough(t *testing.T) {
	testcluster.Sandbox(t)
	tmp := t.TempDir()
	env := withKubectl(t, "TMPDIR="+tmp)
	r := kube(t, env, "-c", "local", "kubectl", "get", "nodes")
	if r.code != 0 || !strings.Contains(r.stdout, "kwok-node-1") {
		t.Fatalf("kubectl get nodes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = kube(t, env, "k", "get", "configmap", "does-not-exist", "-n", "default")
	if r.code != 1 || !strings.Contains(r.stderr, "NotFound") {
		t.Fatalf("kubectl's exit code is not passed through: exit %d\n%s", r.code, r.stderr)
	}
	assertEmptyDir(t, tmp)

	// Interrupted while kubectl runs: the temporary kubeconfig is removed all the same.
	cmd := startWatch(t, env, tmp)
	entries, _ := os.ReadDir(tmp)
	if info, err := entries[0].Info(); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("temporary kubeconfig mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("an interrupted kubectl watch exited 0")
	}
	assertEmptyDir(t, tmp)
}

// kubectlRunning tells whether a kubectl process uses a kubeconfig in dir.
func kubectlRunning(dir string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), "kubectl") && strings.Contains(string(data), dir+"/kube-kubeconfig-") {
			return true
		}
	}
	return false
}

// startWatch starts kube kubectl get namespaces --watch (there are always
// some, so kubectl prints before it watches) and waits for its temporary
// kubeconfig and for its kubectl to watch.
func startWatch(t *testing.T, env []string, tmp string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(kubeBin, "kubectl", "get", "namespaces", "--watch")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kubectl prints the list, then watches: its first line means it is watching.
	watching := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				close(watching)
				first = false
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for entries, _ := os.ReadDir(tmp); len(entries) == 0 || !kubectlRunning(tmp); entries, _ = os.ReadDir(tmp) {
		if time.Now().After(deadline) {
			t.Fatal("no temporary kubeconfig or kubectl appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-watching:
	case <-time.After(20 * time.Second):
		t.Fatal("kubectl printed nothing")
	}
	return cmd
}

// Every catchable signal is passed to kubectl and the kubeconfig removed after
// it ends (SIGQUIT used to leave it, with its client key, and an orphan kubectl).
// SIGKILL cannot be caught: kubectl dies with kube, and the next run removes
// the file left behind.
func TestKubectlSignals(t *testing.T) {
	testcluster.Sandbox(t)
	tmp := t.TempDir()
	env := withKubectl(t, "TMPDIR="+tmp)
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTERM} {
		cmd := startWatch(t, env, tmp)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%v: kube exited with %v", sig, err)
		}
		if kubectlRunning(tmp) {
			t.Errorf("%v: kubectl still runs", sig)
		}
		assertEmptyDir(t, tmp)
	}

	cmd := startWatch(t, env, tmp)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for kubectlRunning(tmp) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if kubectlRunning(tmp) {
		t.Error("kubectl outlived a kube killed with SIGKILL")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Fatalf("after SIGKILL: %d files in %s, want the one kube could not remove", len(entries), tmp)
	}
	if r := kube(t, env, "-c", "local", "kubectl", "version", "--client"); r.code != 0 {
		t.Fatalf("kubectl version: %s", r.stderr)
	}
	assertEmptyDir(t, tmp)
}

// A registry that marks the sandbox protected: mutating commands need --yes with
// CI=true (or a typed name on a terminal); reads are never blocked.
func TestProtectedClusterNeedsConfirmation(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
	reg := filepath.Join(t.TempDir(), "clusters.yaml")
	if err := os.WriteFile(reg, []byte("clusters:\n- name: local\n  protected: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := withKubectl(t, "KUBE_REGISTRY="+reg)

	r := kube(t, append(base, "CI="), "-c", "local", "deploy", "-f", dir, "--app", name, "--yes")
	if r.code == 0 || !strings.Contains(r.stderr, "Protected cluster local") || !strings.Contains(r.stderr, "only in CI") {
		t.Fatalf("deploy to a protected cluster without CI=true: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err == nil {
		t.Fatal("the refused deploy applied something")
	}
	r = kube(t, append(base, "CI=true"), "-c", "local", "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("deploy with --yes under CI=true: exit %d\n%s", r.code, r.stderr)
	}
	if r = kube(t, append(base, "CI=true"), "-c", "local", "run", "-f", dir, "--app", name, "--", "true"); r.code == 0 {
		t.Fatalf("run without --yes on a protected cluster succeeded:\n%s", r.stderr)
	}
	if r = kube(t, append(base, "CI=true"), "-c", "local", "run", "-f", dir, "--app", name, "--yes", "--", "true"); r.code != 0 {
		t.Fatalf("run --yes under CI=true: exit %d\n%s", r.code, r.stderr)
	}
	if r = kube(t, base, "-c", "local", "kubectl", "get", "deployments", "-n", ns); r.code != 0 || !strings.Contains(r.stdout, "web") {
		t.Fatalf("a read through kubectl was blocked: exit %d\n%s", r.code, r.stderr)
	}
	if r = kube(t, base, "-c", "local", "kubectl", "delete", "deployment", "web", "-n", ns); r.code == 0 || !strings.Contains(r.stderr, "protected") {
		t.Fatalf("kubectl delete on a protected cluster without confirmation: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Fatalf("the refused kubectl delete deleted: %v", err)
	}
	// auth reconcile creates RBAC: it used to pass as a read ("auth").
	role := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(role, []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: sneaky, namespace: "+ns+"}\nrules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r = kube(t, base, "-c", "local", "kubectl", "auth", "reconcile", "-f", role); r.code == 0 || !strings.Contains(r.stderr, "will run kubectl auth reconcile") {
		t.Fatalf("kubectl auth reconcile on a protected cluster without confirmation: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := env.Kube.RbacV1().Roles(ns).Get(context.Background(), "sneaky", metav1.GetOptions{}); err == nil {
		t.Fatal("the refused auth reconcile created the Role")
	}
	if r = kube(t, base, "-c", "local", "kubectl", "auth", "can-i", "get", "pods", "-n", ns); r.code != 0 {
		t.Fatalf("kubectl auth can-i was blocked: exit %d\n%s", r.code, r.stderr)
	}
	if r = kube(t, base, "kubectl", "get", "nodes"); r.code == 0 || !strings.Contains(r.stderr, "never a default") {
		t.Errorf("a protected cluster was used without being named: exit %d\n%s", r.code, r.stderr)
	}
	if r = kube(t, base, "clusters"); !strings.Contains(r.stdout, "local") || !strings.Contains(r.stdout, "yes") {
		t.Errorf("kube clusters does not show local as protected:\n%s", r.stdout)
	}
	if r = kube(t, base, "use", "local"); r.code == 0 {
		t.Errorf("a protected cluster became a directory default")
	}
}

// No kube command reads or changes the user's ~/.kube/config.
func TestUserKubeconfigIsNeverChanged(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	_ = env
	app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
	home := t.TempDir()
	config := filepath.Join(home, ".kube", "config")
	original := []byte("apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts:\n- name: prod\n  context: {cluster: prod, user: admin}\nclusters:\n- name: prod\n  cluster: {server: 'https://prod.invalid:6443'}\nusers:\n- name: admin\n  user: {token: do-not-touch}\n")
	if err := os.MkdirAll(filepath.Dir(config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, original, 0o600); err != nil {
		t.Fatal(err)
	}
	state, _ := sandbox.StateRoot()
	cache, _ := sandbox.CacheRoot()
	e := withKubectl(t, "HOME="+home, "KUBE_STATE_DIR="+state, "KUBE_CACHE_DIR="+cache, "KUBECONFIG=")
	for _, args := range [][]string{
		{"version"}, {"clusters"}, {"sandbox", "status"}, {"kubectl", "get", "nodes"},
		{"generate", "../../examples/billing"}, {"deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"},
		{"diff", "-f", dir, "--app", name}, {"status", "-f", dir, "--app", name}, {"history", "-f", dir, "--app", name},
		{"use", "--shell", "local"},
	} {
		r := kube(t, e, args...)
		if r.code != 0 {
			t.Errorf("kube %v: exit %d\n%s", args, r.code, r.stderr)
		}
		if got, _ := os.ReadFile(config); string(got) != string(original) {
			t.Fatalf("kube %v changed ~/.kube/config", args)
		}
	}
}

// kube also works as a kubectl plugin: kubectl kube ...
func TestKubectlPlugin(t *testing.T) {
	testcluster.Sandbox(t)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-kube"), "../../cmd/kubectl-kube")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	comps, _, _ := sandbox.CachedComponents()
	cmd := exec.Command(comps.Bin("kubectl"), "kube", "version", "-c", "local")
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "server: "+sandbox.KubernetesVersion) {
		t.Fatalf("kubectl kube version: %v\n%s", err, out)
	}
}
