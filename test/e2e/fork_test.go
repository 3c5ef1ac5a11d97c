package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kube-idp/kube/internal/manifest"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

const sharedWeb = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: registry.example.com/web:v1}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`

// runController runs the kube-controller binary outside the cluster, watching
// one namespace, until the test ends; its log is shown if the test fails.
func runController(t *testing.T, ns string) {
	t.Helper()
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "controller.log")
	ctrl := exec.Command(controllerBin, "--kubeconfig", sb.KubeconfigPath(), "--namespace", ns,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	startLogged(t, ctrl, "kube-controller", logPath)
}

// startLogged starts cmd with its output in logPath, and stops it when the
// test ends, showing the log if the test failed.
func startLogged(t *testing.T, cmd *exec.Cmd, name, logPath string) {
	t.Helper()
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logs.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, data)
		}
	})
}

// The developer flow: kube-controller runs outside the cluster with
// --kubeconfig, and kube fork creates, lists, extends and deletes a fork.
func TestForkCommands(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	tmp := t.TempDir()
	manifest := filepath.Join(tmp, "web.yaml")
	if err := os.WriteFile(manifest, []byte(sharedWeb), 0o644); err != nil {
		t.Fatal(err)
	}
	shell := withKubectl(t)
	if r := kube(t, shell, "-c", "local", "kubectl", "apply", "-n", ns, "-f", manifest); r.code != 0 {
		t.Fatalf("kubectl apply: %s", r.stderr)
	}

	runController(t, ns)

	r := kube(t, nil, "-c", "local", "fork", "create", "alice", "-n", ns, "--deployment", "web", "--image", "registry.example.com/web:my-branch", "--ttl", "1h")
	if r.code != 0 || !strings.Contains(r.stderr, "Fork alice is ready, expires in") {
		t.Fatalf("fork create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = kube(t, shell, "-c", "local", "kubectl", "get", "deployment", "web-fork-alice", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if r.stdout != "registry.example.com/web:my-branch" {
		t.Fatalf("the copy's image: %q %s", r.stdout, r.stderr)
	}

	r = kube(t, nil, "-c", "local", "fork", "list", "-n", ns, "-o", "json")
	var list []struct {
		ID        string
		Ready     bool
		ExpiresAt *string
		Owner     string
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].ID != "alice" || !list[0].Ready || list[0].ExpiresAt == nil {
		t.Fatalf("fork list: %v %s %s", err, r.stdout, r.stderr)
	}
	r = kube(t, nil, "-c", "local", "fork", "list", "-n", ns)
	if !strings.Contains(r.stdout, "ID") || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "yes") {
		t.Fatalf("fork list table:\n%s", r.stdout)
	}
	r = kube(t, nil, "-c", "local", "fork", "status", "alice", "-n", ns)
	if !strings.Contains(r.stdout, "Copy web-fork-alice of deployment web (available); services web=web-fork-alice") ||
		!strings.Contains(r.stdout, "Route HTTPRoute web-fork-alice (service web)") {
		t.Fatalf("fork status:\n%s%s", r.stdout, r.stderr)
	}

	if r = kube(t, nil, "-c", "local", "fork", "extend", "alice", "-n", ns, "--by", "2h"); r.code != 0 || !strings.Contains(r.stderr, "3h0m0s") {
		t.Fatalf("fork extend: exit %d %s", r.code, r.stderr)
	}
	// Creating it again with a new image updates the same fork.
	r = kube(t, nil, "-c", "local", "fork", "create", "alice", "-n", ns, "--deployment", "web", "--image", "registry.example.com/web:my-branch-2")
	if r.code != 0 || !strings.Contains(r.stderr, "Updated fork alice") {
		t.Fatalf("fork create again: exit %d %s", r.code, r.stderr)
	}

	if r = kube(t, nil, "-c", "local", "fork", "status", "nobody", "-n", ns); r.code == 0 || !strings.Contains(r.stderr, "no fork nobody") {
		t.Fatalf("status of a missing fork: exit %d %s", r.code, r.stderr)
	}
	if r = kube(t, nil, "-c", "local", "fork", "delete", "alice", "-n", ns); r.code != 0 {
		t.Fatalf("fork delete: exit %d %s", r.code, r.stderr)
	}
	if r = kube(t, nil, "-c", "local", "fork", "list", "-n", ns); !strings.Contains(r.stderr, "No forks") {
		t.Fatalf("after delete: %s%s", r.stdout, r.stderr)
	}
}

// The install manifests deploy with kube deploy: CRDs, RBAC, the Deployment.
func TestInstallManifestsDeploy(t *testing.T) {
	testcluster.Sandbox(t)
	shell := withKubectl(t)
	t.Cleanup(func() {
		kube(t, shell, "-c", "local", "kubectl", "delete", "--wait=false", "namespace/kube-idp-system",
			"clusterrole/kube-controller", "clusterrolebinding/kube-controller")
	})
	r := kube(t, nil, "-c", "local", "deploy", "-f", "../../config/install", "--app", "kube-controller", "--yes", "--timeout", "2m")
	if r.code != 0 || !strings.Contains(r.stderr+r.stdout, "Deployment/kube-controller (kube-idp-system) Current") {
		t.Fatalf("deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The service account may do what the controllers do, and no more.
	for verb, want := range map[string]string{
		"create deployments.apps":                      "yes",
		"create statefulsets.apps":                     "yes",
		"patch httproutes.gateway.networking.k8s.io":   "yes",
		"update forks.fork.kube-idp.dev/status":        "yes",
		"get secrets":                                  "yes",
		"list secrets":                                 "no",
		"delete jobs.batch":                            "no",
		"create leases.coordination.k8s.io":            "yes",
		"create leases.coordination.k8s.io -n default": "no",
	} {
		args := append([]string{"-c", "local", "kubectl", "auth", "can-i", "--as", "system:serviceaccount:kube-idp-system:kube-controller", "-n", "kube-idp-system"}, strings.Fields(verb)...)
		if r := kube(t, shell, args...); strings.TrimSpace(r.stdout) != want {
			t.Errorf("can-i %s: %q, want %s (%s)", verb, r.stdout, want, r.stderr)
		}
	}
}

// The samples in config/samples are valid for the API server (server-side dry run).
func TestSamplesAreAccepted(t *testing.T) {
	env := testcluster.Sandbox(t)
	files, err := filepath.Glob("../../config/samples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range objs {
			o.SetNamespace(env.Namespace)
			if err := env.Client.Create(context.Background(), o, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", file, o.GetKind(), o.GetName(), err)
			}
		}
	}
}
