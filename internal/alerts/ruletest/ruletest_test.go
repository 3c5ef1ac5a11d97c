package ruletest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/alerts"
)

// A wrong expectation fails with what was expected and what fired.
func TestRunTestsReportsWhatFired(t *testing.T) {
	r := alerts.Rule{Alert: "Up", Expr: `up == 0`, For: "2m", Severity: "warning", Summary: "down", Runbook: "https://x"}
	in := []Series{{`up{job="api"}`, "1 1 0 0 0 0 0"}}
	fails := Run(context.Background(), []alerts.Rule{r}, []Test{
		{Input: in, Alerts: []AlertCheck{{At: "5m", Alert: "Up"}}},
		{Input: in, Alerts: []AlertCheck{{At: "3m", Alert: "Up", Expect: []ExpectedAlert{{Labels: map[string]string{"job": "api", "severity": "warning"}}}}}},
		{Input: in, Alerts: []AlertCheck{{At: "5m", Alert: "Down"}, {At: "soon", Alert: "Up"}}},
		{Input: []Series{{`up{`, "1"}}},
	})
	want := []string{
		`alert Up at 5m:`, // nothing expected, one firing
		`alert Up at 3m:`, // pending, not firing yet
		`no rule is named "Down"`,
		`at "soon" is not a duration`,
		`input:`,
	}
	if len(fails) != len(want) {
		t.Fatalf("got %d failures, want %d: %v", len(fails), len(want), fails)
	}
	for i, f := range fails {
		if !strings.Contains(f.Msg, want[i]) {
			t.Errorf("failure %d = %q, want it to contain %q", i, f.Msg, want[i])
		}
	}
	if !strings.Contains(fails[0].Msg, `got:  {__name__="up"`) && !strings.Contains(fails[0].Msg, `alertname="Up"`) {
		t.Errorf("the failure does not show what fired: %s", fails[0].Msg)
	}
	// The same test with the right expectation passes.
	ok := Run(context.Background(), []alerts.Rule{r}, []Test{{Input: in, Alerts: []AlertCheck{{At: "5m", Alert: "Up", Expect: []ExpectedAlert{{Labels: map[string]string{"job": "api", "severity": "warning"}}}}}}})
	if len(ok) != 0 {
		t.Errorf("a right expectation failed: %v", ok)
	}
}

// The in-memory storage behaves as promtool's TSDB where tests can tell:
// omitted samples, native histograms, a series given twice, rules that read
// the ALERTS series other rules write, and annotations expanded when named.
func TestRunTestsStorage(t *testing.T) {
	expect := func(at, alert string, l map[string]string, ann map[string]string) AlertCheck {
		return AlertCheck{At: at, Alert: alert, Expect: []ExpectedAlert{{Labels: l, Annotations: ann}}}
	}
	rs := []alerts.Rule{
		{Alert: "Gap", Expr: `absent_over_time(up[2m])`, Severity: "info", Summary: "s", Runbook: "https://x"},
		{Alert: "Slow", Expr: `histogram_quantile(0.9, rate(lat[5m])) > 1`, Severity: "warning", Summary: `p90 {{ $value | printf "%.1f" }}`, Runbook: "https://x"},
		{Alert: "Meta", Expr: `ALERTS{alertname="Slow", alertstate="firing"}`, Severity: "info", Summary: "s", Runbook: "https://x"},
	}
	slow := []Series{{`lat`, `{{schema:0 sum:0 count:0 buckets:[0 0]}}+{{schema:0 sum:20 count:10 buckets:[0 0 10]}}x10`}}
	fails := Run(context.Background(), rs, []Test{
		{Input: []Series{{`up`, "1 1 _ _ _ _ 1"}}, Alerts: []AlertCheck{
			{At: "2m", Alert: "Gap"},
			expect("4m", "Gap", map[string]string{"severity": "info"}, nil),
			{At: "6m", Alert: "Gap"},
		}},
		{Input: slow, Alerts: []AlertCheck{
			expect("5m", "Slow", map[string]string{"severity": "warning"}, map[string]string{"summary": "p90 3.7"}),
			expect("6m", "Meta", map[string]string{"alertstate": "firing", "severity": "info"}, nil),
		}},
		{Input: []Series{{`up`, "1 1"}, {`up`, "1 1"}}, Alerts: []AlertCheck{{At: "1m", Alert: "Gap"}}},
	})
	if len(fails) != 1 || fails[0].Test != 2 || !strings.Contains(fails[0].Msg, "out of order") {
		t.Fatalf("want only the duplicated series to fail, got %v", fails)
	}
}

