package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/slo"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
)

// The servicex example service (examples/orders) gets a load of which half
// hits its /panic route (a 500); the real Prometheus scrapes it and evaluates the rules kube generate wrote for a
// 99.99% availability SLO. kube slo shows the month's budget shrinking, then
// spent, and the page alert fires. The freeze policy then refuses a deploy,
// lets one through with --override-budget (recorded in the revision) and
// never blocks kube rollback.
func TestSLOBudgetShrinksUnderErrors(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace + "-shop"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tool := func(name string) string {
		bin, err := sandbox.EnsureTestTool(ctx, &progress.Reporter{Out: os.Stderr}, name)
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	promBin, opBin := tool("prometheus"), tool("prometheus-operator")
	work := t.TempDir()
	port, metricsPort, promPort := testsupport.FreePort(t), testsupport.FreePort(t), testsupport.FreePort(t)
	reg := filepath.Join(work, "clusters.yaml")
	_ = os.WriteFile(reg, fmt.Appendf(nil, "clusters:\n- name: local\n  prometheus: http://127.0.0.1:%d\n", promPort), 0o644)
	renv := []string{"KUBE_REGISTRY=" + reg}
	t.Setenv("KUBE_REGISTRY", reg) // kubeIn's kube reads Prometheus's URL from it

	writeApp(t, work, "shop", `app: shop
namespace: `+ns+`
generates:
- namespace: {clusters: [sandbox]}
- web:
    clusters: [sandbox]
    image: registry.example.com/shop
    tag: "1"
    servicex: true
- slo:
    clusters: [sandbox]
    policy: freeze
    objectives:
    - name: availability
      objective: 99.99
`)
	if r := kubeIn(t, filepath.Join(work, "shop"), "generate", "--update"); r.code != 0 {
		t.Fatalf("kube generate: %s%s", r.stdout, r.stderr)
	}
	// The first deploy: Prometheus does not answer yet, which kube says and
	// does not let block the deploy.
	dir := filepath.Join(work, "shop")
	t.Cleanup(func() { _ = env.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	deployArgs := []string{"deploy", "-c", "local", "--yes", "--timeout", "0"}
	if r := kubeIn(t, dir, deployArgs...); r.code != 0 || !strings.Contains(r.stderr, "the error budget policy (freeze) was not checked, deploying anyway") {
		t.Fatalf("the first deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The platform's Prometheus object, and prometheus-operator turning the
	// app's PrometheusRule into a rule file (with the namespace enforced).
	for _, o := range (alerts.Platform{Namespace: env.Namespace, Cluster: "local"}).Objects() {
		if o.GetKind() != "Prometheus" {
			continue
		}
		gvr := schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}
		if _, err := env.Dynamic.Resource(gvr).Namespace(env.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	startOperator(t, env, opBin, work, env.Namespace, ns)
	rulesDir := filepath.Join(work, "rules")
	_ = os.MkdirAll(rulesDir, 0o755)
	waitFor(t, 2*time.Minute, "the operator's rule file of the app", func() bool {
		cm, err := env.Kube.CoreV1().ConfigMaps(env.Namespace).Get(ctx, "prometheus-kube-rulefiles-0", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for name, content := range cm.Data {
			if strings.HasPrefix(name, ns+"-") {
				// The groups' interval goes from 1m to 2s so that the test
				// takes a minute; kube slo counts each evaluation as a
				// minute, so the budget goes 30x faster.
				_ = os.WriteFile(filepath.Join(rulesDir, name), []byte(strings.ReplaceAll(content, "interval: 1m", "interval: 2s")), 0o644)
				return true
			}
		}
		return false
	})

	// The example service, as kube generate runs it: process "shop" of the
	// namespace, configured by the environment servicex reads.
	orders := filepath.Join(work, "orders")
	build := exec.Command("go", "build", "-o", orders, ".")
	build.Dir = filepath.Join("..", "..", "examples", "orders")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/orders: %v\n%s", err, out)
	}
	svc := exec.Command(orders)
	svc.Env = append(os.Environ(), "SERVICEX_SERVICE=shop", "SERVICEX_NAMESPACE="+ns,
		fmt.Sprintf("SERVICEX_PORT=%d", port), fmt.Sprintf("SERVICEX_METRICS_PORT=%d", metricsPort))
	startLogged(t, svc, "orders", filepath.Join(work, "orders.log"))
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			path := "/orders/1"
			if i%2 == 1 {
				path = "/panic"
			}
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path)); err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// prometheus-operator would name the PodMonitor's job shop/shop and add
	// the namespace label; a static scrape configuration does the same.
	promFile := filepath.Join(work, "prometheus.yaml")
	_ = os.WriteFile(promFile, fmt.Appendf(nil, `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
- job_name: %s/shop
  static_configs: [{targets: ["127.0.0.1:%d"], labels: {namespace: %s}}]
`, filepath.Join(rulesDir, "*.yaml"), ns, metricsPort, ns), 0o644)
	startLogged(t, exec.Command(promBin, "--config.file", promFile, "--storage.tsdb.path", filepath.Join(work, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort)), "prometheus", filepath.Join(work, "prometheus.log"))

	// status is kube slo's report, empty until Prometheus answers with data.
	var last result
	status := func() slo.Status {
		last = kube(t, renv, "slo", "-c", "local", "--app", "shop", "-n", ns, "-o", "json")
		var ss []slo.Status
		if last.code != 0 || json.Unmarshal([]byte(last.stdout), &ss) != nil || len(ss) != 1 {
			return slo.Status{}
		}
		return ss[0]
	}
	defer func() {
		if t.Failed() {
			t.Logf("last kube slo: exit %d\n%s%s", last.code, last.stdout, last.stderr)
		}
	}()

	var first slo.Status
	waitFor(t, 2*time.Minute, "kube slo to show consumed budget", func() bool {
		first = status()
		return first.SLI != nil && first.ConsumedMinutes > 0
	})
	// The namespace label comes from the operator's enforcement.
	if first.Namespace != ns || first.Objective != "99.99" || first.Window != "30d" || *first.SLI > 99 || first.BurnRates["5m"] < 100 {
		t.Errorf("status at half errors: %+v (SLI %v)", first, *first.SLI)
	}
	waitFor(t, time.Minute, "the budget to shrink", func() bool {
		s := status()
		return s.ConsumedMinutes > first.ConsumedMinutes && s.RemainingMinutes < first.RemainingMinutes
	})
	// The budget is the calendar month's: 0.01% of its minutes (4.3 in a 30-day
	// month, 4.5 in a 31-day one), whatever day the test runs.
	month, err := time.Parse("2006-01", first.Month)
	if err != nil {
		t.Fatalf("month %q: %v", first.Month, err)
	}
	wantBudget := 0.0001 * month.AddDate(0, 1, 0).Sub(month).Minutes()
	if math.Abs(first.BudgetMinutes-wantBudget) > 1e-9 {
		t.Errorf("budget of %s: %v min, want %v", first.Month, first.BudgetMinutes, wantBudget)
	}
	waitFor(t, 2*time.Minute, "the budget to be spent", func() bool { return status().Spent() })
	budgetColumn := regexp.QuoteMeta(fmt.Sprintf("%.1f min", wantBudget))
	if r := kube(t, renv, "slo", "-c", "local", "--app", "shop", "-n", ns); r.code != 0 || !regexpMatch(`shop\s+availability\s+99\.99% / 30d\s+\d+\.\d+% / \d+\.\d+%\s+`+budgetColumn+`\s+.*SPENT`, r.stdout) {
		t.Errorf("kube slo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("kube slo:\n%s", kube(t, renv, "slo", "-c", "local", "--app", "shop", "-n", ns).stdout)
	if r := kube(t, renv, "slo", "-c", "local", "--all"); r.code != 0 || !regexpMatch(`(?m)^shop\s+availability\s+99\.99% / 30d`, r.stdout) {
		t.Errorf("kube slo --all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, time.Minute, "the page alert to fire in Prometheus", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/alerts", promPort))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `"alertname":"`+slo.AlertPage+`"`) && strings.Contains(string(body), `"state":"firing"`)
	})

	// The console's app page shows the same: the spent budget and the page
	// alert, read from the registry's Prometheus.
	consoleURL := startConsole(t, "-c", "local")
	resp, err := http.Get(consoleURL + "/clusters/local/namespaces/" + ns + "/apps/shop")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<tr data-slo="availability">`, "99.99% / 30d", ">SPENT<", `<tr data-alert="` + slo.AlertPage + `">`, `class="bad">firing<`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the console's page of shop lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("console page:\n%s", page)
	}

	// The release policy, now that the budget is spent. Each deploy waits
	// for nothing: the budget matters, not the pods.
	if r := kubeIn(t, dir, deployArgs...); r.code != 1 || !strings.Contains(r.stderr, "Release frozen: the error budget of availability") {
		t.Fatalf("a deploy with the budget spent: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, reason := range []string{"INC-7: the fix for the 500s", "INC-7: second try"} {
		args := append(deployArgs, "--override-budget", reason, "--image", fmt.Sprintf("registry.example.com/shop=registry.example.com/shop:fix-%d", i))
		if r := kubeIn(t, dir, args...); r.code != 0 || !strings.Contains(r.stderr, "deploying on override: "+reason) {
			t.Fatalf("a deploy on override: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	if r := kubeIn(t, dir, "history", "-c", "local"); !strings.Contains(r.stdout, "overriding the spent error budget of availability: INC-7: the fix for the 500s") {
		t.Errorf("kube history does not show the override's reason:\n%s%s", r.stdout, r.stderr)
	}
	if r := kubeIn(t, dir, "rollback", "-c", "local", "--yes", "--timeout", "0"); r.code != 0 {
		t.Errorf("kube rollback with the budget spent: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
