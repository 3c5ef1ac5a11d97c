// Package app resolves, once per command, what an app command works on: the
// cluster, the app's name and namespace, and its manifests. Each file is read
// at most once: the repository's kube-generate.yaml, the registry, the sandbox's
// kubeconfig, the manifests.
package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/spec"
)

// Flags are what a command was told about the app.
type Flags struct {
	// Dir is the manifests directory (-f).
	Dir string
	// Name is the app's name (--app).
	Name string
	// Namespace is the app's namespace (-n).
	Namespace string
	// Recursive reads the subdirectories of Dir (-R).
	Recursive bool
}

// Need says what a command needs besides the cluster.
type Need int

const (
	// NeedDeployed: the name and namespace of an app already deployed (status,
	// history, rollback, ps, logs, run, scale, exec). With --app (and -n) no
	// file is needed, so these commands work without a checkout.
	NeedDeployed Need = iota
	// NeedManifests: the manifests too (deploy, diff).
	NeedManifests
)

// App is what an app command works on.
type App struct {
	Name      string
	Namespace string
	// Dir is the manifests directory ("" when the command needs none and none was given).
	Dir string
	// Objects are the manifests (with NeedManifests); Skipped the subdirectories
	// of Dir that were not read.
	Objects []*unstructured.Unstructured
	Skipped []string
	// Spec is the repository's kube-generate.yaml, nil when there is none (or
	// -f names other manifests); SpecCluster is its name for the cluster, the
	// directory of kubernetes/ deployed (the sandbox's is "sandbox").
	Spec        *spec.File
	SpecCluster string
	Cluster     *cluster.Target
}

// Env is where resolution reads from; the zero value is the process's own
// working directory and kube-generate.yaml parsed with kube's generators.
// Local opens the local sandbox (the CLI's; without it, "local" is refused).
type Env struct {
	WorkDir  string
	ReadSpec func(path string) (*spec.File, error)
	Local    func() (cluster.LocalCluster, error)
}

func (e Env) withDefaults() Env {
	if e.ReadSpec == nil {
		e.ReadSpec = generate.LoadSpec
	}
	if e.Local == nil {
		e.Local = func() (cluster.LocalCluster, error) {
			return nil, errors.New("no local sandbox here")
		}
	}
	return e
}

// repo is what the working directory says: its spec (if any) and why it could
// not be read.
type repo struct {
	spec *spec.File
	err  error
}