// A test cannot make kube generate allocate or evaluate without bound.
func TestRunTestsBounds(t *testing.T) {
	r := alerts.Rule{Alert: "Up", Expr: `up == 0`, Severity: "warning", Summary: "down", Runbook: "https://x"}
	fails := Run(context.Background(), []alerts.Rule{r}, []Test{
		{Input: []Series{{`up`, "0+0x100000000"}}, Alerts: []AlertCheck{{At: "1m", Alert: "Up"}}},
		{Input: []Series{{`up`, "1 1 _x99999999999999999999"}}, Alerts: []AlertCheck{{At: "1m", Alert: "Up"}}},
		{Interval: "1s", Input: []Series{{`up`, "1"}}, Alerts: []AlertCheck{{At: "1000h", Alert: "Up"}}},
		{Input: []Series{{`up`, "0+0x1000"}}, Alerts: []AlertCheck{{At: "1000m", Alert: "Up", Expect: []ExpectedAlert{{Labels: map[string]string{"severity": "warning"}}}}}},
	})
	if len(fails) != 3 || !strings.Contains(fails[0].Msg, "samples, more than") || !strings.Contains(fails[1].Msg, "samples, more than") || !strings.Contains(fails[2].Msg, "3600000 evaluations") {
		t.Fatalf("want the first three tests refused and the fourth to pass, got %v", fails)
	}
}

// Labels as Prometheus applies them: templates expanded, the rule's labels
// over the series', and two series that become one alert refused.
func TestRunTestsLabels(t *testing.T) {
	r := alerts.Rule{Alert: "Down", Expr: `up == 0`, Severity: "warning", Summary: "s", Runbook: "https://x", Labels: map[string]string{"owner": "{{ $labels.job }}-team"}}
	ok := Run(context.Background(), []alerts.Rule{r}, []Test{{Input: []Series{{Series: `up{job="api", severity="page"}`, Values: "0 0"}},
		Alerts: []AlertCheck{{At: "1m", Alert: "Down", Expect: []ExpectedAlert{{Labels: map[string]string{"job": "api", "owner": "api-team", "severity": "warning"}}}}}}})
	if len(ok) != 0 {
		t.Errorf("templated and overriding labels: %v", ok)
	}
	fails := Run(context.Background(), []alerts.Rule{r}, []Test{{Input: []Series{{Series: `up{job="api", severity="a"}`, Values: "0 0"}, {Series: `up{job="api", severity="b"}`, Values: "0 0"}},
		Alerts: []AlertCheck{{At: "1m", Alert: "Down"}}}})
	if len(fails) != 1 || !strings.Contains(fails[0].Msg, "same labelset after applying alert labels") {
		t.Errorf("two series, one alert: %v", fails)
	}
}

// A dense subquery within the input and step limits is refused by the
// per-query sample bound instead of loading gigabytes; an ended context (the
// repository's budget, a signal) stops the tests with a message saying why.
func TestRunTestsStopAtTheirBounds(t *testing.T) {
	// 100 series seen every millisecond: 6 million samples in the evaluation
	// at 1m, within the former bound of 50 million (a subquery's samples grow
	// with its range over its step, not with the input).
	dense := alerts.Rule{Alert: "Dense", Expr: `sum_over_time(up[2m:1ms]) > 0`, Severity: "warning", Summary: "s", Runbook: "https://x"}
	var input []Series
	for i := range 100 {
		input = append(input, Series{fmt.Sprintf(`up{i="%d"}`, i), "1+0x10"})
	}
	fails := Run(context.Background(), []alerts.Rule{dense}, []Test{{Input: input, Alerts: []AlertCheck{{At: "10m", Alert: "Dense"}}}})
	if len(fails) != 1 || !strings.Contains(fails[0].Msg, "too many samples") {
		t.Fatalf("dense subquery: %v", fails)
	}

	r := alerts.Rule{Alert: "Up", Expr: `up == 0`, Severity: "warning", Summary: "down", Runbook: "https://x"}
	test := Test{Input: []Series{{`up`, "0+0x100"}}, Alerts: []AlertCheck{{At: "100m", Alert: "Up"}}}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrEvaluationBudget)
	fails = Run(ctx, []alerts.Rule{r}, []Test{test, test})
	if len(fails) != 1 || fails[0].Test != 0 || !strings.Contains(fails[0].Msg, "ran out of the 30s every test of a repository may take together") {
		t.Fatalf("budget: %v", fails)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt"))
	if fails = Run(ctx, []alerts.Rule{r}, []Test{test}); len(fails) != 1 || fails[0].Msg != "stopped: interrupt" {
		t.Fatalf("signal: %v", fails)
	}
}

func catalogueRule(t *testing.T, name string) alerts.Rule {
	t.Helper()
	for _, g := range alerts.Catalogue() {
		for _, r := range g.Rules {
			if r.Alert == name {
				return r
			}
		}
	}
	t.Fatalf("no catalogue rule %s", name)
	return alerts.Rule{}
}

