// Package addons manages a cluster's add-ons (ingress controller, CSI driver,
// monitoring, ...) from one reviewed file per cluster: each add-on is a Helm
// chart at a pinned version, rendered with Helm's own Go SDK, or a directory of
// manifests. kube's deploy engine applies each add-on as its own inventory, so
// image, CRDs and RBAC move as one revision and what an update drops is pruned.
//
// The file keeps Helmfile's shape (repositories: and releases:) so that tools
// that understand Helmfile, Renovate's version bumps first, work on it as is.
package addons

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/repofile"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/strictyaml"
)

// FileName is the add-on file of a cluster, under ClustersDir/<cluster>/.
const FileName = "addons.yaml"

// ClustersDir holds one directory per cluster in the platform repository.
const ClustersDir = "clusters"

// DefaultPath is where kube looks for a cluster's add-on file.
func DefaultPath(cluster string) string { return filepath.Join(ClustersDir, cluster, FileName) }

// File is one cluster's add-ons.
type File struct {
	Repositories []Repository `yaml:"repositories"`
	Releases     []Release    `yaml:"releases" required:"true"`
	Loc          strictyaml.Loc

	// Path is the file; Root the repository that every path in it stays inside.
	Path string `yaml:"-"`
	Root string `yaml:"-"`
}

// Repository is a chart repository: an HTTP(S) one with an index.yaml, or an
// OCI registry (oci: true, the url without oci://), as in Helmfile.
type Repository struct {
	Name string `yaml:"name" required:"true"`
	URL  string `yaml:"url" required:"true"`
	OCI  bool   `yaml:"oci"`
	Loc  strictyaml.Loc
}

// Release is one add-on.
type Release struct {
	Name      string `yaml:"name" required:"true"`
	Namespace string `yaml:"namespace" required:"true"`
	// Chart is REPOSITORY/CHART, or a path relative to the file: a chart
	// directory (with Chart.yaml) or a directory of manifests.
	Chart string `yaml:"chart" required:"true"`
	// Version pins a repository chart exactly.
	Version string `yaml:"version"`
	// Values are files (relative to the file) and inline mappings, merged in
	// order over the chart's defaults, as Helm's -f does.
	Values []Values `yaml:"values"`
	Loc    strictyaml.Loc
}

// Values is one entry of a release's values: a file or an inline mapping.
type Values struct {
	File   string
	Inline map[string]any
	Pos    strictyaml.Pos
}

// DecodeYAML takes a string (a file) or a mapping (inline values).
func (v *Values) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	v.Pos = strictyaml.At(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		v.File = n.Value
	case n.Kind == yaml.MappingNode:
		if err := n.Decode(&v.Inline); err != nil {
			d.Errorf(n, "inline values: %v", err)
		}
	default:
		d.Errorf(n, "expected a values file (a path) or a mapping of values, got %s", strictyaml.Describe(n))
	}
}

// Source says where a release's chart comes from.
type Source int

const (
	FromRepository Source = iota
	FromDirectory         // a chart directory, or a directory of manifests
)

// Source of the release's chart.
func (r *Release) Source() Source {
	if strings.HasPrefix(r.Chart, "./") || strings.HasPrefix(r.Chart, "../") {
		return FromDirectory
	}
	return FromRepository
}

// RepoChart splits REPOSITORY/CHART.
func (r *Release) RepoChart() (repo, chart string) {
	repo, chart, _ = strings.Cut(r.Chart, "/")
	return repo, chart
}

// Release returns the add-on called name.
func (f *File) Release(name string) (*Release, bool) {
	for i := range f.Releases {
		if f.Releases[i].Name == name {
			return &f.Releases[i], true
		}
	}
	return nil, false
}

// Repository returns the repository called name.
func (f *File) Repository(name string) (*Repository, bool) {
	for i := range f.Repositories {
		if f.Repositories[i].Name == name {
			return &f.Repositories[i], true
		}
	}
	return nil, false
}

