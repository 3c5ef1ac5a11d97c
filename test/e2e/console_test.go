package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
)

// consoleApp is an app with a web Deployment of the given image, a CronJob
// whose runs exit 3, an AlertmanagerConfig routing to the team's channel, and
// a Secret whose value changes with the image.
func consoleApp(ns, image, secret string) map[string]string {
	return map[string]string{
		"namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n",
		"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ` + ns + `, labels: {app: shop, kube-idp.dev/team: payments}}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: web, image: "` + image + `"}]
`,
		"cronjob.yaml": `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ` + ns + `, labels: {kube-idp.dev/team: payments}}
spec:
  schedule: "0 3 * * *"
  suspend: true
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata: {annotations: {` + sandbox.AnnotationExitCode + `: "3"}}
        spec:
          restartPolicy: Never
          containers: [{name: task, image: registry.example.com/shop-task:1}]
`,
		"alertmanagerconfig.yaml": `apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata: {name: shop-alerts, namespace: ` + ns + `}
spec:
  route: {receiver: slack}
  receivers: [{name: slack, slackConfigs: [{channel: "#payments-alerts", apiURL: {name: slack, key: url}}]}]
`,
		"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: slack, namespace: " + ns + "}\nstringData: {url: " + secret + "}\n",
	}
}

// artifactsDir is where the console test saves its screenshots: $ARTIFACTS,
// else artifacts/console at the repository's root (ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = "../../artifacts"
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleJar keeps the consoles' token cookies for http.Get.
var consoleJar, _ = cookiejar.New(nil)

// startConsole runs `kube console` on a free port and returns its base URL.
// It opens the printed URL once (it holds the run's token) with
// http.DefaultClient, which keeps the cookie; a browser opens consoleEntry.
func startConsole(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubeBin, append([]string{"console", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	urlRE := regexp.MustCompile(`^kube console: (http://\S+) `)
	for lines.Scan() {
		if m := urlRE.FindStringSubmatch(lines.Text()); m != nil {
			go func() { // keep draining
				for lines.Scan() {
				}
			}()
			u, err := url.Parse(m[1])
			if err != nil {
				t.Fatal(err)
			}
			base := u.Scheme + "://" + u.Host
			consoleEntries[base] = m[1]
			if slices.Contains(args, "--viewer-auth") {
				return base // each request brings its viewer's token
			}
			if u.Query().Get("token") == "" {
				t.Fatalf("kube console printed %s: want its URL with ?token=", m[1])
			}
			http.DefaultClient.Jar = consoleJar
			if resp, err := http.Get(base + "/catalog"); err != nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("without the token: %v %v", resp, err)
			}
			resp, err := http.Get(m[1])
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the printed URL: %v %v", resp, err)
			}
			resp.Body.Close()
			return base
		}
	}
	t.Fatalf("kube console did not start (%v)", lines.Err())
	return ""
}

// consoleEntries are the printed URLs (with the token) by base URL.
var consoleEntries = map[string]string{}

// consoleEntry is the URL kube console printed for the console at base.
func consoleEntry(base string) string { return consoleEntries[base] }