// The catalogue's semantics, tested as promtool test rules would.
func TestCatalogueRules(t *testing.T) {
	cases := []struct {
		name  string
		rule  string
		tests []Test
	}{
		{"a crash loop fires after 15 minutes, not before", "KubePodCrashLooping", []Test{{
			Input: []Series{{`kube_pod_container_status_waiting_reason{namespace="shop", pod="api-1", container="api", reason="CrashLoopBackOff"}`, "1x30"}},
			Alerts: []AlertCheck{
				{At: "10m", Alert: "KubePodCrashLooping"},
				{At: "20m", Alert: "KubePodCrashLooping", Expect: []ExpectedAlert{{
					Labels:      map[string]string{"namespace": "shop", "pod": "api-1", "container": "api", "reason": "CrashLoopBackOff", "severity": "warning"},
					Annotations: map[string]string{"summary": "Container api of pod shop/api-1 is crash-looping"}}}},
			},
		}}},
		{"a Deployment short of replicas with no rollout moving fires", "KubeDeploymentReplicasMismatch", []Test{{
			Input: []Series{
				{`kube_deployment_spec_replicas{namespace="shop", deployment="api"}`, "3x40"},
				{`kube_deployment_status_replicas_available{namespace="shop", deployment="api"}`, "1x40"},
				{`kube_deployment_status_replicas_updated{namespace="shop", deployment="api"}`, "3x40"},
			},
			Alerts: []AlertCheck{
				{At: "10m", Alert: "KubeDeploymentReplicasMismatch"},
				{At: "20m", Alert: "KubeDeploymentReplicasMismatch", Expect: []ExpectedAlert{{
					Labels: map[string]string{"namespace": "shop", "deployment": "api", "severity": "warning"}}}},
			},
		}}},
		{"a rollout that keeps moving does not fire", "KubeDeploymentReplicasMismatch", []Test{{
			Input: []Series{
				{`kube_deployment_spec_replicas{namespace="shop", deployment="api"}`, "3x40"},
				{`kube_deployment_status_replicas_available{namespace="shop", deployment="api"}`, "1x40"},
				{`kube_deployment_status_replicas_updated{namespace="shop", deployment="api"}`, "0+1x40"},
			},
			Alerts: []AlertCheck{{At: "35m", Alert: "KubeDeploymentReplicasMismatch"}},
		}}},
		{"a failed Job fires, a failed run of a CronJob does not (the notifier reports it)", "KubeJobFailed", []Test{{
			Input: []Series{
				{`kube_job_failed{namespace="shop", job_name="migrate", condition="true"}`, "1x5"},
				{`kube_job_owner{namespace="shop", job_name="migrate", owner_kind="<none>", owner_name="<none>"}`, "1x5"},
				{`kube_job_failed{namespace="shop", job_name="nightly-29000", condition="true"}`, "1x5"},
				{`kube_job_owner{namespace="shop", job_name="nightly-29000", owner_kind="CronJob", owner_name="nightly"}`, "1x5"},
			},
			Alerts: []AlertCheck{{At: "2m", Alert: "KubeJobFailed", Expect: []ExpectedAlert{{
				Labels: map[string]string{"namespace": "shop", "job_name": "migrate", "condition": "true", "severity": "warning"}}}}},
		}}},
		{"10% of 5xx for 10 minutes pages", "HTTPHighErrorRatio", []Test{{
			Input: []Series{
				{`http_server_request_duration_seconds_count{namespace="shop", job="shop/api", http_response_status_code="200"}`, "0+90x30"},
				{`http_server_request_duration_seconds_count{namespace="shop", job="shop/api", http_response_status_code="503"}`, "0+10x30"},
			},
			Alerts: []AlertCheck{
				{At: "8m", Alert: "HTTPHighErrorRatio"},
				{At: "20m", Alert: "HTTPHighErrorRatio", Expect: []ExpectedAlert{{
					Labels:      map[string]string{"namespace": "shop", "job": "shop/api", "severity": "critical"},
					Annotations: map[string]string{"summary": "shop/api answers 10% of requests with 5xx"}}}},
			},
		}}},
		{"CPU throttling is informational", "CPUThrottlingHigh", []Test{{
			Input: []Series{
				{`container_cpu_cfs_throttled_periods_total{namespace="shop", pod="api-1", container="api"}`, "0+50x30"},
				{`container_cpu_cfs_periods_total{namespace="shop", pod="api-1", container="api"}`, "0+100x30"},
			},
			Alerts: []AlertCheck{{At: "25m", Alert: "CPUThrottlingHigh", Expect: []ExpectedAlert{{
				Labels: map[string]string{"namespace": "shop", "pod": "api-1", "container": "api", "severity": "info"}}}}},
		}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range Run(context.Background(), []alerts.Rule{catalogueRule(t, c.rule)}, c.tests) {
				t.Error(f.Msg)
			}
		})
	}
}
