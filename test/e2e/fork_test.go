package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
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
	startController(t, sb.KubeconfigPath(), "--namespace", ns)
}

func startController(t *testing.T, kubeconfig string, args ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "controller.log")
	ctrl := exec.Command(controllerBin, append([]string{"--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, args...)...)
	startLogged(t, ctrl, "kube-controller", logPath)
}

// asServiceAccount writes a kubeconfig of the sandbox that acts as the
// controller's service account (the admin impersonates it), so that the
// controller runs with exactly the permissions of config/install.
func asServiceAccount(t *testing.T) string { return impersonating(t, controllerSA) }

// impersonating writes a kubeconfig of the sandbox that acts as user.
func impersonating(t *testing.T, user string) string {
	t.Helper()
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(sb.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
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

const controllerSA = "system:serviceaccount:kube-idp-system:kube-controller"

// The install manifests deploy with kube deploy (CRDs, RBAC, admission
// policies, the Deployment), and the controller's service account may do what
// the controllers need and no more: one Secret, writes only where forks are
// enabled and only to fork objects, only annotations of Jobs and CronJobs.
func TestInstallManifestsDeploy(t *testing.T) {
	env := testcluster.Sandbox(t)
	shell := withKubectl(t)
	t.Cleanup(func() {
		kube(t, shell, "-c", "local", "kubectl", "delete", "--wait=false", "namespace/kube-idp-system",
			"clusterrole/kube-controller", "clusterrolebinding/kube-controller", "clusterrole/kube-controller-fork",
			"validatingadmissionpolicy/kube-controller-fork-objects-only", "validatingadmissionpolicybinding/kube-controller-fork-objects-only",
			"validatingadmissionpolicy/kube-controller-annotations-only", "validatingadmissionpolicybinding/kube-controller-annotations-only")
	})
	r := kube(t, nil, "-c", "local", "deploy", "-f", "../../config/install", "--app", "kube-controller", "--yes", "--timeout", "2m")
	if r.code != 0 || !strings.Contains(r.stderr+r.stdout, "Deployment/kube-controller (kube-idp-system) Current") {
		t.Fatalf("deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A namespace that enabled forks: the RoleBinding kube generate writes.
	forked := env.Namespace
	binding := filepath.Join(t.TempDir(), "binding.yaml")
	writeForkBinding(t, binding, forked)
	if r := kube(t, shell, "-c", "local", "kubectl", "apply", "-f", binding); r.code != 0 {
		t.Fatalf("binding: %s", r.stderr)
	}
	canI := map[string]string{
		"get secrets/slack-webhooks -n kube-idp-system":           "yes",
		"get secrets -n kube-idp-system":                          "no",
		"list secrets -n kube-idp-system":                         "no",
		"get secrets -n default":                                  "no",
		"get secrets -n " + forked:                                "no",
		"create deployments.apps -n kube-system":                  "no",
		"create deployments.apps -n default":                      "no",
		"create services -n kube-idp-system":                      "no",
		"create deployments.apps -n " + forked:                    "yes",
		"create statefulsets.apps -n " + forked:                   "yes",
		"patch httproutes.gateway.networking.k8s.io -n " + forked: "yes",
		"list deployments.apps --all-namespaces":                  "yes",
		"update forks.fork.kube-idp.dev/status -n " + forked:      "yes",
		"delete jobs.batch -n " + forked:                          "no",
		"create pods -n " + forked:                                "no",
		"create leases.coordination.k8s.io -n kube-idp-system":    "yes",
		"create leases.coordination.k8s.io -n default":            "no",
	}
	for verb, want := range canI {
		args := append([]string{"-c", "local", "kubectl", "auth", "can-i", "--as", controllerSA}, strings.Fields(verb)...)
		if r := kube(t, shell, args...); strings.TrimSpace(r.stdout) != want {
			t.Errorf("can-i %s: %q, want %s (%s)", verb, r.stdout, want, r.stderr)
		}
	}

	// As the service account, through the API server's admission: a privileged
	// Deployment in kube-system is forbidden; in a namespace with forks, only a
	// fork object passes; a CronJob's job template cannot change.
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	privileged := write("privileged.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: root, namespace: NS}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x, securityContext: {privileged: true}, volumeMounts: [{name: host, mountPath: /host}]}]
      volumes: [{name: host, hostPath: {path: /}}]
`)
	for ns, want := range map[string]string{"kube-system": "forbidden", forked: "may only write the objects it makes for forks"} {
		data, _ := os.ReadFile(privileged)
		file := write("privileged-"+ns+".yaml", strings.ReplaceAll(string(data), "NS", ns))
		r := kube(t, shell, "-c", "local", "kubectl", "apply", "--as", controllerSA, "--server-side", "--dry-run=server", "-f", file)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("privileged Deployment in %s as the controller: exit %d, %s", ns, r.code, r.stderr)
		}
	}
	forkCopy := write("copy.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web-fork-x, namespace: `+forked+`, labels: {fork.kube-idp.dev/identifier: x}}
spec:
  selector: {matchLabels: {fork.kube-idp.dev/identifier: x}}
  template:
    metadata: {labels: {fork.kube-idp.dev/identifier: x}}
    spec:
      containers: [{name: app, image: registry.example.com/web:branch}]
`)
	if r := kube(t, shell, "-c", "local", "kubectl", "apply", "--as", controllerSA, "--server-side", "--dry-run=server", "-f", forkCopy); r.code != 0 {
		t.Errorf("a fork copy as the controller: exit %d, %s", r.code, r.stderr)
	}
	cron := write("cron.yaml", `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: `+forked+`}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: registry.example.com/job:1}]
`)
	if r := kube(t, shell, "-c", "local", "kubectl", "apply", "-f", cron); r.code != 0 {
		t.Fatalf("cronjob: %s", r.stderr)
	}
	if r := kube(t, shell, "-c", "local", "kubectl", "annotate", "--as", controllerSA, "-n", forked, "cronjob/nightly", "kube-idp.dev/last-outcome=failed"); r.code != 0 {
		t.Errorf("annotating a CronJob as the controller: %s", r.stderr)
	}
	r = kube(t, shell, "-c", "local", "kubectl", "patch", "--as", controllerSA, "-n", forked, "cronjob/nightly", "--type=merge",
		"-p", `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"evil"}]}}}}}}`)
	if r.code == 0 || !strings.Contains(r.stderr, "may only change the annotations of Jobs and CronJobs") {
		t.Errorf("changing a CronJob's template as the controller: exit %d, %s", r.code, r.stderr)
	}

	// The controller itself, as its service account: a fork in a namespace
	// without the binding is Degraded and says why; with it, it becomes Ready.
	other := forked + "-off"
	web := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(web, []byte(sharedWeb), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{forked, other} {
		if ns == other {
			if r := kube(t, shell, "-c", "local", "kubectl", "create", "namespace", other); r.code != 0 {
				t.Fatal(r.stderr)
			}
			t.Cleanup(func() { kube(t, shell, "-c", "local", "kubectl", "delete", "--wait=false", "namespace", other) })
		}
		if r := kube(t, shell, "-c", "local", "kubectl", "apply", "-n", ns, "-f", web); r.code != 0 {
			t.Fatalf("shared web: %s", r.stderr)
		}
	}
	startController(t, asServiceAccount(t))
	r = kube(t, nil, "-c", "local", "fork", "create", "alice", "-n", forked, "--deployment", "web", "--image", "registry.example.com/web:branch", "--timeout", "1m")
	if r.code != 0 || !strings.Contains(r.stderr, "Fork alice is ready") {
		t.Errorf("fork where forks are enabled: exit %d\n%s", r.code, r.stderr)
	}
	r = kube(t, nil, "-c", "local", "fork", "create", "bob", "-n", other, "--deployment", "web", "--timeout", "30s")
	if r.code == 0 || !strings.Contains(r.stderr, "kube-controller may not make copies in namespace "+other) {
		t.Errorf("fork where forks are not enabled: exit %d\n%s", r.code, r.stderr)
	}
}

// writeForkBinding writes what kube generate's fork generator makes for ns.
func writeForkBinding(t *testing.T, path, ns string) {
	t.Helper()
	dir := t.TempDir()
	specText := "app: " + ns + "\nclusters: [sandbox]\ngenerates:\n- fork: {clusters: [sandbox]}\n"
	if err := os.WriteFile(filepath.Join(dir, "kube-generate.yaml"), []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kube(t, nil, "generate", "--update", dir); r.code != 0 {
		t.Fatalf("kube generate: %s", r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "kubernetes", "sandbox", "rolebinding-kube-controller-fork.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
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
