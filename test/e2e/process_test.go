package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/sandbox"
)

// The Heroku-style verbs: ps lists processes and pods, logs prefixes every pod's
// lines, scale changes the replicas (guarded on a protected cluster), and run
// streams the task's log.
func TestPsLogsScaleAndRunLogs(t *testing.T) {
	env, ns, dir, name := appEnv(t)
	app{ns: ns, replicas: 2, cpu: "10m"}.write(t, dir)
	if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
	}
	r := kube(t, nil, "ps", "--filename", dir, "--app", name)
	if r.code != 0 || !strings.Contains(r.stdout, "web: 2/2 ready  registry.example.com/demo:1") || strings.Count(r.stdout, "Running") != 2 {
		t.Fatalf("ps: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = kube(t, nil, "logs", "--filename", dir, "--app", name, "web")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2*len(sandbox.PodLogLines) {
		t.Fatalf("logs: exit %d, %d lines\n%s%s", r.code, len(lines), r.stdout, r.stderr)
	}
	for _, l := range lines {
		pod, text, ok := strings.Cut(l, " | ")
		if !ok || !strings.HasPrefix(pod, "web-") || !strings.HasPrefix(text, "sandbox: ") {
			t.Errorf("log line without its pod prefix: %q", l)
		}
	}
	if r = kube(t, nil, "logs", "--filename", dir, "--app", name, "nope"); r.code == 0 || !strings.Contains(r.stderr, `no process "nope"; its processes: web`) {
		t.Errorf("logs of an unknown process: exit %d\n%s", r.code, r.stderr)
	}

	// The sandbox runs exec'd commands on this machine, in its exec directory.
	r = kube(t, withKubectl(t), "exec", "-f", dir, "--app", name, "web", "--", "sh", "-c", "echo exec:$KUBE_SANDBOX_EXEC")
	if r.code != 0 || r.stdout != "exec:true\n" {
		t.Fatalf("exec: exit %d\n%q\n%s", r.code, r.stdout, r.stderr)
	}

	r = kube(t, nil, "run", "-f", dir, "--app", name, "--", "bin/task")
	if r.code != 0 || !strings.Contains(r.stdout, sandbox.PodLogLines[0]) {
		t.Fatalf("run does not stream the task's log: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	reg := filepath.Join(t.TempDir(), "clusters.yaml")
	if err := os.WriteFile(reg, []byte("clusters:\n- name: local\n  protected: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r = kube(t, []string{"KUBE_REGISTRY=" + reg, "CI="}, "-c", "local", "scale", "-f", dir, "--app", name, "web=3"); r.code == 0 {
		t.Fatalf("scale on a protected cluster without confirmation succeeded:\n%s", r.stderr)
	}
	r = kube(t, []string{"KUBE_REGISTRY=" + reg, "CI=true"}, "-c", "local", "scale", "-f", dir, "--app", name, "web=3", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "Scaled web of "+name+" from 2 to 3") {
		t.Fatalf("scale --yes under CI=true: exit %d\n%s", r.code, r.stderr)
	}
	d, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("replicas after scale: %v %v", err, d.Spec.Replicas)
	}
	if r = kube(t, nil, "scale", "-f", dir, "--app", name, "web=lots"); r.code != 2 {
		t.Errorf("bad scale argument: exit %d", r.code)
	}
}
