package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
)

// demoChart is version v of a small add-on: a Deployment whose image follows
// the version, a ServiceAccount and a Role. Version 1 also has a ConfigMap
// that version 2 drops, and version 2 adds a rule to the Role. Its values
// schema requires replicas to be a number.
func demoChart(version string) *chart.Chart {
	v2 := strings.HasPrefix(version, "2.")
	rules := `- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]`
	if v2 {
		rules += `
- apiGroups: [""]
  resources: [events]
  verbs: [create]`
	}
	templates := map[string]string{
		"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app.kubernetes.io/name: {{ .Release.Name }}, app.kubernetes.io/managed-by: {{ .Release.Service }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app.kubernetes.io/name: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app.kubernetes.io/name: {{ .Release.Name }}}}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
      - name: main
        image: registry.example.com/demo:{{ .Chart.AppVersion }}
`,
		"rbac.yaml": `apiVersion: v1
kind: ServiceAccount
metadata: {name: {{ .Release.Name }}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: {{ .Release.Name }}}
rules:
` + rules + "\n",
	}
	if !v2 {
		templates["legacy.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-legacy}
data: {mode: legacy}
`
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: version, AppVersion: version, Type: "application"},
		Values:   map[string]any{"replicas": 1},
		Raw:      []*common.File{{Name: "values.yaml", Data: []byte("replicas: 1\n")}},
		Schema:   []byte(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"replicas":{"type":"integer","minimum":0}},"required":["replicas"]}`),
	}
	for name, body := range templates {
		ch.Templates = append(ch.Templates, &common.File{Name: "templates/" + name, Data: []byte(body)})
	}
	return ch
}

// chartRepo serves an HTTP chart repository (index.yaml and archives) of the
// given versions of demoChart, packaged and indexed with Helm's SDK.
func chartRepo(t *testing.T, versions ...string) (url, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, v := range versions {
		if _, err := chartutil.Save(demoChart(v), dir); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, dir
}

// platformRepo writes clusters/local/addons.yaml and any other files into a
// fresh git work tree.
func platformRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	testsupport.WriteFiles(t, dir, files)
	return dir
}

func addonsFile(repoURL, ns, demoVersion, extra string) string {
	return fmt.Sprintf(`repositories:
- name: charts
  url: %s
releases:
- name: demo
  namespace: %s
  chart: charts/demo
  version: %s
  values:
  - replicas: 2
