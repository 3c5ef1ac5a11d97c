package upgrade

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DataVersion is the Kubernetes release of the k8s.io/api in go.mod.
func TestDataVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+k8s.io/api v0\.(\d+)\.`).FindSubmatch(mod)
	if m == nil || "1."+string(m[1]) != DataVersion.String() {
		t.Fatalf("DataVersion %s, go.mod has k8s.io/api %s", DataVersion, m)
	}
}

// Facts from Kubernetes' deprecation guide, read from k8s.io/api's metadata.
func TestLifecycle(t *testing.T) {
	d := Load()
	for _, c := range []struct {
		gvk         schema.GroupVersionKind
		at          Version
		want        Status
		release     Version
		replacement string
	}{
		{schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodDisruptionBudget"}, Version{1, 25}, Removed, Version{1, 25}, "policy/v1, Kind=PodDisruptionBudget"},
		{schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodDisruptionBudget"}, Version{1, 24}, Deprecated, Version{1, 21}, "policy/v1, Kind=PodDisruptionBudget"},
		{schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Ingress"}, Version{1, 22}, Removed, Version{1, 22}, "networking.k8s.io/v1, Kind=Ingress"},
		{schema.GroupVersionKind{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3", Kind: "FlowSchema"}, Version{1, 32}, Removed, Version{1, 32}, "flowcontrol.apiserver.k8s.io/v1, Kind=FlowSchema"},
		{schema.GroupVersionKind{Group: "resource.k8s.io", Version: "v1beta2", Kind: "ResourceClaim"}, Version{1, 39}, Removed, Version{1, 39}, "resource.k8s.io/v1, Kind=ResourceClaim"},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Version{1, 45}, Served, Version{}, ""},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1alpha1", Kind: "Widget"}, Version{1, 45}, Served, Version{}, ""},
		// Gone from k8s.io/api altogether: removed, with the group's stable kind.
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}, Version{1, 30}, UnknownRemove, Version{1, 0}, "autoscaling/v2, Kind=HorizontalPodAutoscaler"},
	} {
		st, api := d.Check(c.gvk, c.at)
		if st != c.want {
			t.Errorf("%s at %s: %q, want %q", c.gvk, c.at, st, c.want)
			continue
		}
		rel := api.Removed
		if st == Deprecated {
			rel = api.Deprecated
		}
		if st != Served && (rel != c.release || api.Replacement.String() != c.replacement) {
			t.Errorf("%s: release %s replacement %q, want %s %q", c.gvk, rel, api.Replacement, c.release, c.replacement)
		}
	}
}

func TestObjects(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": "web", "namespace": "shop"}}},
		{Object: map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": "ok"}}},
	}
	fs := Load().Objects(SourceApp, "repo", objs, Version{1, 30})
	if len(fs) != 1 || fs[0].Object != "PodDisruptionBudget/web (shop)" || fs[0].Replacement != "policy/v1 PodDisruptionBudget" || !fs[0].Blocks() {
		t.Fatalf("%+v", fs)
	}
}

// The API server's metric, as kube-apiserver 1.37 writes it.
func TestRequests(t *testing.T) {
	text := `# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been requested, broken out by API group, version, resource, subresource, and removed_release.
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="",removed_release="",resource="endpoints",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="resource.k8s.io",removed_release="1.39",resource="resourceclaims",subresource="status",version="v1beta2"} 1
`
	kinds := map[schema.GroupVersionResource]string{{Group: "resource.k8s.io", Version: "v1beta2", Resource: "resourceclaims"}: "ResourceClaim"}
	for _, c := range []struct {
		target   Version
		blocking int
	}{{Version{1, 38}, 0}, {Version{1, 39}, 1}} {
		fs, err := Load().Requests([]byte(text), c.target, kinds)
		if err != nil || len(fs) != 2 {
			t.Fatalf("%v %+v", err, fs)
		}
		n := 0
		for _, f := range fs {
			if f.Blocks() {
				n++
				if f.Object != "resourceclaims/status" || f.Replacement != "resource.k8s.io/v1 ResourceClaim" || f.Release != "1.39" {
					t.Errorf("%+v", f)
				}
			}
		}
		if n != c.blocking {
			t.Errorf("at %s: %d blocking, want %d: %+v", c.target, n, c.blocking, fs)
		}
	}
	if _, err := Load().Requests([]byte("not { metrics"), Version{1, 39}, nil); err == nil {
		t.Error("garbage metrics accepted")
	}
}

func TestNewReportPastData(t *testing.T) {
	if r := NewReport(DataVersion); len(r.Notes) != 0 {
		t.Errorf("notes for the data's own version: %q", r.Notes)
	}
	next := Version{DataVersion.Major, DataVersion.Minor + 1}
	if r := NewReport(next); len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "newer than kube's API data") {
		t.Errorf("no note past the data: %q", r.Notes)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v1.38", "1.38", "v1.38.2", "v2.0", "1", "v1.038", "v1.-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		again, err := ParseVersion(v.String())
		if err != nil || again != v || v.Major != 1 {
			t.Fatalf("%q -> %v -> %v %v", s, v, again, err)
		}
	})
}
