package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A service that imports servicex inherits none of kube's dependencies: its
// module graph has no Kubernetes module (servicex is its own module).
func TestModuleHasNoKubernetesDependency(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	modules := strings.Split(strings.TrimSpace(string(out)), "\n")
	var servicex bool
	for _, m := range modules {
		if strings.HasPrefix(m, "k8s.io/") || strings.HasPrefix(m, "sigs.k8s.io/") {
			t.Errorf("the example's module graph has %s", m)
		}
		servicex = servicex || strings.HasPrefix(m, "github.com/kube-idp/kube/servicex ")
	}
	if !servicex || len(modules) < 10 {
		t.Fatalf("go list -m all did not list the graph:\n%s", out)
	}
}
