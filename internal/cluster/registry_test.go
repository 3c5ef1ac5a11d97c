package cluster

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRegistryValid(t *testing.T) {
	r, err := LoadRegistry("testdata/registry/valid.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "local,qa,prod,legacy" {
		t.Fatalf("names = %s", got)
	}
	local, _ := r.Find("local")
	prod, _ := r.Find("prod")
	qa, _ := r.Find("qa")
	if !local.Protected || !prod.Protected || qa.Protected || prod.Rules == nil || !prod.Rules.CleanTree {
		t.Errorf("protection: local %v prod %v qa %v", local.Protected, prod.Protected, qa.Protected)
	}
	kinds := map[string]string{}
	for _, c := range r.Clusters {
		kinds[c.Name] = c.AuthKind()
	}
	if kinds["local"] != "sandbox" || kinds["qa"] != "exec" || kinds["prod"] != "oidc" || kinds["legacy"] != "kubeconfig" {
		t.Errorf("auth kinds: %v", kinds)
	}
}

// Every class of registry error, with file:line:column, all at once (golden).
func TestRegistryErrorsGolden(t *testing.T) {
	_, err := LoadRegistry("testdata/registry/errors.yaml", true)
	if err == nil {
		t.Fatal("invalid registry accepted")
	}
	got := err.Error() + "\n"
	const golden = "testdata/registry/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cluster -update)", err)
	}
	if got != string(want) {
		t.Errorf("errors differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestMissingRegistry(t *testing.T) {
	r, err := LoadRegistry(t.TempDir()+"/none.yaml", false)
	if err != nil || strings.Join(r.Names(), ",") != "local" || r.Path != "" {
		t.Fatalf("default registry = %+v, %v", r, err)
	}
	if _, err := LoadRegistry(t.TempDir()+"/none.yaml", true); err == nil {
		t.Fatal("a named registry that does not exist was accepted")
	}
}

// An exec cluster of the registry becomes a kubeconfig with the plugin, no secret.
func TestResolveExecCluster(t *testing.T) {
	isolate(t)
	t.Setenv(EnvRegistry, "testdata/registry/valid.yaml")
	tg, err := Selection{Cluster: "qa"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if tg.Config.Host != "https://qa.k8s.example.com" || tg.Config.ExecProvider == nil || tg.Config.ExecProvider.Command != "aws" {
		t.Fatalf("config = %+v", tg.Config)
	}
	ctx := tg.Kubeconfig.Contexts[tg.Kubeconfig.CurrentContext]
	if ctx.Namespace != "default" || tg.Kubeconfig.AuthInfos[ctx.AuthInfo].Exec.Env[0].Name != "AWS_PROFILE" {
		t.Fatalf("kubeconfig = %+v", tg.Kubeconfig)
	}
	if tg.Protected() {
		t.Error("qa is not protected")
	}
}
