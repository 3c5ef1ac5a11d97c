package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

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
		g := &f.Generates[i]
		switch {
		case g.Web != nil:
			w := g.Web
			def(&w.Name, f.App)
			def(&w.Port, 8080)
			def(&w.Health, "/healthz")
			if !w.Replicas.Set {
				w.Replicas = Of[int32](2)
			}
			if w.Autoscale != nil {
				def(&w.Autoscale.CPU, 70)
			}
		case g.Worker != nil:
			if !g.Worker.Replicas.Set {
				g.Worker.Replicas = Of[int32](1)
			}
		case g.CronJob != nil:
			c := g.CronJob
			def(&c.TimeZone, "Etc/UTC")
			def(&c.ConcurrencyPolicy, "Forbid")
			def(&c.Deadline, "1h")
			def(&c.Notify, f.Slack)
			if c.History == nil {
				c.History = &History{}
			}
			def(&c.History.Succeeded, 3)
			def(&c.History.Failed, 3)
		case g.ServiceAccount != nil:
			def(&g.ServiceAccount.Name, f.App)
		case g.Route != nil:
			r := g.Route
			def(&r.Name, f.App)
			def(&r.Kind, "httproute")
			def(&r.Path, "/")
			def(&r.Service, f.App)
			def(&r.Port, 80)
			if r.Kind == "httproute" {
				def(&r.Gateway, "gateway-system/public")
			}
		case g.Fork != nil:
			def(&g.Fork.Controller, "kube-idp-system/kube-controller")
		case g.ArgoCD != nil:
			a := g.ArgoCD
			def(&a.Revision, "HEAD")
			def(&a.Project, "default")
			def(&a.Namespace, "argocd")
			def(&a.Server, "https://kubernetes.default.svc")
		}
	}
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

var (
	maxUnavailableRE = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]?%)$`)
	tagRE            = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$`)
)

func validate(d *strictyaml.Decoder, f *File, dir string) {
	appValid := validName(f.App)
	if !appValid {
		if _, set := f.Loc.Keys["app"]; set {
			d.ErrorAt(f.Loc.At("app"), "app %q is not a valid name: %s", f.App, nameRule)
		} else {
			d.ErrorAt(Pos{Line: 1, Column: 1}, "the app name defaults to the directory name %q, which is not a valid name (%s): set app: in the file", f.App, nameRule)
		}
	}
	if _, set := f.Loc.Keys["namespace"]; set && !validName(f.Namespace) {
		d.ErrorAt(f.Loc.At("namespace"), "namespace %q is not a valid name: %s", f.Namespace, nameRule)
	}
	if f.Slack != "" && !strings.HasPrefix(f.Slack, "#") {
		d.ErrorAt(f.Loc.At("slack"), "slack %q must be a channel name starting with #", f.Slack)
	}
	if f.Cluster != "" && !validName(f.Cluster) {
		d.ErrorAt(f.Loc.At("cluster"), "cluster %q is not a valid cluster name", f.Cluster)
	}
	for _, c := range f.Clusters {
		if !validName(c) {
			d.ErrorAt(f.Loc.At("clusters"), "cluster name %q is not valid: %s", c, nameRule)
		}
	}
	if len(f.Generates) == 0 {
		d.ErrorAt(f.Loc.At("generates"), "generates is empty: list at least one generator (%s)", strings.Join(Kinds(), ", "))
	}
	v := &validator{d: d, f: f, dir: dir, seen: map[string]Pos{}}
	for i := range f.Generates {
		v.generator(&f.Generates[i])
	}
}

type validator struct {
	d    *strictyaml.Decoder
	f    *File
	dir  string
	seen map[string]Pos // cluster/kind/name -> where first generated
}

func (v *validator) errorf(p Pos, format string, args ...any) { v.d.ErrorAt(p, format, args...) }