// The console in a real headless Chromium (Debian's chromium, driven with
// chromedp) against the sandbox: the example apps, an app deployed twice, a
// fork, a failed CronJob run. Every page shows what it must, links navigate, no Secret value
// reaches a page, and each page is saved as a screenshot.
func TestConsoleInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("Debian's chromium is needed (make test installs it): ", err)
	}
	env, ns, dir, name := appEnv(t)
	ctx := context.Background()
	deploy := func(image, secret string) {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		testsupport.WriteFiles(t, dir, consoleApp(ns, image, secret))
		if r := kube(t, nil, "deploy", "-f", dir, "--app", name, "--yes", "--timeout", "1m"); r.code != 0 {
			t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
		}
	}
	deploy("registry.example.com/shop:1", "https://hooks.example.com/first-s3cr3t")
	deploy("registry.example.com/shop:2", "https://hooks.example.com/second-s3cr3t")

	cron, err := env.Kube.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID}}}, Spec: cron.Spec.JobTemplate.Spec}
	if _, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, run, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, run.Name, metav1.GetOptions{})
		return err == nil && j.Status.Failed > 0, nil
	})
	if err != nil {
		t.Fatalf("the CronJob's run did not fail: %v", err)
	}
	runController(t, ns)
	if r := kube(t, nil, "-c", "local", "fork", "create", "alice", "-n", ns, "--deployment", "web", "--image", "registry.example.com/shop:alice", "--ttl", "2h"); r.code != 0 {
		t.Fatalf("fork create: exit %d\n%s", r.code, r.stderr)
	}

	// The example apps, as make demo deploys them.
	for _, ex := range []string{"billing", "storefront"} {
		if r := kube(t, nil, "-c", "local", "deploy", "-f", "../../examples/"+ex+"/kubernetes/sandbox", "--app", ex, "--yes", "--timeout", "2m"); r.code != 0 {
			t.Fatalf("deploy examples/%s: exit %d\n%s", ex, r.code, r.stderr)
		}
	}
	base := startConsole(t, "-c", "local", "-C", "../../examples/kube-platform")
	shots := artifactsDir(t)

	alloc, cancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	browser, cancel = context.WithTimeout(browser, 2*time.Minute)
	defer cancel()

	// page runs the steps, saves a screenshot and returns the page's HTML.
	page := func(shot string, steps ...chromedp.Action[chromedp.Void]) string {
		t.Helper()
		if err := chromedp.Do(browser, steps...); err != nil {
			t.Fatalf("%s: %v", shot, err)
		}
		html, err := chromedp.Run(browser, chromedp.OuterHTML("html"))
		if err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, shot), png, 0o644); err != nil {
			t.Fatal(err)
		}
		return html
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	row := fmt.Sprintf(`tr[data-app=%q]`, name)
	page("fleet.png", chromedp.Navigate(consoleEntry(base)), chromedp.WaitVisible(row))
	fleetRow := text(row)
	for _, want := range []string{name, ns, "payments", "#payments-alerts", "shop:2", "2/2"} {
		if !strings.Contains(fleetRow, want) {
			t.Errorf("the fleet's row for %s lacks %q: %q", name, want, fleetRow)
		}
	}
	if billing := text(`tr[data-app="billing"]`); !strings.Contains(billing, "payments") || !strings.Contains(billing, "#payments-alerts") {
		t.Errorf("the fleet's row of examples/billing: %q", billing)
	}
	if !regexp.MustCompile(`\b2\b`).MatchString(fleetRow) {
		t.Errorf("the fleet's row does not show revision 2: %q", fleetRow)
	}

	page("app.png", chromedp.Click(row+" a"), chromedp.WaitVisible("table.objects"))
	objects, cronjobs, forks := text("table.objects"), text("table.cronjobs"), text("table.forks")
	if !strings.Contains(objects, "Deployment/web") || !strings.Contains(objects, "Current") {
		t.Errorf("objects: %q", objects)
	}
	if !strings.Contains(cronjobs, "nightly") || !strings.Contains(cronjobs, "failed") || !strings.Contains(cronjobs, "nightly-1") {
		t.Errorf("CronJobs: %q", cronjobs)
	}
	if !strings.Contains(forks, "alice") || !regexp.MustCompile(`in 1h|in 119m|in 2h`).MatchString(forks) {
		t.Errorf("forks: %q", forks)
	}

	page("diff.png", chromedp.Click(`a[href$="/diff?from=1&to=2"]`), chromedp.WaitVisible("pre.diff"))
	diff := text("main")
	for _, want := range []string{"revision 1 → 2", "changed: Deployment/web", "-      - image: registry.example.com/shop:1", "+      - image: registry.example.com/shop:2"} {
		if !strings.Contains(diff, want) {
			t.Errorf("the diff lacks %q:\n%s", want, diff)
		}
	}
	// The compare form reaches the same page without JavaScript links.
	appURL := base + "/clusters/local/namespaces/" + ns + "/apps/" + name
	page("diff-form.png", chromedp.Navigate(appURL), chromedp.WaitVisible("table.revisions"), chromedp.Click(`input[name="from"][value="2"]`),
		chromedp.Click(`input[name="to"][value="1"]`), chromedp.Click(`button[type="submit"]`), chromedp.WaitVisible("pre.diff"))
	if h := text("h1"); !strings.Contains(h, "revision 2 → 1") {
		t.Errorf("the compare form: %q", h)
	}

	page("forks.png", chromedp.Click(`header a[href="/forks"]`), chromedp.WaitVisible("table.forks"))
	forksPage := text("table.forks")
	if !strings.Contains(forksPage, "alice") || !strings.Contains(forksPage, ns) {
		t.Errorf("forks page: %q", forksPage)
	}

	page("catalog.png", chromedp.Click(`header a[href="/catalog"]`), chromedp.WaitVisible("#domain-observability"))
	catalogPage := text("main")
	if !strings.Contains(catalogPage, "Observability") || !strings.Contains(catalogPage, "No component serves this domain.") {
		t.Errorf("catalog page lacks domains or gaps")
	}
	page("catalog-servicex.png", chromedp.Click(`#domain-observability + p + table a[href="/catalog/servicex"]`), chromedp.WaitVisible("dl"))
	servicex := text("main")
	if !strings.Contains(servicex, "platform-devex") || !strings.Contains(servicex, "library") {
		t.Errorf("servicex page: %q", servicex)
	}

	// No page, nor the diff's source, holds a Secret value, plain or encoded.
	for _, u := range []string{base + "/", appURL, appURL + "/diff?from=1&to=2"} {
		src := page("source.png", chromedp.Navigate(u), chromedp.WaitReady("body"))
		for _, secret := range []string{"s3cr3t", base64.StdEncoding.EncodeToString([]byte("https://hooks.example.com/second-s3cr3t"))} {
			if strings.Contains(src, secret) {
				t.Errorf("%s shows a Secret value", u)
			}
		}
	}
	_ = os.Remove(filepath.Join(shots, "source.png"))
}

