package upgrade

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/testsupport"
)

// Offline, Run checks the apps' manifests of the cluster named (of every
// cluster when none is) and the add-ons, each finding placed: file:line:column
// in manifests, the template in a chart; a chart that excludes the target is a
// finding, not the end of the check.
func TestRunOffline(t *testing.T) {
	dir := t.TempDir()
	testsupport.WriteFiles(t, dir, map[string]string{
		"shop/kubernetes/qa/psp.yaml":    "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\n",
		"shop/kubernetes/prod/cron.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly}\n",
		"platform/clusters/qa/addons.yaml": "releases:\n" +
			"- {name: legacy, namespace: legacy, chart: ../../manifests/legacy}\n" +
			"- {name: demo, namespace: demo, chart: ../../charts/demo}\n",
		"platform/manifests/legacy/api.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy}\n---\napiVersion: apiregistration.k8s.io/v1beta1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\n",
		"platform/charts/demo/Chart.yaml":         "apiVersion: v2\nname: demo\nversion: 1.0.0\nkubeVersion: \"<1.30.0-0\"\n",
		"platform/charts/demo/templates/psp.yaml": "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: demo}\n",
		"platform/charts/demo/templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n",
	})
	f, err := addons.Load(filepath.Join(dir, "platform", "clusters", "qa", addons.FileName), filepath.Join(dir, "platform"))
	if err != nil {
		t.Fatal(err)
	}
	shop := filepath.Join(dir, "shop")
	places := func(rep *Report) string {
		var out []string
		for _, f := range rep.Findings {
			out = append(out, f.Source+" "+strings.TrimPrefix(f.Place(), dir+string(filepath.Separator))+" "+f.Object+" "+string(f.Status))
		}
		return strings.Join(out, "\n")
	}
	rep, err := Run(context.Background(), Version{1, 25}, Sources{Cluster: "qa", Repos: []string{shop}, Addons: f})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"app " + filepath.Join("shop", "kubernetes", "qa", "psp.yaml") + ":1:13 PodSecurityPolicy/restricted removed",
		"addon demo/templates/psp.yaml PodSecurityPolicy/demo removed",
		"addon " + filepath.Join("platform", "manifests", "legacy", "api.yaml") + ":5:13 APIService/v1beta1.metrics.k8s.io removed",
	}, "\n")
	if got := places(rep); got != want || !rep.Blocking() || !strings.Contains(strings.Join(rep.Notes, " "), "offline") {
		t.Fatalf("at 1.25:\n%s\nwant\n%s\nnotes %q", got, want, rep.Notes)
	}

	// At 1.32 the chart excludes the target: one more finding, still a report.
	rep, err = Run(context.Background(), Version{1, 32}, Sources{Cluster: "qa", Repos: []string{shop}, Addons: f})
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Findings[len(rep.Findings)-1]
	if len(rep.Findings) != 4 || last.Source != SourceChart || last.Where != "demo" || !strings.Contains(last.Detail, "does not support Kubernetes 1.32") {
		t.Fatalf("at 1.32, want the chart's constraint last: %+v", rep.Findings)
	}

	// No cluster named: every cluster's manifests.
	rep, err = Run(context.Background(), Version{1, 25}, Sources{Repos: []string{shop}})
	if err != nil {
		t.Fatal(err)
	}
	want = strings.Join([]string{
		"app " + filepath.Join("shop", "kubernetes", "prod", "cron.yaml") + ":5:13 CronJob/nightly removed",
		"app " + filepath.Join("shop", "kubernetes", "qa", "psp.yaml") + ":1:13 PodSecurityPolicy/restricted removed",
	}, "\n")
	if got := places(rep); got != want {
		t.Fatalf("no cluster:\n%s\nwant\n%s", got, want)
	}

	// A repository without the cluster's manifests is bad input.
	_, err = Run(context.Background(), Version{1, 25}, Sources{Cluster: "staging", Repos: []string{shop}})
	var in *exitstatus.BadInput
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "has no kubernetes/staging") {
		t.Fatalf("missing manifests: %v", err)
	}
}
