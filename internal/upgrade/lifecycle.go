// Package upgrade says what a Kubernetes upgrade breaks: every use of an API
// that the target version removes (and, as warnings, deprecates), in what
// clients request from the live cluster, in live objects, in apps' generated
// manifests and in add-ons rendered at their pinned versions.
//
// The removal data is Kubernetes' own API lifecycle metadata, compiled into
// the k8s.io/api Go module (the APILifecycle* methods generated from each
// type's +k8s:prerelease-lifecycle-gen tags), completed by a reviewed table of
// the Deprecated API Migration Guide (guide.go) where the module cannot speak.
package upgrade

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeversion "k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// DataVersion is the Kubernetes release whose k8s.io/api kube is built with
// (TestDataVersion keeps it equal to go.mod's).
var DataVersion = Version{1, 37}

// Version is a Kubernetes minor release.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// IsZero: no version (an API without that lifecycle event).
func (v Version) IsZero() bool { return v == Version{} }

// ParseVersion reads "1.38", "v1.38" or "v1.38.2" (the patch is ignored).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%q is not a Kubernetes version such as v1.38", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 999 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("%q is not a Kubernetes version such as v1.38", s)
		}
		n[i] = v
	}
	if n[0] != 1 {
		return Version{}, fmt.Errorf("%q: kube knows Kubernetes 1.x versions", s)
	}
	return Version{n[0], n[1]}, nil
}

// API is the lifecycle of one kind in one group/version.
type API struct {
	GVK        schema.GroupVersionKind
	Introduced Version
	Deprecated Version
	Removed    Version
	// Replacement is what to use instead (the guide's, the metadata's, else
	// the kind in a stable version of its group).
	Replacement schema.GroupVersionKind
	// Note says what to do when there is no replacement kind.
	Note string
}

// Status of an API at a Kubernetes version.
type Status string

const (
	Served        Status = ""
	Deprecated    Status = "deprecated"
	Removed       Status = "removed"
	UnknownRemove Status = "unknown" // a built-in group's version kube has no data for: removed long ago
)

// At says whether the API is removed or deprecated at v.
func (a API) At(v Version) Status {
	switch {
	case !a.Removed.IsZero() && !v.Less(a.Removed):
		return Removed
	case !a.Deprecated.IsZero() && !v.Less(a.Deprecated):
		return Deprecated
	}
	return Served
}

type lifecycle interface {
	APILifecycleIntroduced() (int, int)
	APILifecycleDeprecated() (int, int)
	APILifecycleRemoved() (int, int)
}

type replaced interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

// Data is every built-in API kube knows.
type Data struct {
	apis map[schema.GroupVersionKind]API
	// groups are the built-in groups; versions their known versions.
	groups   map[string]bool
	versions map[schema.GroupVersion]bool
	// stable is the newest stable version of each kind.
	stable map[schema.GroupKind]string
}

var (
	dataOnce sync.Once
	data     *Data
)

// Load returns the lifecycle data of the built-in APIs.
func Load() *Data {
	dataOnce.Do(func() {
		s := runtime.NewScheme()
		_ = clientgoscheme.AddToScheme(s)
		_ = apiextensionsv1.AddToScheme(s)
		_ = apiextensionsv1beta1.AddToScheme(s)
		data = build(s)
	})
	return data
}

func build(s *runtime.Scheme) *Data {
	d := &Data{apis: map[schema.GroupVersionKind]API{}, groups: map[string]bool{}, versions: map[schema.GroupVersion]bool{}, stable: map[schema.GroupKind]string{}}
	stable := map[schema.GroupKind][]string{}
	for gvk, t := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") || gvk.Kind == "WatchEvent" {
			continue
		}
		d.groups[gvk.Group] = true
		d.versions[gvk.GroupVersion()] = true
		obj := reflect.New(t).Interface()
		api := API{GVK: gvk}
		if l, ok := obj.(lifecycle); ok {
			api.Introduced = version(l.APILifecycleIntroduced())
			api.Deprecated = version(l.APILifecycleDeprecated())
			api.Removed = version(l.APILifecycleRemoved())
		} else if stableVersion.MatchString(gvk.Version) {
			stable[gvk.GroupKind()] = append(stable[gvk.GroupKind()], gvk.Version)
		}
		if r, ok := obj.(replaced); ok {
			api.Replacement = r.APILifecycleReplacement()
		}
		d.apis[gvk] = api
	}
	for gk, vs := range stable {
		d.stable[gk] = newest(vs)
	}
	// The migration guide's rows win where k8s.io/api is silent or wrong.
	for gvk, api := range guideAPIs() {
		if known, ok := d.apis[gvk]; ok && !known.Introduced.IsZero() {
			api.Introduced = known.Introduced
		}
		d.apis[gvk] = api
		d.groups[gvk.Group] = true
		d.versions[gvk.GroupVersion()] = true
		// A replacement outside k8s.io/api (apiregistration.k8s.io/v1) is a
		// current API.
		if r := api.Replacement; !r.Empty() && !d.versions[r.GroupVersion()] {
			d.apis[r] = API{GVK: r}
			d.versions[r.GroupVersion()] = true
		}
	}
	for gvk, api := range d.apis {
		if v, ok := d.stable[gvk.GroupKind()]; ok && api.Replacement.Empty() && !api.Removed.IsZero() {
			api.Replacement = gvk.GroupKind().WithVersion(v)
			d.apis[gvk] = api
		}
	}
	return d
}