// Select returns the named add-ons in file order, or all of them.
func (f *File) Select(names []string) ([]*Release, error) {
	if len(names) == 0 {
		out := make([]*Release, len(f.Releases))
		for i := range f.Releases {
			out[i] = &f.Releases[i]
		}
		return out, nil
	}
	var out []*Release
	for _, n := range names {
		r, ok := f.Release(n)
		if !ok {
			return nil, fmt.Errorf("no add-on %q in %s; it has: %s", n, f.Path, strings.Join(f.names(), ", "))
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *File) names() []string {
	var n []string
	for _, r := range f.Releases {
		n = append(n, r.Name)
	}
	return n
}

// Load reads and validates the add-on file at path. root is the repository
// the file belongs to: every path in it must stay inside root.
func Load(path, root string) (*File, error) {
	data, err := readInRoot(root, path)
	if err != nil {
		var errs strictyaml.Errors
		if errors.As(err, &errs) {
			return nil, errs
		}
		return nil, err
	}
	return Parse(path, root, data)
}

// readInRoot reads path (inside root, or relative to the working directory)
// through root's os.Root, so that an addons.yaml linked out of the repository
// is refused unread.
func readInRoot(root, path string) ([]byte, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(absRoot, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%s is outside the repository %s", path, root)
	}
	data, err := strictyaml.ReadFileIn(absRoot, rel)
	var errs strictyaml.Errors
	if errors.As(err, &errs) {
		for i := range errs {
			errs[i].File = path
		}
	}
	return data, err
}

// Parse decodes and validates an add-on file's content.
func Parse(path, root string, data []byte) (*File, error) {
	f := &File{}
	if errs := strictyaml.Unmarshal(path, data, f); errs != nil {
		return nil, errs
	}
	f.Path, f.Root = path, root
	if errs := f.validate(); errs != nil {
		return nil, errs
	}
	return f, nil
}

var chartName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$`)

func (f *File) validate() strictyaml.Errors {
	var errs strictyaml.Errors
	bad := func(p strictyaml.Pos, format string, args ...any) {
		errs = append(errs, strictyaml.Error{File: f.Path, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	repos := map[string]bool{}
	envNames := map[string]string{}
	for _, r := range f.Repositories {
		if repos[r.Name] {
			bad(r.Loc.At("name"), "repository %q is defined twice", r.Name)
		} else if other, ok := envNames[envPrefix(r.Name)]; ok {
			// INTERNAL next to internal would take internal's credentials.
			bad(r.Loc.At("name"), "repository %q and %q share the credential variables %s_*: rename one", r.Name, other, envPrefix(r.Name))
		}
		repos[r.Name] = true
		envNames[envPrefix(r.Name)] = r.Name
		if msg := checkRepoURL(r); msg != "" {
			bad(r.Loc.At("url"), "repository %q: %s", r.Name, msg)
		}
	}
	names := map[string]bool{}
	for _, r := range f.Releases {
		if names[r.Name] {
			bad(r.Loc.At("name"), "add-on %q is defined twice", r.Name)
		}
		names[r.Name] = true
		// The name becomes a Helm release name and part of Secret names.
		if msgs := validation.IsDNS1123Label(r.Name); len(msgs) > 0 || len(r.Name) > 53 {
			bad(r.Loc.At("name"), "add-on name %q must be a DNS label of at most 53 characters (lower-case letters, digits, '-')", r.Name)
		}
		if msgs := validation.IsDNS1123Label(r.Namespace); len(msgs) > 0 {
			bad(r.Loc.At("namespace"), "namespace %q is not a valid namespace name", r.Namespace)
		}
		switch r.Source() {
		case FromDirectory:
			if msg := f.checkPath(r.Chart); msg != "" {
				bad(r.Loc.At("chart"), "add-on %q: chart %s", r.Name, msg)
			} else if rel, _ := f.repoPath(r.Chart); rel == "." {
				// The whole repository as a chart would hand .Files every file in it.
				bad(r.Loc.At("chart"), "add-on %q: chart %q is the repository's root: a chart is a directory of its own inside it", r.Name, r.Chart)
			}
			if r.Version != "" {
				bad(r.Loc.At("version"), "add-on %q: a local chart has no version to pin (its Chart.yaml says it); remove version", r.Name)
			}
		default:
			repo, chart := r.RepoChart()
			switch {
			case chart == "" || strings.Contains(chart, "/") || !chartName.MatchString(chart):
				bad(r.Loc.At("chart"), "add-on %q: chart %q must be REPOSITORY/CHART (a repository of repositories:) or a directory starting with ./ or ../", r.Name, r.Chart)
			case !repos[repo]:
				bad(r.Loc.At("chart"), "add-on %q: repository %q is not in repositories:%s", r.Name, repo, known(repos))
			}
			if r.Version == "" {
				bad(r.Loc.At("chart"), "add-on %q: missing version: pin the chart's exact version (Renovate proposes updates)", r.Name)
			} else if _, err := semver.StrictNewVersion(r.Version); err != nil {
				bad(r.Loc.At("version"), "add-on %q: version %q must be one exact chart version such as 4.11.2, not a range", r.Name, r.Version)
			}
		}
		for _, v := range r.Values {
			if v.File != "" {
				if msg := f.checkPath(v.File); msg != "" {
					bad(v.Pos, "add-on %q: values file %s", r.Name, msg)
				}
				continue
			}
			if p := credentialIn(v.Inline, ""); p != "" {
				bad(v.Pos, "add-on %q: inline values %s look like a credential; reviewed files must not hold secrets: reference a Secret the chart reads instead", r.Name, p)
			}
		}
	}
	return errs
}

func known(m map[string]bool) string {
	if len(m) == 0 {
		return " (there are none)"
	}
	return " (known: " + strings.Join(strictyaml.Keys(m), ", ") + ")"
}

func checkRepoURL(r Repository) string {
	if r.OCI {
		if strings.Contains(r.URL, "://") {
			return fmt.Sprintf("an OCI repository's url is a registry path without a scheme, such as registry.example.com/charts, not %q", r.URL)
		}
		return ""
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Sprintf("url %q must be an http(s):// chart repository (or set oci: true for a registry)", r.URL)
	}
	if u.User != nil {
		return "the url holds a user or password: put credentials in the environment, never in the reviewed file"
	}
	return ""
}

// checkPath accepts a relative path that stays inside the repository.
func (f *File) checkPath(p string) string {
	if filepath.IsAbs(p) || path.IsAbs(p) || strings.Contains(p, `\`) {
		return fmt.Sprintf("%q must be a relative path with forward slashes", p)
	}
	if _, err := f.repoPath(p); err != nil {
		return err.Error()
	}
	return ""
}

// repoPath turns a path of the file into one relative to the repository root,
// refusing any that leaves it.
func (f *File) repoPath(p string) (string, error) {
	dir, err := filepath.Rel(f.Root, filepath.Dir(f.Path))
	if err != nil {
		return "", err
	}
	rel := path.Join(filepath.ToSlash(dir), p)
	if rel == ".." || strings.HasPrefix(rel, "../") || slices.Contains(strings.Split(rel, "/"), "..") {
		return "", fmt.Errorf("%q leaves the repository", p)
	}
	if repofile.IsVCS(rel) {
		return "", fmt.Errorf("%q is version-control metadata, which kube never reads", p)
	}
	return rel, nil
}

// credentialIn returns the path of the first value that looks like a
// credential, or "".
func credentialIn(v any, at string) string {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range strictyaml.Keys(t) {
			p := at + "." + k
			if s, ok := t[k].(string); ok && secrets.LooksLikeCredential(k, s) {
				return p
			}
			if p := credentialIn(t[k], p); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range t {
			if p := credentialIn(e, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	case string:
		if secrets.InText(t) {
			return at
		}
	}
	return ""
}

// App is the name of an add-on's inventory and revisions in its namespace
// (kube status --app, kube history --app work on it too).
func App(name string) string { return "addon-" + name }
