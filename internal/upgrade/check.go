package upgrade

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
)

// Sources of findings, in the order a report lists them.
const (
	SourceRequests = "requests" // what clients ask the live API server for
	SourceLive     = "live"     // objects last written through the API
	SourceApp      = "app"      // an app repository's generated manifests
	SourceAddon    = "addon"    // an add-on rendered at its pinned version
	SourceChart    = "chart"    // an add-on chart's kubeVersion constraint
)

// Finding is one use of an API that the upgrade removes or deprecates.
type Finding struct {
	Source string `json:"source"`
	// Where: the app repository or add-on name; "" for the live cluster.
	Where string `json:"where,omitempty"`
	// Object is Kind/name (namespace), or a resource for requests.
	Object string `json:"object"`
	// API is the group/version used (with the kind).
	API    string `json:"api"`
	Status Status `json:"status"`
	// Release is when it is (or was) removed or deprecated.
	Release     string `json:"release,omitempty"`
	Replacement string `json:"replacement,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// File, Line and Column place a finding in manifests; an add-on chart's
	// findings name the template only.
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// Place is file:line:column, the file alone (a chart's template), or "".
func (f Finding) Place() string {
	if f.File == "" || f.Line == 0 {
		return f.File
	}
	return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
}

// Blocks is true when the upgrade breaks it.
func (f Finding) Blocks() bool { return f.Status != Deprecated }

// Report is the answer of an upgrade check.
type Report struct {
	Target      string    `json:"target"`
	DataVersion string    `json:"dataVersion"`
	Notes       []string  `json:"notes,omitempty"`
	Findings    []Finding `json:"findings"`
}

// Blocking is true when something in the report breaks at the target.
func (r *Report) Blocking() bool {
	for _, f := range r.Findings {
		if f.Blocks() {
			return true
		}
	}
	return false
}

// NewReport starts a report for target, noting when it lies past kube's data.
func NewReport(target Version) *Report {
	r := &Report{Target: target.String(), DataVersion: DataVersion.String(), Findings: []Finding{}}
	if DataVersion.Less(target) {
		r.Notes = append(r.Notes, fmt.Sprintf("Kubernetes %s is newer than kube's API data (Kubernetes %s, from k8s.io/api): removals already scheduled for %s are known, but not APIs added or decisions made after %s; update kube for a complete check",
			target, DataVersion, target, DataVersion))
	}
	return r
}

// Sort orders findings by source, place and object.
func (r *Report) Sort() {
	order := map[string]int{SourceRequests: 0, SourceLive: 1, SourceApp: 2, SourceAddon: 3, SourceChart: 4}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if order[a.Source] != order[b.Source] {
			return order[a.Source] < order[b.Source]
		}
		if a.Where != b.Where {
			return a.Where < b.Where
		}
		return a.Object < b.Object
	})
}

func finding(source, where, object string, gvk schema.GroupVersionKind, st Status, api API) Finding {
	f := Finding{Source: source, Where: where, Object: object, API: apiString(gvk), Status: st}
	switch st {
	case Removed:
		f.Release = api.Removed.String()
	case Deprecated:
		f.Release = api.Deprecated.String()
		if !api.Removed.IsZero() {
			f.Detail = "removed in " + api.Removed.String()
		}
	case UnknownRemove:
		f.Status = Removed
		f.Detail = "no Kubernetes release kube knows serves it"
	}
	if !api.Replacement.Empty() {
		f.Replacement = apiString(api.Replacement)
	} else if api.Note != "" {
		f.Detail = strings.TrimSpace(f.Detail + " " + api.Note)
	}
	return f
}

func apiString(gvk schema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + " " + gvk.Kind
}

// Objects checks manifests (an app's, an add-on's).
func (d *Data) Objects(source, where string, objs []*unstructured.Unstructured, target Version) []Finding {
	var out []Finding
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if st, api := d.Check(gvk, target); st != Served {
			out = append(out, finding(source, where, short(gvk.Kind, o.GetNamespace(), o.GetName()), gvk, st, api))
		}
	}
	return out
}

func short(kind, ns, name string) string {
	s := kind + "/" + name
	if ns != "" {
		s += " (" + ns + ")"
	}
	return s
}

// DeprecatedRequestsMetric is the API server's gauge of requested deprecated
// APIs (1 for each group/version/resource requested since it started).
const DeprecatedRequestsMetric = "apiserver_requested_deprecated_apis"

// Requests reads the API server's metrics (the text of /metrics) for
// requested deprecated APIs. The API server names the release that removes
// each; kube's data adds the replacement, given the kinds of the resources
// (from discovery).
func (d *Data) Requests(metricsText []byte, target Version, kinds map[schema.GroupVersionResource]string) ([]Finding, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(metricsText))
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	fam := families[DeprecatedRequestsMetric]
	if fam == nil {
		return nil, nil
	}
	var out []Finding
	for _, m := range fam.GetMetric() {
		if m.GetGauge().GetValue() == 0 {
			continue
		}
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		gv := schema.GroupVersion{Group: l["group"], Version: l["version"]}
		resource := l["resource"]
		if l["subresource"] != "" {
			resource += "/" + l["subresource"]
		}
		f := Finding{Source: SourceRequests, Object: resource, API: gv.String() + " " + resource, Status: Deprecated}
		if rel, err := ParseVersion(l["removed_release"]); err == nil {
			f.Detail = "removed in " + rel.String()
			if !target.Less(rel) {
				f.Status, f.Release, f.Detail = Removed, rel.String(), ""
			}
		}
		if kind, ok := d.apis[gv.WithKind(kinds[gv.WithResource(l["resource"])])]; ok {
			if !kind.Replacement.Empty() {
				f.Replacement = apiString(kind.Replacement)
			}
			f.API = apiString(kind.GVK)
			if f.Status == Deprecated && !kind.Deprecated.IsZero() {
				f.Release = kind.Deprecated.String()
			}
		}
		f.Detail = strings.TrimSpace(f.Detail + " (a client requested it since the API server started, possibly the control plane itself, whose controllers list some deprecated APIs: the API server's audit log names the user agent)")
		out = append(out, f)
	}
	return out, nil
}

// Live finds objects whose last writes went through an API the target
// removes: for every such API the cluster serves, the objects of its resource
// whose managedFields record that group/version (lists: the cluster's
// discovery). Only metadata is read.
func (d *Data) Live(ctx context.Context, lists []*metav1.APIResourceList, meta metadata.Interface, target Version) ([]Finding, error) {
	var out []Finding
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") {
				continue
			}
			gvk := gv.WithKind(r.Kind)
			// Only what kube has data for: a newer cluster serves versions
			// kube has not heard of, which are not removed ones.
			// Deprecated APIs are not listed: they still work after the
			// upgrade, and the control plane itself writes through some (v1
			// Endpoints), which would name every object of the cluster.
			st, api := d.Check(gvk, target)
			if st != Removed {
				continue
			}
			objs, err := meta.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gv.WithResource(r.Name), err)
			}
			for _, o := range objs.Items {
				for _, m := range o.ManagedFields {
					if m.APIVersion == gv.String() {
						f := finding(SourceLive, "", short(r.Kind, o.Namespace, o.Name), gvk, st, api)
						f.Detail = strings.TrimSpace(f.Detail + " written through it by " + m.Manager)
						out = append(out, f)
						break
					}
				}
			}
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Kinds maps the resources of discovery lists to their kinds.
func Kinds(lists []*metav1.APIResourceList) map[schema.GroupVersionResource]string {
	out := map[schema.GroupVersionResource]string{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			out[gv.WithResource(r.Name)] = r.Kind
		}
	}
	return out
}

// ChartSupport is the finding for an add-on's chart whose kubeVersion
// constraint excludes target (Helm's own check), naming the chart's newest
// version that admits it when known; ok is false when the chart supports it.
func ChartSupport(addon, chart, version, constraint string, target Version, newest string) (Finding, bool) {
	if constraint == "" || chartutil.IsCompatibleRange(constraint, KubeVersion(target)) {
		return Finding{}, false
	}
	f := Finding{Source: SourceChart, Where: addon, Object: chart + " " + version, API: "kubeVersion", Status: Removed, Release: target.String(),
		Detail: fmt.Sprintf("chart %s %s does not support Kubernetes %s (kubeVersion %q)", chart, version, target, constraint)}
	if newest != "" {
		f.Detail += "; its newest version that does is " + newest
	} else {
		f.Detail += "; no version of it in its repository says it does"
	}
	return f, true
}

// KubeVersion is the version string Helm's checks take for a release.
func KubeVersion(v Version) string { return fmt.Sprintf("v%d.%d.0", v.Major, v.Minor) }
