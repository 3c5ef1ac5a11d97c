package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/spec"
	"github.com/kube-idp/kube/internal/testsupport"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://qa.example:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// fakeLocal is a sandbox that runs, with a kubeconfig of its own.
type fakeLocal string

func (f fakeLocal) Kubeconfig() (string, error) { return string(f), nil }

// world is a working directory, a registry with cluster qa (and a protected
// prod), and a running local sandbox; readSpec counts the reads of the spec.
type world struct {
	dir   string
	env   Env
	reads int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	base := t.TempDir()
	kc := filepath.Join(base, "kubeconfig")
	testsupport.WriteFile(t, kc, testKubeconfig)
	reg := filepath.Join(base, "clusters.yaml")
	testsupport.WriteFile(t, reg, "clusters:\n- name: qa\n  auth: {kubeconfig: {file: "+kc+", context: x}}\n- name: prod\n  protected: true\n  auth: {kubeconfig: {file: "+kc+", context: x}}\n")
	t.Setenv(cluster.EnvRegistry, reg)
	t.Setenv(cluster.EnvCluster, "")
	w := &world{dir: filepath.Join(base, "repo")}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(w.dir) // no .kube-cluster above it
	w.env = Env{
		WorkDir: w.dir,
		ReadSpec: func(p string) (*spec.File, error) {
			w.reads++
			return generate.LoadSpec(p)
		},
		Local: func() (cluster.LocalCluster, error) { return fakeLocal(kc), nil },
	}
	return w
}

const billingSpec = "app: billing\nnamespace: payments\ncluster: qa\ngenerates:\n- namespace: {clusters: [sandbox, qa]}\n"

func configMapFile(ns, name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + "}\n"
}

// In the app's repository: the app, its namespace and the cluster's manifests
// come from kube-generate.yaml, read once; its cluster: is the default cluster.
func TestResolveInTheRepository(t *testing.T) {
	w := newWorld(t)
	testsupport.WriteFile(t, filepath.Join(w.dir, spec.FileName), billingSpec)
	testsupport.WriteFile(t, filepath.Join(w.dir, "kubernetes/qa/cm.yaml"), configMapFile("payments", "a"))
	testsupport.WriteFile(t, filepath.Join(w.dir, "kubernetes/qa/extra/cm.yaml"), configMapFile("payments", "b"))
	a, err := Resolve(cluster.Selection{}, Flags{}, NeedManifests, w.env)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "billing" || a.Namespace != "payments" || a.Cluster.Name != "qa" || a.Cluster.Source != spec.FileName ||
		a.Dir != filepath.Join(w.dir, "kubernetes/qa") || len(a.Objects) != 1 || len(a.Skipped) != 1 {
		t.Fatalf("resolved %+v (cluster %s from %s)", a, a.Cluster.Name, a.Cluster.Source)
	}
	if w.reads != 1 {
		t.Errorf("kube-generate.yaml read %d times", w.reads)
	}
	// -R reads the subdirectory; -n overrides the namespace.
	a, err = Resolve(cluster.Selection{}, Flags{Recursive: true, Namespace: "other"}, NeedManifests, w.env)
	if err != nil || len(a.Objects) != 2 || a.Namespace != "other" {
		t.Fatalf("-R -n: %v %+v", err, a)
	}
	// The sandbox deploys kubernetes/sandbox/.
	testsupport.WriteFile(t, filepath.Join(w.dir, "kubernetes/sandbox/cm.yaml"), configMapFile("payments", "a"))
	a, err = Resolve(cluster.Selection{Cluster: "local"}, Flags{}, NeedManifests, w.env)
	if err != nil || a.Dir != filepath.Join(w.dir, "kubernetes/sandbox") || a.Cluster.Name != "local" {
		t.Fatalf("local: %v %+v", err, a)
	}
	// A protected cluster is never the repository's default.
	testsupport.WriteFile(t, filepath.Join(w.dir, spec.FileName), strings.Replace(billingSpec, "cluster: qa", "cluster: prod", 1))
	if _, err := Resolve(cluster.Selection{}, Flags{}, NeedDeployed, w.env); err == nil || !strings.Contains(err.Error(), "never a default") {
		t.Fatalf("protected default: %v", err)
	}
}