%s`, repoURL, ns, demoVersion, extra)
}

// The acceptance of add-ons: v1 installed; v2 moves image and RBAC in one
// revision and prunes the ConfigMap; an object deleted by hand comes back;
// rollback restores v1; bad input of any kind deploys nothing.
func TestAddonsUpdatePruneRollback(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	url, _ := chartRepo(t, "1.0.0", "2.0.0")
	work := platformRepo(t, map[string]string{"clusters/local/addons.yaml": addonsFile(url, ns, "1.0.0", "")})
	addons := func(args ...string) result {
		return kubeIn(t, work, append([]string{"addons", "-c", "local"}, args...)...)
	}
	image := func() string {
		d, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
	ruleCount := func() int {
		r, err := env.Kube.RbacV1().Roles(ns).Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Rules)
	}
	legacyExists := func() bool {
		_, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "demo-legacy", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}

	if r := addons("deploy", "--yes"); r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if image() != "registry.example.com/demo:1.0.0" || ruleCount() != 1 || !legacyExists() {
		t.Fatalf("v1 not installed: image %s, %d rules, legacy ConfigMap %v", image(), ruleCount(), legacyExists())
	}
	if d, _ := env.Kube.AppsV1().Deployments(ns).Get(ctx, "demo", metav1.GetOptions{}); *d.Spec.Replicas != 2 {
		t.Errorf("the file's values were not applied: replicas %d, want 2", *d.Spec.Replicas)
	}

	// The bump to v2, as Renovate would propose it: the plan names the deletion.
	testsupport.WriteFiles(t, work, map[string]string{"clusters/local/addons.yaml": addonsFile(url, ns, "2.0.0", "")})
	r := addons("diff")
	if r.code != 1 || !regexpMatch(`(?m)^delete\s+ConfigMap/demo-legacy`, r.stdout) || !strings.Contains(r.stdout, "registry.example.com/demo:2.0.0") {
		t.Fatalf("kube addons diff of v2: exit %d, want 1 with the ConfigMap's deletion and the new image\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := addons("deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy v2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if image() != "registry.example.com/demo:2.0.0" || ruleCount() != 2 || legacyExists() {
		t.Fatalf("v2 not deployed as one: image %s, %d rules, legacy ConfigMap %v", image(), ruleCount(), legacyExists())
	}
	hist := addonHistory(t, addons)
	if len(hist) != 2 || !strings.Contains(hist[0].Cause, "demo-2.0.0") || !strings.Contains(hist[1].Cause, "demo-1.0.0") {
		t.Fatalf("history: want 2 revisions naming the chart versions, got %+v", hist)
	}

	// Deleted by hand: the next deploy restores it.
	if err := env.Kube.RbacV1().Roles(ns).Delete(ctx, "demo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := addons("diff"); r.code != 1 || !regexpMatch(`(?m)^create\s+Role/demo`, r.stdout) {
		t.Errorf("diff after an out-of-band deletion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := addons("deploy", "--yes"); r.code != 0 || ruleCount() != 2 {
		t.Fatalf("deploy after an out-of-band deletion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Bad input: nothing deployed, not even the valid add-on next to it.
	other := "- name: other\n  namespace: " + ns + "\n  chart: ./manifests/other\n"
	testsupport.WriteFiles(t, work, map[string]string{"manifests/other/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n"})
	before := deploymentVersion(t, env, ns)
	for _, bad := range []struct{ name, file, want string }{
		{"unknown version", addonsFile(url, ns, "9.9.9", other), "add-on demo: chart demo has no version 9.9.9"},
		{"unreachable repository", addonsFile("http://127.0.0.1:1", ns, "2.0.0", other), "add-on demo: repository charts unreachable"},
		{"schema", strings.Replace(addonsFile(url, ns, "2.0.0", other), "replicas: 2", "replicas: two", 1), "add-on demo: the values fail the chart's schema"},
	} {
		testsupport.WriteFiles(t, work, map[string]string{"clusters/local/addons.yaml": bad.file})
		r := addons("deploy", "--yes")
		if r.code == 0 || !strings.Contains(r.stderr, bad.want) || !strings.Contains(r.stderr, "nothing was deployed") {
			t.Errorf("%s: exit %d, want an error with %q and \"nothing was deployed\"\n%s", bad.name, r.code, bad.want, r.stderr)
		}
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: the other add-on was deployed (%v)", bad.name, err)
		}
		if v := deploymentVersion(t, env, ns); v != before {
			t.Errorf("%s: the Deployment changed", bad.name)
		}
	}

	// Rollback to v1: image, RBAC and the ConfigMap together.
	testsupport.WriteFiles(t, work, map[string]string{"clusters/local/addons.yaml": addonsFile(url, ns, "2.0.0", "")})
	if r := addons("rollback", "demo", "1", "--yes"); r.code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if image() != "registry.example.com/demo:1.0.0" || ruleCount() != 1 || !legacyExists() {
		t.Fatalf("rollback did not restore v1: image %s, %d rules, legacy ConfigMap %v", image(), ruleCount(), legacyExists())
	}
	if r := addons("status", "demo"); r.code != 0 || !strings.Contains(r.stdout, "Deployment/demo") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := addons("list", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"pinned": "2.0.0"`) || !strings.Contains(r.stdout, "rollback") {
		t.Errorf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

type addonRevision struct {
	Number int    `json:"revision"`
	Cause  string `json:"cause"`
}

func addonHistory(t *testing.T, addons func(...string) result) []addonRevision {
	t.Helper()
	r := addons("history", "demo", "-o", "json")
	var hist []addonRevision
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &hist) != nil {
		t.Fatalf("history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return hist
}

func deploymentVersion(t *testing.T, env *testcluster.Env, ns string) string {
	t.Helper()
	d, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.ResourceVersion
}

// An add-on that the helm binary installed is adopted: same Deployment (same
// UID), Helm's records gone, and the next version deploys without conflicts.
func TestAddonsAdoptHelmRelease(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	helm, err := sandbox.EnsureTestTool(ctx, &progress.Reporter{Out: os.Stderr}, "helm")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.Open(sandbox.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	url, dir := chartRepo(t, "1.0.0", "2.0.0")
	helmEnv := append(os.Environ(), "KUBECONFIG="+sb.KubeconfigPath(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	install := exec.Command(helm, "install", "demo", filepath.Join(dir, "demo-1.0.0.tgz"), "-n", ns, "--set", "replicas=2", "--wait=false")
	install.Env = helmEnv
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	before, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	work := platformRepo(t, map[string]string{"clusters/local/addons.yaml": addonsFile(url, ns, "1.0.0", "")})
	r := kubeIn(t, work, "addons", "-c", "local", "deploy", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "Adopted Helm release demo") || !regexpMatch(`(?m)^adopt\s+Deployment/demo`, r.stdout) {
		t.Fatalf("adoption: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID {
		t.Fatalf("the Deployment was recreated: UID %s, was %s", after.UID, before.UID)
	}
	for _, m := range after.ManagedFields {
		if m.Manager == "helm" {
			t.Errorf("Helm still manages fields of the Deployment: %+v", m)
		}
	}
	records, err := env.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil || len(records.Items) != 0 {
		t.Errorf("Helm's release records remain: %v %v", records, err)
	}
	list := exec.Command(helm, "list", "-n", ns, "-q")
	list.Env = helmEnv
	if out, err := list.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("helm list after adoption: %q %v", out, err)
	}

	// The next version deploys over what Helm applied: no conflict, same UID.
	testsupport.WriteFiles(t, work, map[string]string{"clusters/local/addons.yaml": addonsFile(url, ns, "2.0.0", "")})
	if r := kubeIn(t, work, "addons", "-c", "local", "deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy v2 after adoption: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil || d.UID != before.UID || d.Spec.Template.Spec.Containers[0].Image != "registry.example.com/demo:2.0.0" {
		t.Fatalf("v2 after adoption: %v, UID %s (was %s)", err, d.UID, before.UID)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "demo-legacy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap Helm installed was not pruned by v2: %v", err)
	}
}