func (v *validator) generator(g *Generator) {
	switch {
	case g.Namespace != nil:
		v.common(g.Loc, &g.Namespace.Common, "namespace", "Namespace", v.f.Namespace)
	case g.Web != nil:
		w := g.Web
		v.process(w.Loc, &w.Common, &w.Container, "web", "Deployment", w.Name)
		if errs := validation.IsDNS1035Label(w.Name); len(errs) > 0 && validName(w.Name) {
			v.errorf(w.Loc.At("name"), "web name %q also names its Service, which must start with a letter: %s", w.Name, errs[0])
		}
		v.perCluster(w.Replicas.Loc)
		v.replicas(w.Loc, w.Clusters, w.Replicas)
		v.port(w.Loc, "port", w.Port)
		if !strings.HasPrefix(w.Health, "/") {
			v.errorf(w.Loc.At("health"), "health %q must be an HTTP path starting with /", w.Health)
		}
		if a := w.Autoscale; a != nil {
			v.perCluster(a.Min.Loc)
			v.perCluster(a.Max.Loc)
			for _, c := range w.Clusters {
				if lo, hi := a.Min.For(c), a.Max.For(c); lo < 1 || hi < lo {
					v.errorf(a.Loc.Pos, "autoscale for cluster %s: need 1 <= min (%d) <= max (%d)", c, lo, hi)
				}
			}
			if a.CPU < 1 || a.CPU > 100 {
				v.errorf(a.Loc.At("cpu"), "autoscale cpu %d must be a percentage between 1 and 100", a.CPU)
			}
		}
		if p := w.PDB; p != nil && p.MaxUnavailable != "" {
			if !maxUnavailableRE.MatchString(p.MaxUnavailable) {
				v.errorf(p.Loc.At("maxUnavailable"), "pdb maxUnavailable %q must be a positive number or a percentage such as 25%%", p.MaxUnavailable)
			}
		}
	case g.Worker != nil:
		w := g.Worker
		v.process(w.Loc, &w.Common, &w.Container, "worker", "Deployment", w.Name)
		v.perCluster(w.Replicas.Loc)
		v.replicas(w.Loc, w.Clusters, w.Replicas)
	case g.CronJob != nil:
		c := g.CronJob
		v.process(c.Loc, &c.Common, &c.Container, "cronjob", "CronJob", c.Name)
		v.perCluster(c.Schedule.Loc)
		v.perCluster(c.Suspend.Loc)
		for _, cl := range append([]string{"default"}, strictyaml.Keys(c.Schedule.Clusters)...) {
			s := c.Schedule.For(cl)
			if cl == "default" && s == "" && len(c.Schedule.Clusters) > 0 {
				continue // only per-cluster values
			}
			if msg := cronProblem(s); msg != "" {
				v.errorf(c.Loc.At("schedule"), "schedule %q (%s) %s", s, clusterLabel(cl), msg)
			}
		}
		if len(c.Name) > maxCronJobName {
			v.errorf(c.Loc.At("name"), "cronjob name %q has %d characters; the API server allows %d (its Jobs get an 11-character suffix)", c.Name, len(c.Name), maxCronJobName)
		}
		if c.History.Succeeded < 0 || c.History.Failed < 0 {
			v.errorf(c.History.Loc.Pos, "history limits must not be negative")
		}
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			v.errorf(c.Loc.At("timeZone"), "timeZone %q is not an IANA time zone such as Asia/Tokyo", c.TimeZone)
		}
		if !slices.Contains([]string{"Allow", "Forbid", "Replace"}, c.ConcurrencyPolicy) {
			v.errorf(c.Loc.At("concurrencyPolicy"), "concurrencyPolicy %q is not one of Allow, Forbid, Replace", c.ConcurrencyPolicy)
		}
		if dl, err := time.ParseDuration(c.Deadline); err != nil || dl < time.Second {
			v.errorf(c.Loc.At("deadline"), "deadline %q is not a duration such as 30m or 2h", c.Deadline)
		}
		if _, set := c.Loc.Keys["notify"]; set && !strings.HasPrefix(c.Notify, "#") {
			v.errorf(c.Loc.At("notify"), "notify %q must be a Slack channel starting with #", c.Notify)
		}
		if c.Retries < 0 {
			v.errorf(c.Loc.At("retries"), "retries must not be negative")
		}
	case g.ServiceAccount != nil:
		s := g.ServiceAccount
		v.common(s.Loc, &s.Common, "serviceAccount", "ServiceAccount", s.Name)
		v.name(s.Loc, "name", s.Name)
	case g.ConfigMap != nil:
		c := g.ConfigMap
		v.common(c.Loc, &c.Common, "configMap", "ConfigMap", c.Name)
		v.name(c.Loc, "name", c.Name)
		for _, cf := range c.FileEntries() {
			if msg := v.checkFile(cf.Path); msg != "" {
				v.errorf(c.Loc.At("files"), "file %q %s", cf.Path, msg)
			}
			if errs := validation.IsConfigMapKey(cf.Key); len(errs) > 0 {
				v.errorf(c.Loc.At("files"), "key %q (from file %s) is not a valid ConfigMap key: %s; name the key: KEY=%s", cf.Key, cf.Path, errs[0], cf.Path)
			}
			if _, dup := c.Data[cf.Key]; dup {
				v.errorf(c.Loc.At("files"), "key %q comes from both files and data", cf.Key)
			}
		}
		for k := range c.Data {
			if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
				v.errorf(c.Loc.At("data"), "data key %q is not valid: %s", k, errs[0])
			}
		}
	case g.Route != nil:
		r := g.Route
		kind := map[string]string{"httproute": "HTTPRoute", "ingress": "Ingress"}[r.Kind]
		if kind == "" {
			v.errorf(r.Loc.At("kind"), "kind %q is not one of httproute, ingress", r.Kind)
			kind = "HTTPRoute"
		}
		v.common(r.Loc, &r.Common, "route", kind, r.Name)
		v.name(r.Loc, "name", r.Name)
		v.perCluster(r.Host.Loc)
		for _, c := range r.Clusters {
			if h := r.Host.For(c); len(validation.IsDNS1123Subdomain(h)) > 0 {
				v.errorf(r.Loc.At("host"), "host %q (cluster %s) is not a valid host name", h, c)
			}
		}
		if !strings.HasPrefix(r.Path, "/") {
			v.errorf(r.Loc.At("path"), "path %q must start with /", r.Path)
		}
		v.port(r.Loc, "port", r.Port)
		if r.Kind == "httproute" {
			if ns, name, ok := strings.Cut(r.Gateway, "/"); !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
				v.errorf(r.Loc.At("gateway"), "gateway %q must be NAMESPACE/NAME", r.Gateway)
			}
		}
	case g.Fork != nil:
		fk := g.Fork
		v.common(fk.Loc, &fk.Common, "fork", "RoleBinding", "kube-controller-fork")
		if ns, name, ok := strings.Cut(fk.Controller, "/"); !ok || !validName(ns) || !validName(name) {
			v.errorf(fk.Loc.At("controller"), "controller %q must be NAMESPACE/NAME of kube-controller's service account", fk.Controller)
		}
	case g.ArgoCD != nil:
		a := g.ArgoCD
		v.common(a.Loc, &a.Common, "argocdApplication", "Application", v.f.App)
		if !strings.Contains(a.Repo, "://") && !strings.HasPrefix(a.Repo, "git@") {
			v.errorf(a.Loc.At("repo"), "repo %q is not a Git URL (https://... or git@...)", a.Repo)
		}
	}
}

