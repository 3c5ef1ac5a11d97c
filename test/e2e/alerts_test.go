package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
)

// slackAPI is a Slack-compatible chat.postMessage endpoint run by the test:
// it records each message's channel and text.
type slackAPI struct {
	mu   sync.Mutex
	msgs []slackMsg
}

type slackMsg struct {
	Channel, Text, Auth string
}

func (s *slackAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Channel     string `json:"channel"`
		Text        string `json:"text"`
		Attachments []struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"attachments"`
	}
	data, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(data, &body)
	text := body.Text
	for _, a := range body.Attachments {
		text += "\n" + a.Title + "\n" + a.Text
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, slackMsg{Channel: body.Channel, Text: text, Auth: r.Header.Get("Authorization")})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ok":true}`)
}

func (s *slackAPI) to(channel string) []slackMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slackMsg
	for _, m := range s.msgs {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// Two apps with different channels: the platform's generic alert about one
// app's Deployment, and the other app's own alert, each reach only their
// team's channel, through the real prometheus-operator, kube-state-metrics,
// Prometheus and Alertmanager. kube alerts then lists, silences and routes.
func TestAlertsReachTheOwningTeamsChannel(t *testing.T) {
	env := testcluster.Sandbox(t)
	mon := env.Namespace
	ctx := context.Background()
	p := &progress.Reporter{Out: os.Stderr}
	tool := func(name string) string {
		bin, err := sandbox.EnsureTestTool(ctx, p, name)
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	promBin, amBin, ksmBin, opBin := tool("prometheus"), tool("alertmanager"), tool("kube-state-metrics"), tool("prometheus-operator")
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := sb.KubeconfigPath()
	work := t.TempDir()

	// The two apps: checkout's Deployment cannot be scheduled (a node selector
	// no node has); search is healthy and has an alert of its own, with its
	// unit test.
	nsA, nsB := mon+"-checkout", mon+"-search"
	writeApp(t, work, "checkout", fmt.Sprintf(`app: checkout
namespace: %s
team: checkout
slack: "#checkout-alerts"
generates:
- namespace: {clusters: [sandbox]}
- web:
    clusters: [sandbox]
    image: registry.example.com/checkout
    tag: "1.0"
    port: 8080
    replicas: 2
    patches:
    - kind: Deployment
      merge: {spec: {template: {spec: {nodeSelector: {kube-idp.dev/e2e: nowhere}}}}}
`, nsA))
	writeApp(t, work, "search", fmt.Sprintf(`app: search
namespace: %[1]s
team: search
slack: "#search-alerts"
generates:
- namespace: {clusters: [sandbox]}
- web:
    clusters: [sandbox]
    image: registry.example.com/search
    tag: "1.0"
    port: 8080
- alerts:
    clusters: [sandbox]
    rules:
    - alert: SearchServing
      expr: kube_deployment_status_replicas_available{namespace="%[1]s", deployment="search"} >= 1
      severity: warning
      summary: 'Search serves with {{ $value }} replicas'
      runbook: https://runbooks.example.com/search/serving
    tests:
    - input:
      - series: 'kube_deployment_status_replicas_available{namespace="%[1]s", deployment="search"}'
        values: 1x5
      alerts:
      - at: 2m
        alert: SearchServing
        expect:
        - labels: {namespace: %[1]s, deployment: search, severity: warning}
`, nsB))
	for _, a := range []string{"checkout", "search"} {
		dir := filepath.Join(work, a)
		if r := kubeIn(t, dir, "generate", "--update"); r.code != 0 {
			t.Fatalf("kube generate %s: %s", a, r.stderr)
		}
		if r := kubeIn(t, dir, "deploy", "-c", "local", "--yes", "--timeout", "0"); r.code != 0 {
			t.Fatalf("kube deploy %s: %s%s", a, r.stdout, r.stderr)
		}
		t.Cleanup(func() {
			_ = env.Kube.CoreV1().Namespaces().Delete(context.Background(), map[string]string{"checkout": nsA, "search": nsB}[a], metav1.DeleteOptions{})
		})
	}

	// A broken custom alert is refused before anything is deployed, at its line.
	writeApp(t, work, "broken", "app: broken\nslack: \"#b\"\ngenerates:\n- alerts:\n    clusters: [sandbox]\n    rules:\n    - alert: Broken\n      expr: rate(x[5m]\n      severity: warning\n      summary: s\n      runbook: https://r\n")
	if r := kubeIn(t, filepath.Join(work, "broken"), "generate"); r.code != 2 || !strings.Contains(r.stderr, "kube-generate.yaml:8:13: PromQL: unclosed left parenthesis") {
		t.Errorf("a broken rule: exit %d, %s", r.code, r.stderr)
	}

	// The platform's monitoring in the test's namespace, as config/monitoring
	// installs it, with the Slack credential in a Secret.
	slack := &slackAPI{}
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	if _, err := env.Kube.CoreV1().Secrets(mon).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kube-alerts-slack"},
		StringData: map[string]string{"api-url": slackSrv.URL + "/api/chat.postMessage", "token": "xoxb-e2e"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The catalogue's `for` are minutes; seconds here, the rule unit tests
	// cover the minutes.
	for _, o := range (alerts.Platform{Namespace: mon, Cluster: "local", ForOverride: "5s"}).Objects() {
		resource := strings.ToLower(o.GetKind()) + "s"
		if o.GetKind() == "Prometheus" {
			resource = "prometheuses"
		}
		gvr := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: o.GroupVersionKind().Version, Resource: resource}
		if _, err := env.Dynamic.Resource(gvr).Namespace(mon).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", o.GetKind(), err)
		}
	}

	// prometheus-operator outside the cluster turns them into Alertmanager's
	// configuration and Prometheus's rule files.
	startOperator(t, env, opBin, work, mon, nsA, nsB)
	rulesDir := filepath.Join(work, "rules")
	_ = os.MkdirAll(rulesDir, 0o755)
	var amConfig []byte
	waitFor(t, 2*time.Minute, "the operator's Alertmanager configuration and rule files", func() bool {
		sec, err := env.Kube.CoreV1().Secrets(mon).Get(ctx, "alertmanager-kube-generated", metav1.GetOptions{})
		if err != nil {
			return false
		}
		zr, err := gzip.NewReader(bytes.NewReader(sec.Data["alertmanager.yaml.gz"]))
		if err != nil {
			return false
		}
		amConfig, _ = io.ReadAll(zr)
		cm, err := env.Kube.CoreV1().ConfigMaps(mon).Get(ctx, "prometheus-kube-rulefiles-0", metav1.GetOptions{})
		if err != nil || !strings.Contains(string(amConfig), "#checkout-alerts") || !strings.Contains(string(amConfig), "#search-alerts") {
			return false
		}
		var sawApp bool
		for name, content := range cm.Data {
			sawApp = sawApp || strings.HasPrefix(name, nsB+"-")
			_ = os.WriteFile(filepath.Join(rulesDir, name), []byte(content), 0o644)
		}
		return sawApp
	})

	// kube-state-metrics, Alertmanager and Prometheus, all real, on this machine.
	ksmPort, amPort, promPort := testsupport.FreePort(t), testsupport.FreePort(t), testsupport.FreePort(t)
	startLogged(t, exec.Command(ksmBin, "--kubeconfig", kubeconfig, "--host", "127.0.0.1", fmt.Sprintf("--port=%d", ksmPort),
		"--telemetry-host", "127.0.0.1", fmt.Sprintf("--telemetry-port=%d", testsupport.FreePort(t)), "--namespaces", nsA+","+nsB,
		"--resources", "deployments,pods,jobs,cronjobs,horizontalpodautoscalers"), "kube-state-metrics", filepath.Join(work, "ksm.log"))
	amFile := filepath.Join(work, "alertmanager.yaml")
	_ = os.WriteFile(amFile, amConfig, 0o600)
	startLogged(t, exec.Command(amBin, "--config.file", amFile, "--storage.path", filepath.Join(work, "am"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=", "--enable-feature=receiver-name-in-metrics"),
		"alertmanager", filepath.Join(work, "alertmanager.log"))
	promFile := filepath.Join(work, "prometheus.yaml")
	_ = os.WriteFile(promFile, fmt.Appendf(nil, `global: {scrape_interval: 1s, evaluation_interval: 1s, external_labels: {cluster: local, kube_console_url: "https://console.example.com"}}
rule_files: [%q]
scrape_configs:
- job_name: prometheus
  static_configs: [{targets: ["127.0.0.1:%d"]}]
- job_name: kube-state-metrics
  honor_labels: true
  static_configs: [{targets: ["127.0.0.1:%d"]}]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:%d"]}]}]
`, filepath.Join(rulesDir, "*.yaml"), promPort, ksmPort, amPort), 0o644)
	startLogged(t, exec.Command(promBin, "--config.file", promFile, "--storage.tsdb.path", filepath.Join(work, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort)), "prometheus", filepath.Join(work, "prometheus.log"))

	// Each team's channel receives its own alert; a message says cluster,
	// namespace, object, severity, summary, runbook and the kube command.
	var gotA, gotB []slackMsg
	has := func(ms []slackMsg, s string) *slackMsg {
		for i := range ms {
			if strings.Contains(ms[i].Text, s) {
				return &ms[i]
			}
		}
		return nil
	}
	waitFor(t, 4*time.Minute, "both teams' alerts in Slack", func() bool {
		gotA, gotB = slack.to("#checkout-alerts"), slack.to("#search-alerts")
		return has(gotA, "KubeDeploymentReplicasMismatch") != nil && has(gotB, "SearchServing") != nil
	})
	if m := has(gotA, "KubeDeploymentReplicasMismatch"); m != nil {
		for _, want := range []string{"KubeDeploymentReplicasMismatch", "deployment/checkout", "*Cluster:* local", "*Namespace:* " + nsA, "*Severity:* warning",
			alerts.RunbookBase + "KubeDeploymentReplicasMismatch", "kube status --app checkout -n " + nsA + " -c local",
			// The console's link, from the external label the platform sets on Prometheus.
			"<https://console.example.com/clusters/local/namespaces/" + nsA + "/apps/checkout|Open in the console>"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("#checkout-alerts message lacks %q:\n%s", want, m.Text)
			}
		}
	}
	for _, m := range gotA {
		if strings.Contains(m.Text, "SearchServing") || strings.Contains(m.Text, nsB) {
			t.Errorf("search's alert reached #checkout-alerts:\n%s", m.Text)
		}
		if m.Auth != "Bearer xoxb-e2e" {
			t.Errorf("Alertmanager sent Authorization %q, want the Slack app's token from the Secret", m.Auth)
		}
	}
	for _, m := range gotB {
		if !strings.Contains(m.Text, "SearchServing") || strings.Contains(m.Text, "checkout") {
			t.Errorf("#search-alerts received something else than its own alert:\n%s", m.Text)
		}
	}

	// kube alerts, through the registry's URLs.
	reg := filepath.Join(work, "clusters.yaml")
	_ = os.WriteFile(reg, fmt.Appendf(nil, "clusters:\n- name: local\n  prometheus: http://127.0.0.1:%d\n  alertmanager: http://127.0.0.1:%d\n", promPort, amPort), 0o644)
	renv := []string{"KUBE_REGISTRY=" + reg}
	args := func(a ...string) []string { return append(a, "-c", "local", "--app", "checkout", "-n", nsA) }
	if r := kube(t, renv, args("alerts")...); r.code != 0 || !regexpMatch(`KubeDeploymentReplicasMismatch\s+platform\s+warning\s+firing \(1\)`, r.stdout) {
		t.Errorf("kube alerts: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := kube(t, renv, args("alerts", "route", "KubeDeploymentReplicasMismatch")...); r.code != 0 || !strings.Contains(r.stdout, "goes to #checkout-alerts") {
		t.Errorf("kube alerts route: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := kube(t, renv, args("alerts", "silence", "KubeDeploymentReplicasMismatch", "--for", "1h")...); r.code != 2 || !strings.Contains(r.stderr, "--reason is required") {
		t.Errorf("a silence without a reason: exit %d %s", r.code, r.stderr)
	}
	if r := kube(t, renv, args("alerts", "silence", "KubeDeploymentReplicasMismatch", "--for", "1h", "--reason", "e2e: capacity")...); r.code != 0 {
		t.Fatalf("kube alerts silence: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, time.Minute, "the alert suppressed by the silence", func() bool {
		r := kube(t, renv, args("alerts", "firing", "-o", "json")...)
		return r.code == 0 && strings.Contains(r.stdout, `"state": "suppressed"`) && strings.Contains(r.stdout, "e2e: capacity")
	})
	if r := kube(t, renv, args("alerts", "unsilence", "KubeDeploymentReplicasMismatch")...); r.code != 0 || !strings.Contains(r.stdout, "Ended 1 silence") {
		t.Errorf("kube alerts unsilence: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The catalogue's evaluation time on the sandbox, for the record.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=%s", promPort, "sum(prometheus_rule_group_last_duration_seconds%7Brule_group%3D~%22.*kube-platform.*%22%7D)"))
	if err == nil {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("catalogue rule evaluation time (sum of its groups' last evaluation, seconds): %s", data)
	}
}

func kubeIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	wd, _ := os.Getwd()
	abs := kubeBin
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(wd, abs)
	}
	cmd := exec.Command(abs, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kube %v: %v", args, err)
	}
	return r
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(time.Second)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func writeApp(t *testing.T, work, name, specText string) {
	t.Helper()
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kube-generate.yaml"), []byte(specText), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startOperator runs prometheus-operator on this machine against the
// sandbox, watching the namespaces.
func startOperator(t *testing.T, env *testcluster.Env, opBin, work string, namespaces ...string) {
	t.Helper()
	tls := env.Config.TLSClientConfig
	for _, f := range []struct {
		file *string
		data []byte
		name string
	}{{&tls.CAFile, tls.CAData, "ca.crt"}, {&tls.CertFile, tls.CertData, "client.crt"}, {&tls.KeyFile, tls.KeyData, "client.key"}} {
		if len(f.data) > 0 {
			*f.file = filepath.Join(work, f.name)
			_ = os.WriteFile(*f.file, f.data, 0o600)
		}
	}
	startLogged(t, exec.Command(opBin, "-apiserver", env.Config.Host, "-ca-file", tls.CAFile, "-cert-file", tls.CertFile, "-key-file", tls.KeyFile,
		"-namespaces", strings.Join(namespaces, ","), fmt.Sprintf("-web.listen-address=127.0.0.1:%d", testsupport.FreePort(t))),
		"prometheus-operator", filepath.Join(work, "operator.log"))
}
