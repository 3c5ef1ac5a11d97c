package generate

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/secrets"
)

// kindRE is what a Kubernetes kind looks like; a kind is part of a file name.
var kindRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,62}$`)

// checkObject refuses what a template or a patch must never produce: a kind,
// name or namespace that is not a Kubernetes name (the kind and name become a
// file path), and a credential literal anywhere in the object. Messages never
// repeat a value that looks like a credential.
func checkObject(d doc) []string {
	var problems []string
	kind, name := d.kind(), d.name()
	if !kindRE.MatchString(kind) {
		problems = append(problems, fmt.Sprintf("kind %q is not a Kubernetes kind (letters and digits, starting with a capital)", kind))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("%s name %q is not a valid object name: %s", kind, name, errs[0]))
	}
	if md, ok := d.obj["metadata"].(map[string]any); ok {
		if ns, set := md["namespace"]; set {
			if s, ok := ns.(string); !ok || len(validation.IsDNS1123Label(s)) > 0 {
				problems = append(problems, fmt.Sprintf("%s/%s: namespace %v is not a valid namespace name", kind, name, ns))
			}
		}
	}
	for _, p := range credentialPaths(d) {
		problems = append(problems, fmt.Sprintf("%s/%s: %s looks like a credential: keep it in a Secret and reference it (env: {secret: NAME, key: KEY}); it is not written into a manifest", kind, name, p))
	}
	return problems
}

// credentialPaths lists where an object holds a credential literal: every string
// is checked for credential-shaped values and secret assignments; environment
// variables and ConfigMap keys are also judged by their names.
func credentialPaths(d doc) []string {
	// Paths are built only for findings, and maps walked unsorted, then the
	// findings sorted: every object of a fleet check is walked, few hold one.
	type seg struct {
		key string
		idx int // -1 for a key
	}
	type finding struct {
		path   []seg
		suffix string
	}
	var (
		found []finding
		path  []seg
	)
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			// An environment variable: {name: X, value: Y}.
			if n, ok := t["name"].(string); ok {
				if val, ok := t["value"].(string); ok && secrets.LooksLikeCredential(n, val) {
					found = append(found, finding{slices.Clone(path), ".value (env " + n + ")"})
					return
				}
			}
			for k, x := range t {
				path = append(path, seg{k, -1})
				walk(x)
				path = path[:len(path)-1]
			}
		case []any:
			for i, x := range t {
				path = append(path, seg{"", i})
				walk(x)
				path = path[:len(path)-1]
			}
		case string:
			if secrets.InText(t) {
				found = append(found, finding{slices.Clone(path), ""})
			}
		}
	}
	walk(d.obj)
	slices.SortFunc(found, func(a, b finding) int {
		return slices.CompareFunc(a.path, b.path, func(x, y seg) int {
			if c := strings.Compare(x.key, y.key); c != 0 {
				return c
			}
			return x.idx - y.idx
		})
	})
	var out []string
	for _, f := range found {
		var b strings.Builder
		for _, s := range f.path {
			if s.idx >= 0 {
				b.WriteString("[" + strconv.Itoa(s.idx) + "]")
			} else {
				b.WriteString("." + s.key)
			}
		}
		out = append(out, strings.TrimPrefix(b.String()+f.suffix, "."))
	}
	if d.kind() == "ConfigMap" {
		data, _ := d.obj["data"].(map[string]any)
		for _, k := range sortedMapKeys(data) {
			p := "data." + k
			if s, ok := data[k].(string); ok && !slices.Contains(out, p) && secrets.LooksLikeCredential(k, s) {
				out = append(out, p)
			}
		}
	}
	return out
}

func sortedMapKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// outputPath is where an object's manifest goes: kubernetes/<cluster>/<file>.
// The kind and name were checked as Kubernetes names; the joined path is checked
// again, so that no object can name a file outside its cluster's directory.
func outputPath(cluster, kind, name string) (string, error) {
	dir := path.Join(OutputDir, cluster)
	p := path.Join(dir, FileName(kind, name))
	if path.Dir(p) != dir || strings.Contains(path.Base(p), "..") || !validCluster(cluster) {
		return "", fmt.Errorf("%s/%s would be written to %s, outside %s/: refusing", kind, name, p, dir)
	}
	return p, nil
}

func validCluster(c string) bool { return len(validation.IsDNS1123Label(c)) == 0 }