func version(major, minor int) Version { return Version{major, minor} }

// stableVersion is a GA version (v1, v2): alpha and beta versions without
// lifecycle tags are not replacements.
var stableVersion = regexp.MustCompile(`^v[0-9]+$`)

// newest of versions by Kubernetes' version priority (v2 > v1 > v1beta2 >
// v1alpha1), not by the strings' length.
func newest(vs []string) string {
	best := vs[0]
	for _, v := range vs[1:] {
		if kubeversion.CompareKubeAwareVersionStrings(v, best) > 0 {
			best = v
		}
	}
	return best
}

// Lookup returns what kube knows of a kind in a group/version. ok is false for
// kinds outside the built-in groups (custom resources).
func (d *Data) Lookup(gvk schema.GroupVersionKind) (API, bool) {
	if api, ok := d.apis[gvk]; ok {
		return api, true
	}
	if !d.groups[gvk.Group] {
		return API{}, false
	}
	if !d.versions[gvk.GroupVersion()] {
		// A version of a built-in group that k8s.io/api no longer has: removed
		// before the oldest release kube knows of.
		api := API{GVK: gvk, Removed: Version{1, 0}}
		if v, ok := d.stable[gvk.GroupKind()]; ok {
			api.Replacement = gvk.GroupKind().WithVersion(v)
		}
		return api, true
	}
	return API{}, false
}

// ForResource returns the APIs of a group/version, for matching the API
// server's metrics (which name resources, not kinds).
func (d *Data) ForGroupVersion(gv schema.GroupVersion) []API {
	var out []API
	for gvk, api := range d.apis {
		if gvk.GroupVersion() == gv {
			out = append(out, api)
		}
	}
	return out
}

// Check returns the status of gvk at target, with the release it happened in.
func (d *Data) Check(gvk schema.GroupVersionKind, target Version) (Status, API) {
	api, ok := d.Lookup(gvk)
	if !ok {
		return Served, api
	}
	if api.Removed == (Version{1, 0}) && api.Introduced.IsZero() && api.Deprecated.IsZero() {
		return UnknownRemove, api
	}
	if r, ok := d.servedAt(api.Replacement, target); ok {
		api.Replacement = r
	} else {
		// extensions/v1beta1 PodSecurityPolicy's replacement went too.
		api.Note = cmp.Or(d.apis[api.Replacement].Note, fmt.Sprintf("no version of %s is served at %s", api.Replacement.Kind, target))
		api.Replacement = schema.GroupVersionKind{}
	}
	return api.At(target), api
}

// servedAt: introduced by v (when known) and not removed.
func (a API) servedAt(v Version) bool {
	return a.At(v) != Removed && (a.Introduced.IsZero() || !v.Less(a.Introduced))
}

// servedAt returns r if it is served at target, else the newest version of
// its kind that is (flowcontrol v1beta2 names v1beta3, itself removed in
// 1.32): a replacement must exist where the user goes. ok is false when no
// version of the kind is served there.
func (d *Data) servedAt(r schema.GroupVersionKind, target Version) (schema.GroupVersionKind, bool) {
	if r.Empty() {
		return r, true
	}
	if api, ok := d.apis[r]; !ok || api.servedAt(target) {
		return r, true
	}
	var best schema.GroupVersionKind
	for gvk, api := range d.apis {
		if gvk.GroupKind() != r.GroupKind() || !api.servedAt(target) {
			continue
		}
		if best.Empty() || kubeversion.CompareKubeAwareVersionStrings(gvk.Version, best.Version) > 0 {
			best = gvk
		}
	}
	return best, !best.Empty()
}
