package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/upgrade"
)

// A chart repository with two add-ons that block an upgrade: one renders a
// HorizontalPodAutoscaler of autoscaling/v2beta2 (removed in 1.26), one
// declares kubeVersion <1.38.0-0.
func legacyCharts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hpa := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "legacy-hpa", Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/hpa.yaml", Data: []byte(`apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: {{ .Release.Name }}}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}, maxReplicas: 3}
`)}}}
	pinned := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "old-k8s", Version: "0.1.0", KubeVersion: "<1.38.0-0"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\n")}}}
	for _, c := range []*chart.Chart{hpa, pinned, demoChart("1.0.0")} {
		if _, err := chartutil.Save(c, dir); err != nil {
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
	return srv.URL
}

// kube upgrade check finds what the target removes in every source, with the
// replacement, and exits 1; a clean fleet exits 0.
func TestUpgradeCheck(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace

	// A client that still uses a deprecated API: it creates a ResourceClaim
	// through resource.k8s.io/v1beta2 (removed in 1.39) and reads its status.
	gv, err := schema.ParseGroupVersion(sandbox.DeprecatedAPI)
	if err != nil {
		t.Fatal(err)
	}
	claims := env.Dynamic.Resource(gv.WithResource("resourceclaims")).Namespace(ns)
	claim := &unstructured.Unstructured{Object: map[string]any{"apiVersion": sandbox.DeprecatedAPI, "kind": "ResourceClaim",
		"metadata": map[string]any{"name": "legacy-client", "labels": map[string]any{"team": "payments"}}, "spec": map[string]any{}}}
	if _, err := claims.Create(ctx, claim, metav1.CreateOptions{FieldManager: "legacy-client"}); err != nil {
		t.Fatal(err)
	}
	if _, err := claims.Get(ctx, "legacy-client", metav1.GetOptions{}, "status"); err != nil {
		t.Fatal(err)
	}

	url := legacyCharts(t)
	app := func(apiVersion, kind string) string {
		return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {name: web, namespace: shop}\nspec: {}\n", apiVersion, kind)
	}
	badApp := platformRepo(t, map[string]string{"kubernetes/sandbox/pdb.yaml": app("policy/v1beta1", "PodDisruptionBudget")})
	cleanApp := platformRepo(t, map[string]string{"kubernetes/sandbox/pdb.yaml": app("policy/v1", "PodDisruptionBudget")})
	addonsYAML := func(releases string) string {
		return fmt.Sprintf("repositories:\n- {name: charts, url: %s}\nreleases:\n%s", url, releases)
	}
	badPlatform := platformRepo(t, map[string]string{"clusters/local/addons.yaml": addonsYAML(
		"- {name: hpa, namespace: " + ns + ", chart: charts/legacy-hpa, version: 0.1.0}\n- {name: pinned, namespace: " + ns + ", chart: charts/old-k8s, version: 0.1.0}\n")})
	cleanPlatform := platformRepo(t, map[string]string{"clusters/local/addons.yaml": addonsYAML(
		"- {name: demo, namespace: " + ns + ", chart: charts/demo, version: 1.0.0}\n")})

	r := kubeIn(t, badPlatform, "upgrade", "check", "-c", "local", "--to", "v1.39", "-o", "json", badApp)
	var rep upgrade.Report
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("check of a fleet that uses removed APIs: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []struct{ source, where, object, api, replacement string }{
		{upgrade.SourceRequests, "", "resourceclaims/status", "resource.k8s.io/v1beta2 ResourceClaim", "resource.k8s.io/v1 ResourceClaim"},
		{upgrade.SourceLive, "", "ResourceClaim/legacy-client (" + ns + ")", "resource.k8s.io/v1beta2 ResourceClaim", "resource.k8s.io/v1 ResourceClaim"},
		{upgrade.SourceApp, badApp, "PodDisruptionBudget/web (shop)", "policy/v1beta1 PodDisruptionBudget", "policy/v1 PodDisruptionBudget"},
		{upgrade.SourceAddon, "hpa", "HorizontalPodAutoscaler/hpa", "autoscaling/v2beta2 HorizontalPodAutoscaler", "autoscaling/v2 HorizontalPodAutoscaler"},
		{upgrade.SourceChart, "pinned", "charts/old-k8s 0.1.0", "kubeVersion", ""},
	}
	for _, w := range want {
		found := false
		for _, f := range rep.Findings {
			if f.Source == w.source && f.Where == w.where && f.Object == w.object && f.API == w.api && f.Replacement == w.replacement && f.Status == upgrade.Removed {
				found = true
			}
		}
		if !found {
			t.Errorf("no finding %+v in\n%s", w, r.stdout)
		}
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "newer than kube's API data") {
		t.Errorf("1.39 is past kube's data (%s): the report must say so; notes %q", upgrade.DataVersion, rep.Notes)
	}

	// The same fleet fixed, checked for 1.38: the deprecated API the client
	// uses is a warning, not a blocker.
	r = kubeIn(t, cleanPlatform, "upgrade", "check", "-c", "local", "--to", "v1.38", cleanApp)
	if r.code != 0 || !strings.Contains(r.stdout, "DEPRECATED") || !strings.Contains(r.stderr, "Nothing blocks the upgrade") {
		t.Errorf("check of a clean fleet: exit %d, want 0 with the deprecated use as a warning\n%s%s", r.code, r.stdout, r.stderr)
	}
}
