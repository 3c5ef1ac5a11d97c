package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/strictyaml"
)

// The registry is shared by a whole organisation: any content must be either a
// registry whose entries hold the promises of validate, or positioned errors.
func FuzzLoadRegistry(f *testing.F) {
	for _, p := range []string{"testdata/registry/valid.yaml", "testdata/registry/errors.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("clusters:\n- &c {name: a, auth: {kubeconfig: {context: x}}}\n- *c\n")
	f.Add("clusters:\n- name: x\n  server: https://x\n  certificateAuthority: ca\n  auth: {exec: {command: c, env: {MY_TOKEN: v}}}\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in string) {
		path := filepath.Join(dir, "clusters.yaml")
		if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		reg, err := LoadRegistry(path, true)
		if err != nil {
			var errs strictyaml.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("unpositioned error: %v", err)
			}
			for _, e := range errs {
				if e.Pos.Line < 1 || e.Pos.Column < 1 {
					t.Fatalf("badly positioned error %+v", e)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range reg.Clusters {
			if len(validation.IsDNS1123Label(c.Name)) > 0 || seen[c.Name] {
				t.Fatalf("accepted cluster name %q (twice: %v)", c.Name, seen[c.Name])
			}
			seen[c.Name] = true
			if c.Auth.Exec != nil {
				for k := range c.Auth.Exec.Env {
					if secrets.IsSecretName(k) {
						t.Fatalf("accepted exec env %s, named like a secret", k)
					}
				}
			}
			if c.Name != Local && c.Auth.Kubeconfig == nil && !strings.HasPrefix(c.Server, "https://") {
				t.Fatalf("accepted server %q", c.Server)
			}
		}
	})
}