// During an incident the person rolling back may not have the repository: with
// --app (and -n) no file is needed.
func TestResolveWithoutACheckout(t *testing.T) {
	w := newWorld(t)
	a, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Name: "billing", Namespace: "payments"}, NeedDeployed, w.env)
	if err != nil || a.Name != "billing" || a.Namespace != "payments" || a.Dir != "" || a.Spec != nil {
		t.Fatalf("--app -n: %v %+v", err, a)
	}
	a, err = Resolve(cluster.Selection{Cluster: "qa"}, Flags{Name: "billing"}, NeedDeployed, w.env)
	if err != nil || a.Namespace != "billing" {
		t.Fatalf("--app alone: %v %+v", err, a)
	}
	var usage *exitstatus.BadInput
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{}, NeedDeployed, w.env); !errors.As(err, &usage) || !strings.Contains(err.Error(), "--app NAME [-n NAMESPACE]") {
		t.Fatalf("nothing named: %v", err)
	}
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{}, NeedManifests, w.env); !errors.As(err, &usage) || !strings.Contains(err.Error(), "pass -f DIR --app NAME") {
		t.Fatalf("deploy without a spec: %v", err)
	}
}

// With -f, --app is required, and the namespace comes from the manifests: their
// Namespace object, else the namespace most objects name.
func TestResolveADirectory(t *testing.T) {
	w := newWorld(t)
	dir := filepath.Join(w.dir, "manifests")
	testsupport.WriteFile(t, filepath.Join(dir, "a.yaml"), configMapFile("ns-x", "a")+"---\n"+configMapFile("ns-y", "b")+"---\n"+configMapFile("ns-y", "c"))
	var usage *exitstatus.BadInput
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir}, NeedManifests, w.env); !errors.As(err, &usage) {
		t.Fatalf("-f without --app: %v", err)
	}
	a, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir, Name: "demo"}, NeedDeployed, w.env)
	if err != nil || a.Namespace != "ns-y" {
		t.Fatalf("-f --app: %v %+v", err, a)
	}
	testsupport.WriteFile(t, filepath.Join(dir, "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-x}\n")
	if a, err = Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir, Name: "demo"}, NeedManifests, w.env); err != nil || a.Namespace != "ns-x" || len(a.Objects) != 4 {
		t.Fatalf("with a Namespace object: %v %+v", err, a)
	}
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: filepath.Join(w.dir, "nope"), Name: "demo"}, NeedManifests, w.env); err == nil || !strings.Contains(err.Error(), "no manifests directory") {
		t.Fatalf("missing directory: %v", err)
	}
	// -f with the repository's own app keeps its spec (its policies apply);
	// another app's manifests do not get it.
	testsupport.WriteFile(t, filepath.Join(w.dir, spec.FileName), billingSpec)
	if a, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir, Name: "billing"}, NeedManifests, w.env); err != nil || a.Spec == nil || a.SpecCluster != "qa" || a.Dir != dir {
		t.Fatalf("-f --app billing in billing's repository: %v %+v", err, a)
	}
	if a, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir, Name: "demo"}, NeedManifests, w.env); err != nil || a.Spec != nil {
		t.Fatalf("-f --app demo in billing's repository: %v %+v", err, a)
	}
	// An invalid spec in the working directory does not matter with -f.
	testsupport.WriteFile(t, filepath.Join(w.dir, spec.FileName), "generates: nope\n")
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{Dir: dir, Name: "demo"}, NeedManifests, w.env); err != nil {
		t.Fatalf("-f with an invalid spec around: %v", err)
	}
	if _, err := Resolve(cluster.Selection{Cluster: "qa"}, Flags{}, NeedManifests, w.env); err == nil || !strings.Contains(err.Error(), "kube-generate.yaml:1:") {
		t.Fatalf("an invalid spec in use: %v", err)
	}
}

func TestClusterForCommandsWithoutAnApp(t *testing.T) {
	w := newWorld(t)
	testsupport.WriteFile(t, filepath.Join(w.dir, spec.FileName), billingSpec)
	tg, f, err := Cluster(cluster.Selection{}, w.env)
	if err != nil || tg.Name != "qa" || f == nil || f.Namespace != "payments" || w.reads != 1 {
		t.Fatalf("Cluster() = %v, %v, %v (%d reads)", tg, f, err, w.reads)
	}
	if sel := Selection(cluster.Selection{}, w.env); sel.RepoDefault != "qa" {
		t.Fatalf("Selection() = %+v", sel)
	}
}
