package config_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kube-idp/kube/config"
)

// The CRDs and the ClusterRole are generated from the API types and the
// controllers' RBAC markers: regenerate them and compare.
func TestGeneratedManifestsAreCurrent(t *testing.T) {
	out := t.TempDir()
	for _, args := range [][]string{
		{"crd", "paths=./api/...", "output:crd:artifacts:config=" + out},
		{"rbac:roleName=kube-controller", "paths=./internal/controller/...", "output:rbac:artifacts:config=" + out},
	} {
		cmd := exec.Command("go", append([]string{"tool", "-modfile=hack/codegen/go.mod", "controller-gen"}, args...)...)
		cmd.Dir = ".."
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("controller-gen %v: %v\n%s", args, err, msg)
		}
	}
	generated, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	if len(generated) != 3 {
		t.Fatalf("controller-gen wrote %v", generated)
	}
	for _, g := range generated {
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join("install", filepath.Base(g)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("config/install/%s is not what controller-gen generates: run make generate", filepath.Base(g))
		}
	}
}

func TestCRDsAreEmbedded(t *testing.T) {
	files, err := fs.Glob(config.CRDs(), "*.yaml")
	if err != nil || len(files) != 2 {
		t.Fatalf("embedded CRDs: %v %v", files, err)
	}
}