func (e Env) readRepo() repo {
	f, err := e.ReadSpec(filepath.Join(e.WorkDir, spec.FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return repo{}
	}
	return repo{spec: f, err: err}
}

// selection completes the user's cluster selection with the repository's
// default and the local sandbox.
func (e Env) selection(sel cluster.Selection, r repo) cluster.Selection {
	if r.spec != nil && r.spec.Cluster != "" {
		sel.RepoDefault, sel.RepoDefaultSource = r.spec.Cluster, spec.FileName
	}
	sel.Local = e.Local
	return sel
}

// Cluster resolves the cluster of a command that needs no app (kubectl,
// clusters, forks). It also returns the repository's spec, when there is a
// valid one, for defaults such as the namespace.
func Cluster(sel cluster.Selection, env Env) (*cluster.Target, *spec.File, error) {
	env = env.withDefaults()
	r := env.readRepo()
	t, err := env.selection(sel, r).Resolve()
	return t, r.spec, err
}

// RepoSpec is the working directory's kube-generate.yaml: nil without one, an
// error when it is invalid.
func RepoSpec(env Env) (*spec.File, error) {
	r := env.withDefaults().readRepo()
	return r.spec, r.err
}

// Selection is the user's selection completed as Cluster completes it, for
// commands that list the registry rather than resolve one cluster.
func Selection(sel cluster.Selection, env Env) cluster.Selection {
	env = env.withDefaults()
	return env.selection(sel, env.readRepo())
}

// Resolve finds the cluster, the app and, as need says, its manifests. Without
// -f the app comes from kube-generate.yaml in the working directory and its
// manifests from kubernetes/<cluster>/ (the local sandbox deploys
// kubernetes/sandbox/); with -f, --app names the app.
func Resolve(sel cluster.Selection, f Flags, need Need, env Env) (*App, error) {
	env = env.withDefaults()
	r := env.readRepo()
	t, err := env.selection(sel, r).Resolve()
	if err != nil {
		return nil, err
	}
	a := &App{Name: f.Name, Namespace: f.Namespace, Dir: f.Dir, Cluster: t}
	// The repository's spec names the app, unless -f or --app name another.
	useSpec := f.Dir == "" && (f.Name == "" || need == NeedManifests || (r.spec != nil && r.spec.App == f.Name))
	if useSpec {
		switch {
		case r.err != nil:
			return nil, r.err
		case r.spec == nil && need == NeedManifests:
			return nil, exitstatus.Input(fmt.Errorf("no %s here: run from the app's repository, or pass -f DIR --app NAME", spec.FileName))
		case r.spec == nil:
			return nil, exitstatus.Input(fmt.Errorf("no %s here: run from the app's repository, or name the app: --app NAME [-n NAMESPACE]", spec.FileName))
		}
		a.Spec = r.spec
		if a.Name == "" {
			a.Name = r.spec.App
		}
		if a.Namespace == "" {
			a.Namespace = r.spec.Namespace
		}
		a.SpecCluster = ManifestsCluster(env.WorkDir, t.Name)
		a.Dir = filepath.Join(env.WorkDir, generate.OutputDir, a.SpecCluster)
	} else if a.Name == "" {
		return nil, exitstatus.Input(errors.New("--app is required with -f: it names the inventory that records what the app owns"))
	} else if r.err == nil && r.spec != nil && r.spec.App == a.Name {
		// -f names other manifests of this repository's own app: its
		// policies (the error budget freeze, the platform's namespaces)
		// still apply; -f is no side door around them.
		a.Spec, a.SpecCluster = r.spec, ManifestsCluster(env.WorkDir, t.Name)
	}
	if need == NeedManifests || (a.Namespace == "" && f.Dir != "") {
		if st, err := os.Stat(a.Dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("no manifests directory %s (for cluster %s): run kube generate --update, or pass -f DIR", a.Dir, t.Name)
		}
		m, err := deploy.Load(a.Dir, deploy.LoadOptions{Recursive: f.Recursive})
		if err != nil {
			return nil, err
		}
		a.Objects, a.Skipped = m.Objects, m.Skipped
		if a.Namespace == "" {
			a.Namespace = NamespaceOf(m.Objects)
		}
	}
	if a.Namespace == "" {
		a.Namespace = a.Name // as kube generate defaults it
	}
	return a, nil
}

// ManifestsCluster is the directory of kubernetes/ a cluster deploys: its own
// name, except the local sandbox, which deploys kubernetes/sandbox/ unless
// kubernetes/local/ exists.
func ManifestsCluster(workDir, name string) string {
	if name == cluster.Local {
		if _, err := os.Stat(filepath.Join(workDir, generate.OutputDir, name)); err != nil {
			return "sandbox"
		}
	}
	return name
}

// NamespaceOf is an app's namespace from its manifests: its only Namespace
// object, else the namespace most of its objects are in, else "default".
func NamespaceOf(objs []*unstructured.Unstructured) string {
	var nsObjs []string
	count := map[string]int{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			nsObjs = append(nsObjs, o.GetName())
		}
		if ns := o.GetNamespace(); ns != "" {
			count[ns]++
		}
	}
	if len(nsObjs) == 1 {
		return nsObjs[0]
	}
	best, n := "default", 0
	for ns, c := range count {
		if c > n || (c == n && ns < best) {
			best, n = ns, c
		}
	}
	return best
}
