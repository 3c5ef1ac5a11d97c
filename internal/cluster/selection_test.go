package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/sandbox"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: "t"}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("KUBE_STATE_DIR", t.TempDir())
	t.Setenv(EnvCluster, "")
	// A current cluster in the user's environment must never be picked up.
	t.Setenv("KUBECONFIG", writeKubeconfig(t))
}

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openSandbox is how commands open the local cluster (internal/app passes it).
func openSandbox() (LocalCluster, error) { return sandbox.Open(sandbox.DefaultName) }

func TestResolveExplicitKubeconfig(t *testing.T) {
	isolate(t)
	p := writeKubeconfig(t)
	for _, c := range []struct{ context, name, host string }{
		{"", "kubeconfig:ctx-a", "https://a.example:6443"},
		{"ctx-b", "kubeconfig:ctx-b", "https://b.example:6443"},
	} {
		tg, err := Selection{Kubeconfig: p, Context: c.context}.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if tg.Name != c.name || tg.Config.Host != c.host {
			t.Errorf("context %q: got %s %s, want %s %s", c.context, tg.Name, tg.Config.Host, c.name, c.host)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	isolate(t)
	p := writeKubeconfig(t)
	cases := []struct {
		name string
		sel  Selection
		env  string
		want []string
	}{
		{"both", Selection{Kubeconfig: p, Cluster: "local"}, "", []string{"use one of them"}},
		{"context alone", Selection{Context: "ctx-a"}, "", []string{"--context", "--kubeconfig"}},
		{"unknown flag", Selection{Cluster: "qa"}, "", []string{`unknown cluster "qa"`, "--kubeconfig FILE"}},
		{"unknown env", Selection{}, "prod", []string{`unknown cluster "prod"`}},
		{"missing file", Selection{Kubeconfig: filepath.Join(t.TempDir(), "nope")}, "", []string{"reading kubeconfig"}},
		{"sandbox down", Selection{Local: openSandbox}, "", []string{`cluster "local"`, "kube sandbox up"}},
		{"bad context", Selection{Kubeconfig: p, Context: "nope"}, "", []string{"nope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvCluster, c.env)
			_, err := c.sel.Resolve()
			if err == nil {
				t.Fatal("Resolve() succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// -c, then $KUBE_CLUSTER, then .kube-cluster, then kube-generate.yaml's cluster:,
// then local; a protected cluster is never taken from a default.
func TestChosenNamePrecedence(t *testing.T) {
	isolate(t)
	abs, _ := filepath.Abs("testdata/registry/valid.yaml")
	t.Setenv(EnvRegistry, abs)
	dir := t.TempDir()
	t.Chdir(dir)
	check := func(sel Selection, want, wantSource string) {
		t.Helper()
		if got, src := sel.ChosenName(); got != want || !strings.HasSuffix(src, wantSource) {
			t.Errorf("ChosenName() = %s (%s), want %s (%s)", got, src, want, wantSource)
		}
	}
	check(Selection{}, "local", "default")
	// The repository's default: kube-generate.yaml's cluster:, read by internal/app.
	repo := Selection{RepoDefault: "qa", RepoDefaultSource: "kube-generate.yaml"}
	check(repo, "qa", "kube-generate.yaml")
	if err := os.WriteFile(DirDefaultFile, []byte("legacy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(repo, "legacy", DirDefaultFile)
	t.Setenv(EnvCluster, "tools")
	check(repo, "tools", "$"+EnvCluster)
	repo.Cluster = "prod"
	check(repo, "prod", "-c")

	t.Setenv(EnvCluster, "")
	if err := os.WriteFile(DirDefaultFile, []byte("prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Selection{}).Resolve(); err == nil || !strings.Contains(err.Error(), "protected, so it is never a default") {
		t.Fatalf("a protected default was accepted: %v", err)
	}
}