const consoleSA = "system:serviceaccount:kube-console:kube-console"

// config/console installs the console with an account that may read nothing:
// it serves each viewer with the viewer's own token.
func TestConsoleInstallHasNoAccessOfItsOwn(t *testing.T) {
	_, ns, _, _ := appEnv(t)
	shell := withKubectl(t)
	t.Cleanup(func() {
		kube(t, shell, "-c", "local", "kubectl", "delete", "--wait=false", "namespace/kube-console")
	})
	if r := kube(t, nil, "-c", "local", "deploy", "-f", "../../config/console", "--app", "kube-console", "--yes", "--timeout", "2m"); r.code != 0 {
		t.Fatalf("deploy config/console: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, verb := range []string{"list secrets --all-namespaces", "get secrets -n " + ns, "list deployments.apps --all-namespaces",
		"list forks.fork.kube-idp.dev -A", "create deployments.apps -n " + ns, "create serviceaccounts/token -n " + ns} {
		args := append([]string{"-c", "local", "kubectl", "auth", "can-i", "--as", consoleSA}, strings.Fields(verb)...)
		if r := kube(t, shell, args...); strings.TrimSpace(r.stdout) != "no" {
			t.Errorf("can-i %s: %q, want no (%s)", verb, r.stdout, r.stderr)
		}
	}
}

// Two viewers of different RBAC each see their own namespace's app and not
// the other's; a request without a token gets 401.
func TestConsoleServesEachViewerWithTheirIdentity(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	type viewer struct{ ns, app, token string }
	var viewers []*viewer
	for _, suffix := range []string{"-va", "-vb"} {
		ns := env.Namespace + suffix
		t.Cleanup(func() { _ = env.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		v := &viewer{ns: ns, app: "web" + suffix}
		dir := t.TempDir()
		app{ns: ns, replicas: 1, cpu: "10m"}.write(t, dir)
		if r := kube(t, nil, "deploy", "-f", dir, "--app", v.app, "--yes", "--timeout", "1m"); r.code != 0 {
			t.Fatalf("deploy: exit %d\n%s", r.code, r.stderr)
		}
		// A developer of the namespace: view, its Secrets (kube's records) and
		// Forks, as docs/console.md says.
		if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "dev"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "records"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"fork.kube-idp.dev"}, Resources: []string{"forks"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "dev", Namespace: ns}}
		for name, ref := range map[string]rbacv1.RoleRef{"view": {APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
			"records": {APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "records"}} {
			if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: ref, Subjects: subject}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		tr, err := env.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "dev", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v.token = tr.Status.Token
		viewers = append(viewers, v)
	}
	base := startConsole(t, "-c", "local", "--viewer-auth")
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	appPath := func(v *viewer) string { return fmt.Sprintf("/clusters/local/namespaces/%s/apps/%s", v.ns, v.app) }
	if code, body := get(appPath(viewers[0]), ""); code != http.StatusUnauthorized || !strings.Contains(body, "sign in") {
		t.Fatalf("without a token: %d %s", code, body)
	}
	for i, v := range viewers {
		other := viewers[1-i]
		if code, page := get(appPath(v), v.token); code != http.StatusOK || !strings.Contains(page, "Deployment/web") || strings.Contains(page, "forbidden") {
			t.Errorf("%s's own app: %d\n%s", v.ns, code, page)
		}
		if _, page := get(appPath(other), v.token); strings.Contains(page, "Deployment/web") || !strings.Contains(page, "forbidden") {
			t.Errorf("%s sees %s's app:\n%s", v.ns, other.ns, page)
		}
		// Across namespaces it may not list: the fleet says so, and shows nothing.
		if _, fleet := get("/", v.token); strings.Contains(fleet, fmt.Sprintf("data-app=%q", other.app)) {
			t.Errorf("%s's fleet lists %s", v.ns, other.app)
		}
	}
}