const maxConfigMapBytes = 1 << 20

// checkFile tells what is wrong with a file the spec reads ("" when nothing):
// it must be a relative path that stays inside the repository, symbolic links
// included, so that a pull request cannot make kube read /etc/passwd or its own
// environment into a manifest.
func (v *validator) checkFile(file string) string {
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
func (v *validator) process(l Loc, c *Common, ct *Container, gen, kind, name string) {
	v.common(l, c, gen, kind, name)
	v.name(l, "name", name)
	v.container(l, ct)
}

// common checks the clusters and patches of a generator and records the object it
// makes (kind/name per cluster) to find duplicates.
func (v *validator) common(l Loc, c *Common, gen, kind, name string) {
	if len(c.Clusters) == 0 {
		v.errorf(l.At("clusters"), "%s: clusters is empty; allowed: %s", gen, strings.Join(v.f.Clusters, ", "))
	}
	for _, cl := range c.Clusters {
		if !slices.Contains(v.f.Clusters, cl) {
			v.errorf(l.At("clusters"), "unknown cluster %q; allowed: %s (set the file's clusters: to add one)", cl, strings.Join(v.f.Clusters, ", "))
			continue
		}
		key := cl + "/" + kind + "/" + name
		if first, dup := v.seen[key]; dup {
			v.errorf(l.Pos, "%s %q is generated twice for cluster %s (first at line %d): give one of them another name", kind, name, cl, first.Line)
			continue
		}
		v.seen[key] = l.Pos
	}
	for _, p := range c.Patches {
		switch {
		case p.Merge.Set == p.JSON.Set:
			v.errorf(p.Loc.Pos, "a patch needs exactly one of merge (strategic merge) or json (RFC 6902 operations)")
		case p.Merge.Set:
			if _, ok := p.Merge.Value.(map[string]any); !ok {
				v.errorf(p.Merge.Pos, "merge must be a mapping (a partial object)")
			}
		case p.JSON.Set:
			if _, ok := p.JSON.Value.([]any); !ok {
				v.errorf(p.JSON.Pos, "json must be a list of operations such as {op: add, path: /spec/x, value: 1}")
			}
		}
	}
}

// name checks a name given in the file; defaulted names come from the app name,
// which is checked once.
func (v *validator) name(l Loc, key, name string) {
	if _, set := l.Keys[key]; set && !validName(name) {
		v.errorf(l.At(key), "%s %q is not a valid name: %s", key, name, nameRule)
	}
}

const nameRule = "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. billing-api)"

func validName(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

func (v *validator) port(l Loc, key string, p int32) {
	if p < 1 || p > 65535 {
		v.errorf(l.At(key), "%s %d must be between 1 and 65535", key, p)
	}
}

func (v *validator) perCluster(l Loc) {
	for k, p := range l.Keys {
		if k != "default" && !slices.Contains(v.f.Clusters, k) {
			v.errorf(p, "unknown cluster %q in a per-cluster value; allowed: default, %s", k, strings.Join(v.f.Clusters, ", "))
		}
	}
}

func (v *validator) container(l Loc, c *Container) {
	if strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") || strings.Contains(c.Image, "@") {
		v.errorf(l.At("image"), "image %q must not contain a tag or digest: put it in tag:", c.Image)
	}
	v.perCluster(c.Tag.Loc)
	tags := append([]string{c.Tag.Default}, mapValues(c.Tag.Clusters)...)
	for _, t := range tags {
		if t == "" && len(c.Tag.Clusters) == 0 {
			v.errorf(l.At("tag"), "tag is empty")
		}
		if t != "" && !tagRE.MatchString(t) {
			v.errorf(l.At("tag"), "tag %q is not an image tag or a sha256: digest", t)
		}
	}
	v.perCluster(c.Resources.Loc)
	for _, r := range append([]Resources{c.Resources.Default}, mapValues(c.Resources.Clusters)...) {
		for key, q := range map[string]string{"cpu": r.CPU, "memory": r.Memory, "memoryLimit": r.MemoryLimit, "cpuLimit": r.CPULimit} {
			if q == "" {
				continue
			}
			if _, err := resource.ParseQuantity(q); err != nil {
				v.errorf(r.Loc.At(key), "resources %s %q is not a quantity such as 250m or 512Mi", key, q)
			}
		}
	}
	for _, name := range strictyaml.Keys(c.Env) {
		e := c.Env[name]
		if errs := validation.IsEnvVarName(name); len(errs) > 0 {
			v.errorf(e.Loc.Pos, "env name %q is not valid: %s", name, errs[0])
		}
		if e.Secret != nil {
			continue
		}
		v.perCluster(e.Value.Loc)
		for _, val := range append([]string{e.Value.Default}, mapValues(e.Value.Clusters)...) {
			if val == "" {
				continue
			}
			if secrets.LooksLikeCredential(name, val) {
				// Never echo the value: it may be a real credential.
				v.errorf(e.Loc.Pos, "env %s has a literal value that looks like a credential: keep it in a Secret and reference it as %s: {secret: NAME, key: KEY}", name, name)
				break
			}
		}
	}
}

// maxCronJobName is the API server's limit: a CronJob's Jobs are named
// <name>-<11 characters>, within 63.
const maxCronJobName = 52

// cronProblem says what is wrong with a schedule ("" when nothing), using the
// parser of the CronJob controller itself (robfig/cron's standard parser).
func cronProblem(s string) string {
	if strings.Contains(s, "TZ=") {
		return "must not set a time zone inside the schedule: use timeZone"
	}
	if _, err := cron.ParseStandard(s); err != nil {
		return fmt.Sprintf("is not a valid cron schedule (%v); e.g. \"0 3 * * *\" or @daily", err)
	}
	return ""
}

func clusterLabel(c string) string {
	if c == "default" {
		return "default"
	}
	return "cluster " + c
}

// replicas checks that no cluster gets a negative count.
func (v *validator) replicas(l Loc, clusters []string, r PerCluster[int32]) {
	for _, c := range append([]string{"default"}, clusters...) {
		if n := r.For(c); n < 0 {
			v.errorf(l.At("replicas"), "replicas (cluster %s) is %d: it must not be negative", c, n)
			return
		}
	}
}

func mapValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range strictyaml.Keys(m) {
		out = append(out, m[k])
	}
	return out
}
