package upgrade

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
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
		// Gone from k8s.io/api altogether: the guide's release, still served before it.
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}, Version{1, 30}, Removed, Version{1, 26}, "autoscaling/v2, Kind=HorizontalPodAutoscaler"},
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}, Version{1, 25}, Deprecated, Version{1, 23}, "autoscaling/v2, Kind=HorizontalPodAutoscaler"},
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta1", Kind: "HorizontalPodAutoscaler"}, Version{1, 22}, Deprecated, Version{1, 22}, "autoscaling/v2, Kind=HorizontalPodAutoscaler"},
		// A kind gone while its group/version lives on; a group outside k8s.io/api.
		{schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodSecurityPolicy"}, Version{1, 25}, Removed, Version{1, 25}, ""},
		{schema.GroupVersionKind{Group: "apps", Version: "v1beta1", Kind: "ReplicaSet"}, Version{1, 16}, Removed, Version{1, 16}, "apps/v1, Kind=ReplicaSet"},
		{schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1beta1", Kind: "APIService"}, Version{1, 22}, Removed, Version{1, 22}, "apiregistration.k8s.io/v1, Kind=APIService"},
		// Replacements: the kind itself, by version priority, served at the target.
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1beta1", Kind: "IngressClass"}, Version{1, 22}, Removed, Version{1, 22}, "networking.k8s.io/v1, Kind=IngressClass"},
		{schema.GroupVersionKind{Group: "node.k8s.io", Version: "v1beta1", Kind: "RuntimeClass"}, Version{1, 25}, Removed, Version{1, 25}, "node.k8s.io/v1, Kind=RuntimeClass"},
		{schema.GroupVersionKind{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta2", Kind: "FlowSchema"}, Version{1, 32}, Removed, Version{1, 29}, "flowcontrol.apiserver.k8s.io/v1, Kind=FlowSchema"},
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
		replacement := api.Replacement.String()
		if api.Replacement.Empty() {
			replacement = ""
		}
		if st != Served && (rel != c.release || replacement != c.replacement) {
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

// Every removal of the migration guide (guide.go), checked at the release
// before, at and after it: removed exactly from its release on, with a
// replacement that is served where the user goes.
func TestGuideRemovals(t *testing.T) {
	d := Load()
	for _, r := range guide {
		gv, err := schema.ParseGroupVersion(r.gv)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range r.kinds {
			gvk := gv.WithKind(k)
			before, after := Version{1, r.removed.Minor - 1}, Version{1, r.removed.Minor + 1}
			if st, _ := d.Check(gvk, before); st == Removed || st == UnknownRemove {
				t.Errorf("%s at %s: %q, want served or deprecated", gvk, before, st)
			}
			for _, at := range []Version{r.removed, after, DataVersion} {
				st, api := d.Check(gvk, at)
				if st != Removed || api.Removed != r.removed {
					t.Errorf("%s at %s: %q (removed in %s), want removed in %s", gvk, at, st, api.Removed, r.removed)
					continue
				}
				if r.replacement == "" || api.Replacement.Empty() {
					// No kind replaces it there (PodSecurityPolicy): the note says what to do.
					if api.Note == "" {
						t.Errorf("%s at %s: no replacement and no note", gvk, at)
					}
					continue
				}
				if api.Replacement.Kind != k || strings.HasSuffix(api.Replacement.Kind, "List") {
					t.Errorf("%s: replacement %s is another kind", gvk, api.Replacement)
				}
				if rs, _ := d.Check(api.Replacement, at); rs == Removed || rs == UnknownRemove {
					t.Errorf("%s at %s: replacement %s is not served there", gvk, at, api.Replacement)
				}
			}
		}
	}
	// Current APIs and custom resources are never flagged.
	for _, gvk := range []schema.GroupVersionKind{{Group: "apps", Version: "v1", Kind: "Deployment"}, {Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
		{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}, {Group: "example.com", Version: "v1beta1", Kind: "PodSecurityPolicy"}, {Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}} {
		if st, _ := d.Check(gvk, DataVersion); st != Served {
			t.Errorf("%s: %q, want served", gvk, st)
		}
	}
}

// Where k8s.io/api's metadata and the guide both speak, they agree on the
// release of removal.
func TestGuideAgreesWithK8sAPI(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	checked := 0
	for gvk, api := range guideAPIs() {
		typ, ok := s.AllKnownTypes()[gvk]
		if !ok {
			continue
		}
		l, ok := reflect.New(typ).Interface().(lifecycle)
		if !ok {
			continue
		}
		checked++
		if got := version(l.APILifecycleRemoved()); got != api.Removed {
			t.Errorf("%s: k8s.io/api says removed in %s, the guide %s", gvk, got, api.Removed)
		}
	}
	if checked < 10 {
		t.Errorf("only %d rows checked against k8s.io/api", checked)
	}
}

// A repository whose only problem is a PodSecurityPolicy is blocked, and the
// finding says what to do instead.
func TestPodSecurityPolicyBlocks(t *testing.T) {
	objs := []*unstructured.Unstructured{{Object: map[string]any{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": map[string]any{"name": "restricted"}}}}
	fs := Load().Objects(SourceApp, "repo", objs, Version{1, 25})
	if len(fs) != 1 || !fs[0].Blocks() || fs[0].Release != "1.25" || !strings.Contains(fs[0].Detail, "Pod Security Admission") {
		t.Fatalf("%+v", fs)
	}
	if fs := Load().Objects(SourceApp, "repo", objs, Version{1, 24}); len(fs) != 1 || fs[0].Blocks() {
		t.Fatalf("at 1.24 it is served, deprecated: %+v", fs)
	}
}

// A chart whose kubeVersion excludes the target is a finding (Helm's own
// constraint check), not the end of the check.
func TestChartSupport(t *testing.T) {
	f, ok := ChartSupport("ingress", "charts/ingress", "4.0.0", ">=1.28.0-0 <1.32.0-0", Version{1, 32}, "4.2.0")
	if !ok || !f.Blocks() || f.Source != SourceChart || !strings.Contains(f.Detail, "does not support Kubernetes 1.32") || !strings.Contains(f.Detail, "newest version that does is 4.2.0") {
		t.Fatalf("%+v %v", f, ok)
	}
	for _, c := range []string{"", ">=1.28.0-0 <1.33.0-0", ">= 1.20"} {
		if _, ok := ChartSupport("ingress", "charts/ingress", "4.0.0", c, Version{1, 32}, ""); ok {
			t.Errorf("%q admits 1.32", c)
		}
	}
}

// v1 Endpoints is deprecated from 1.33 for EndpointSlice: a warning, never a
// blocker.
func TestEndpointsDeprecation(t *testing.T) {
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}
	if st, _ := Load().Check(gvk, Version{1, 32}); st != Served {
		t.Errorf("at 1.32: %q", st)
	}
	st, api := Load().Check(gvk, Version{1, 33})
	if st != Deprecated || api.Replacement.Kind != "EndpointSlice" || !api.Removed.IsZero() {
		t.Errorf("at 1.33: %q %+v", st, api)
	}
}

// Findings in app manifests are placed at the apiVersion of each object, in
// multi-document files and inside Lists.
func TestFilesPlaceFindings(t *testing.T) {
	fsys := fstest.MapFS{
		"kubernetes/qa/multi.yaml":     {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop}\n")},
		"kubernetes/qa/list.yaml":      {Data: []byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web}\n- apiVersion: extensions/v1beta1\n  kind: Ingress\n  metadata: {name: web}\n")},
		"kubernetes/qa/.hidden/x.yaml": {Data: []byte("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: hidden}\n")},
		"kubernetes/qa/crd.yaml":       {Data: []byte("apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: w}\n")},
	}
	fs, err := Load().Files(SourceApp, "shop", fsys, "kubernetes/qa", "shop/kubernetes/qa", Version{1, 25})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Place()+" "+f.Object+" "+string(f.Status)+" "+f.Release)
	}
	want := []string{"shop/kubernetes/qa/list.yaml:7:15 Ingress/web removed 1.22", "shop/kubernetes/qa/multi.yaml:5:13 CronJob/nightly (shop) removed 1.25"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Every removal of the guide's list as an app would hold it (alone, in a
// List, in a multi-document file) and as an add-on renders it, checked at the release
// before, at and after: blocking exactly from its release on.
func TestGuideRemovalsInManifests(t *testing.T) {
	d := Load()
	for _, row := range guideList(t) {
		gv, k, removed := row.gvk.GroupVersion().String(), row.gvk.Kind, row.removed
		obj := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {name: x}\n", gv, k)
		item := fmt.Sprintf("- apiVersion: %s\n  kind: %s\n  metadata: {name: x}\n", gv, k)
		fsys := fstest.MapFS{
			"kubernetes/qa/alone.yaml": {Data: []byte(obj)},
			"kubernetes/qa/list.yaml":  {Data: []byte("apiVersion: v1\nkind: List\nitems:\n" + item)},
			"kubernetes/qa/multi.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n---\n" + obj)},
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(gv)
		u.SetKind(k)
		u.SetName("x")
		for _, c := range []struct {
			at       Version
			blocking int
		}{{Version{1, removed.Minor - 1}, 0}, {removed, 3}, {Version{1, removed.Minor + 1}, 3}} {
			fs, err := d.Files(SourceApp, "app", fsys, "kubernetes/qa", "kubernetes/qa", c.at)
			if err != nil {
				t.Fatal(err)
			}
			blocking := 0
			for _, f := range fs {
				if f.Blocks() {
					blocking++
					if f.Release != removed.String() || (row.replacement != "-" && f.Replacement == "" && f.Detail == "") {
						t.Errorf("%s %s at %s: %+v", gv, k, c.at, f)
					}
				}
			}
			if blocking != c.blocking {
				t.Errorf("%s %s at %s: %d blocking in the app's files, want %d: %+v", gv, k, c.at, blocking, c.blocking, fs)
			}
			addon := d.Objects(SourceAddon, "addon", []*unstructured.Unstructured{u}, c.at)
			if got := len(addon) == 1 && addon[0].Blocks(); got != (c.blocking > 0) {
				t.Errorf("%s %s at %s: add-on blocks %v", gv, k, c.at, got)
			}
		}
	}
}

// Whatever an app's manifests hold, Files returns (no panic), and every
// finding is placed inside the file it names.
func FuzzFiles(f *testing.F) {
	f.Add("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: x}\n")
	f.Add("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: extensions/v1beta1, kind: Ingress, metadata: {name: a}}\n---\n[1, 2]\n")
	d := Load()
	f.Fuzz(func(t *testing.T, text string) {
		fsys := fstest.MapFS{"k/a.yaml": {Data: []byte(text)}}
		fs, err := d.Files(SourceApp, "app", fsys, "k", "k", Version{1, 25})
		if err != nil {
			return
		}
		lines := strings.Count(text, "\n") + 1
		for _, fd := range fs {
			if fd.File != filepath.Join("k", "a.yaml") || fd.Line < 1 || fd.Line > lines || fd.Column < 1 {
				t.Fatalf("finding placed at %s in a file of %d lines", fd.Place(), lines)
			}
		}
	})
}

type guideEntry struct {
	gvk         schema.GroupVersionKind
	removed     Version
	replacement string // group/version, "-" for none
}

// guideList is the guide's list of removals, transcribed in testdata.
func guideList(t *testing.T) []guideEntry {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "deprecation-guide.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []guideEntry
	for i, line := range strings.Split(string(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		removed, err := ParseVersion(f[0])
		gv, gvErr := schema.ParseGroupVersion(f[1])
		if len(f) != 4 || err != nil || gvErr != nil {
			t.Fatalf("deprecation-guide.txt:%d: %q", i+1, line)
		}
		out = append(out, guideEntry{gv.WithKind(f[2]), removed, f[3]})
	}
	if len(out) < 45 {
		t.Fatalf("only %d removals read from the guide's list", len(out))
	}
	return out
}

// kube's data (k8s.io/api's metadata and guide.go together) against the
// guide's own list, transcribed apart in testdata: every removal it lists is
// found from exactly its release on, with a replacement of the same kind that
// is served there (the guide's own when it is GA and served there); and no
// removal in 1.16–1.38 is invented: what the guide does not list is an alpha
// API or one k8s.io/api's metadata itself removes.
func TestDeprecationGuide(t *testing.T) {
	d := Load()
	listed := map[schema.GroupVersionKind]bool{}
	for _, row := range guideList(t) {
		gvk, removed := row.gvk, row.removed
		listed[gvk] = true
		if st, _ := d.Check(gvk, Version{1, removed.Minor - 1}); st == Removed || st == UnknownRemove {
			t.Errorf("%s: removed before %s", gvk, removed)
		}
		for _, at := range []Version{removed, {1, removed.Minor + 1}, {1, 38}} {
			st, api := d.Check(gvk, at)
			if st != Removed || api.Removed != removed {
				t.Errorf("%s at %s: %q, removed in %s; the guide says %s", gvk, at, st, api.Removed, removed)
				continue
			}
			if row.replacement == "-" {
				if api.Note == "" {
					t.Errorf("%s at %s: no replacement, and no note saying what to do", gvk, at)
				}
				continue
			}
			r := api.Replacement
			if r.Empty() {
				if api.Note == "" {
					t.Errorf("%s at %s: no replacement (the guide names %s) and no note", gvk, at, row.replacement)
				}
				continue
			}
			if r.Kind != gvk.Kind {
				t.Errorf("%s at %s: replacement %s is another kind", gvk, at, r)
			}
			if ra, ok := d.Lookup(r); !ok || !ra.servedAt(at) {
				t.Errorf("%s at %s: replacement %s is not served there", gvk, at, r)
			}
			guideGV, _ := schema.ParseGroupVersion(row.replacement)
			if ga, ok := d.Lookup(guideGV.WithKind(gvk.Kind)); ok && ga.servedAt(at) && stableVersion.MatchString(guideGV.Version) && r.GroupVersion() != guideGV {
				t.Errorf("%s at %s: replacement %s, the guide's is %s", gvk, at, r, guideGV)
			}
		}
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1beta1.AddToScheme(s)
	for gvk, api := range d.apis {
		if api.Removed.Less(Version{1, 16}) || (Version{1, 38}).Less(api.Removed) || listed[gvk] || strings.Contains(gvk.Version, "alpha") {
			continue
		}
		if typ, ok := s.AllKnownTypes()[gvk]; ok {
			if l, ok := reflect.New(typ).Interface().(lifecycle); ok && version(l.APILifecycleRemoved()) == api.Removed {
				continue
			}
		}
		t.Errorf("%s: removed in %s, but neither the guide nor k8s.io/api says so", gvk, api.Removed)
	}
}
