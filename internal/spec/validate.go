package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/strictyaml"
)

func applyDefaults(f *File, path string) {
	if f.App == "" {
		if abs, err := filepath.Abs(path); err == nil {
			f.App = filepath.Base(filepath.Dir(abs))
		}
	}
	if f.Namespace == "" {
		f.Namespace = f.App
	}
	if len(f.Clusters) == 0 {
		f.Clusters = slices.Clone(DefaultClusters)
	}
	for i := range f.Generates {
		if g := f.Generates[i].Spec; g != nil {
			g.Default(f)
		}
	}
}

// Default sets *v to d when it is the zero value (generators' defaults).
func Default[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// validTag tells whether t is an image tag or a sha256 digest, as the image
// reference grammar (distribution/reference) defines them.
func validTag(t string) bool {
	sep := ":"
	if strings.HasPrefix(t, "sha256:") {
		sep = "@"
	}
	_, err := reference.Parse("example.com/image" + sep + t)
	return err == nil
}

func validate(d *strictyaml.Decoder, f *File, dir string, kinds Kinds) {
	appValid := ValidName(f.App)
	if !appValid {
		if _, set := f.Loc.Keys["app"]; set {
			d.ErrorAt(f.Loc.At("app"), "app %q is not a valid name: %s", f.App, NameRule)
		} else {
			d.ErrorAt(Pos{Line: 1, Column: 1}, "the app name defaults to the directory name %q, which is not a valid name (%s): set app: in the file", f.App, NameRule)
		}
	}
	if _, set := f.Loc.Keys["namespace"]; set && !ValidName(f.Namespace) {
		d.ErrorAt(f.Loc.At("namespace"), "namespace %q is not a valid name: %s", f.Namespace, NameRule)
	} else if slices.Contains(contract.PlatformNamespaces, f.Namespace) {
		at := f.Loc.At("namespace")
		if _, set := f.Loc.Keys["namespace"]; !set {
			at = f.Loc.At("app") // the namespace defaults to the app's name
		}
		d.ErrorAt(at, "namespace %q is the platform's (%s): an app's objects, alerts and routes go in a namespace of its own; set namespace:", f.Namespace, strings.Join(contract.PlatformNamespaces, ", "))
	}
	if f.Slack != "" && !strings.HasPrefix(f.Slack, "#") {
		d.ErrorAt(f.Loc.At("slack"), "slack %q must be a channel name starting with #", f.Slack)
	}
	if f.Cluster != "" && !ValidName(f.Cluster) {
		d.ErrorAt(f.Loc.At("cluster"), "cluster %q is not a valid cluster name", f.Cluster)
	}
	for _, c := range f.Clusters {
		if !ValidName(c) {
			d.ErrorAt(f.Loc.At("clusters"), "cluster name %q is not valid: %s", c, NameRule)
		}
	}
	if len(f.Generates) == 0 {
		d.ErrorAt(f.Loc.At("generates"), "generates is empty: list at least one generator (%s)", strings.Join(kinds.Keys(), ", "))
	}
	v := &Validator{d: d, f: f, dir: dir, seen: map[string]Pos{}}
	for i := range f.Generates {
		if g := &f.Generates[i]; g.Spec != nil {
			v.g = g
			g.Spec.Validate(v)
		}
	}
}

// Validator checks generators' settings: its methods are the checks that
// generators share, and it collects every problem with its position.
type Validator struct {
	d    *strictyaml.Decoder
	f    *File
	dir  string
	g    *Generator     // the entry being checked
	seen map[string]Pos // cluster/kind/name -> where first generated
}

// Errorf reports a problem at p.
func (v *Validator) Errorf(p Pos, format string, args ...any) { v.d.ErrorAt(p, format, args...) }

// Warnf reports at p something that deserves a look but does not make the
// file wrong (File.Warnings).
func (v *Validator) Warnf(p Pos, format string, args ...any) {
	if p.Line < 1 {
		p = Pos{Line: 1, Column: 1}
	}
	v.f.Warnings = append(v.f.Warnings, Error{File: v.f.Path, Pos: p, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// File is the spec being checked.
func (v *Validator) File() *File { return v.f }

// Entry is the position of the generator's entry in generates.
func (v *Validator) Entry() Loc { return v.g.Loc }

const maxConfigMapBytes = 1 << 20

// checkFile tells what is wrong with a file the spec reads ("" when nothing):
// it must be a relative path that stays inside the repository, symbolic links
// included, so that a pull request cannot make kube read /etc/passwd or its own
// environment into a manifest.
func (v *Validator) CheckFile(file string) string {
	if !filepath.IsLocal(filepath.FromSlash(file)) {
		return "must be a relative path inside the repository"
	}
	root, err := os.OpenRoot(v.dir)
	if err != nil {
		return err.Error()
	}
	defer root.Close()
	st, err := root.Stat(filepath.FromSlash(file))
	switch {
	case err == nil && st.Mode().IsRegular() && st.Size() > maxConfigMapBytes:
		return "is larger than 1 MiB, the most a ConfigMap holds"
	case err == nil && st.Mode().IsRegular():
		return ""
	case err == nil:
		return "is not a regular file"
	}
	if _, serr := os.Stat(filepath.Join(v.dir, filepath.FromSlash(file))); serr == nil {
		return "leads outside the repository (a symbolic link): kube reads only files inside it"
	}
	return "does not exist"
}

// process checks what web, worker and cronjob share: clusters and patches, the
// name, and the container.
func (v *Validator) Process(l Loc, c *Common, ct *Container, gen, kind, name string) {
	v.Common(l, c, gen, kind, name)
	v.Name(l, "name", name)
	v.Container(l, ct)
}

// common checks the clusters and patches of a generator and records the object it
// makes (kind/name per cluster) to find duplicates.
func (v *Validator) Common(l Loc, c *Common, gen, kind, name string) {
	if len(c.Clusters) == 0 {
		v.Errorf(l.At("clusters"), "%s: clusters is empty; allowed: %s", gen, strings.Join(v.f.Clusters, ", "))
	}
	for _, cl := range c.Clusters {
		if !slices.Contains(v.f.Clusters, cl) {
			v.Errorf(l.At("clusters"), "unknown cluster %q; allowed: %s (set the file's clusters: to add one)", cl, strings.Join(v.f.Clusters, ", "))
			continue
		}
		key := cl + "/" + kind + "/" + name
		if first, dup := v.seen[key]; dup {
			v.Errorf(l.Pos, "%s %q is generated twice for cluster %s (first at line %d): give one of them another name", kind, name, cl, first.Line)
			continue
		}
		v.seen[key] = l.Pos
	}
	for _, p := range c.Patches {
		switch {
		case p.Merge.Set == p.JSON.Set:
			v.Errorf(p.Loc.Pos, "a patch needs exactly one of merge (strategic merge) or json (RFC 6902 operations)")
		case p.Merge.Set:
			if _, ok := p.Merge.Value.(map[string]any); !ok {
				v.Errorf(p.Merge.Pos, "merge must be a mapping (a partial object)")
			}
		case p.JSON.Set:
			if _, ok := p.JSON.Value.([]any); !ok {
				v.Errorf(p.JSON.Pos, "json must be a list of operations such as {op: add, path: /spec/x, value: 1}")
			}
		}
	}
}

// name checks a name given in the file; defaulted names come from the app name,
// which is checked once.
func (v *Validator) Name(l Loc, key, name string) {
	if _, set := l.Keys[key]; set && !ValidName(name) {
		v.Errorf(l.At(key), "%s %q is not a valid name: %s", key, name, NameRule)
	}
}

// NameRule says what a valid name is.
const NameRule = "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. billing-api)"

// ValidName tells whether s is a DNS label, as app and object names must be.
func ValidName(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// Port checks a port number.
func (v *Validator) Port(l Loc, key string, p int32) {
	if p < 1 || p > 65535 {
		v.Errorf(l.At(key), "%s %d must be between 1 and 65535", key, p)
	}
}

// PerCluster checks the cluster names of a per-cluster value.
func (v *Validator) PerCluster(l Loc) {
	for k, p := range l.Keys {
		if k != "default" && !slices.Contains(v.f.Clusters, k) {
			v.Errorf(p, "unknown cluster %q in a per-cluster value; allowed: default, %s", k, strings.Join(v.f.Clusters, ", "))
		}
	}
}

// Container checks what web, worker and cronjob run: image, tag, resources, env.
func (v *Validator) Container(l Loc, c *Container) {
	ref, err := reference.Parse(c.Image)
	_, tagged := ref.(reference.Tagged)
	_, digested := ref.(reference.Digested)
	switch {
	case err != nil && c.Image != "":
		v.Errorf(l.At("image"), "image %q is not an image name such as registry.example.com/team/app: %v", c.Image, err)
	case tagged || digested:
		v.Errorf(l.At("image"), "image %q must not contain a tag or digest: put it in tag:", c.Image)
	}
	v.PerCluster(c.Tag.Loc)
	tags := append([]string{c.Tag.Default}, MapValues(c.Tag.Clusters)...)
	for _, t := range tags {
		if t == "" && len(c.Tag.Clusters) == 0 {
			v.Errorf(l.At("tag"), "tag is empty")
		}
		if t != "" && !validTag(t) {
			v.Errorf(l.At("tag"), "tag %q is not an image tag or a sha256: digest", t)
		}
	}
	v.PerCluster(c.Resources.Loc)
	for _, r := range append([]Resources{c.Resources.Default}, MapValues(c.Resources.Clusters)...) {
		for key, q := range map[string]string{"cpu": r.CPU, "memory": r.Memory, "memoryLimit": r.MemoryLimit, "cpuLimit": r.CPULimit} {
			if q == "" {
				continue
			}
			if _, err := resource.ParseQuantity(q); err != nil {
				v.Errorf(r.Loc.At(key), "resources %s %q is not a quantity such as 250m or 512Mi", key, q)
			}
		}
	}
	for _, name := range strictyaml.Keys(c.Env) {
		e := c.Env[name]
		if errs := validation.IsEnvVarName(name); len(errs) > 0 {
			v.Errorf(e.Loc.Pos, "env name %q is not valid: %s", name, errs[0])
		}
		if e.Secret != nil {
			continue
		}
		v.PerCluster(e.Value.Loc)
		for _, val := range append([]string{e.Value.Default}, MapValues(e.Value.Clusters)...) {
			if val == "" {
				continue
			}
			if secrets.LooksLikeCredential(name, val) {
				// Never echo the value: it may be a real credential.
				v.Errorf(e.Loc.Pos, "env %s has a literal value that looks like a credential: keep it in a Secret and reference it as %s: {secret: NAME, key: KEY}", name, name)
				break
			}
		}
	}
}

// ClusterLabel names a per-cluster key in messages: "default" or "cluster qa".
func ClusterLabel(c string) string {
	if c == "default" {
		return "default"
	}
	return "cluster " + c
}

// replicas checks that no cluster gets a negative count.
func (v *Validator) Replicas(l Loc, clusters []string, r PerCluster[int32]) {
	for _, c := range append([]string{"default"}, clusters...) {
		if n := r.For(c); n < 0 {
			v.Errorf(l.At("replicas"), "replicas (cluster %s) is %d: it must not be negative", c, n)
			return
		}
	}
}

// MapValues lists a map's values in the order of its sorted keys.
func MapValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range strictyaml.Keys(m) {
		out = append(out, m[k])
	}
	return out
}
