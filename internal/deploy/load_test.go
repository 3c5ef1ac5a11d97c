package deploy

import (
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/testsupport"
)

// Lists are expanded as kubectl expands them (kube-prometheus ships
// ConfigMapList and RoleList); subdirectories are read with -R and named
// otherwise (they used to be ignored silently).
func TestLoadExpandsListsAndSubdirectories(t *testing.T) {
	dir := t.TempDir()
	testsupport.WriteFiles(t, dir, map[string]string{
		"a.yaml":         "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n- metadata: {name: two}\n",
		"b.yaml":         "apiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: r, namespace: x}\n",
		"setup/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n",
		".hidden/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hidden}\n",
	})
	m, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range m.Objects {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(names, ",") != "ConfigMap/one,ConfigMap/two,Role/r" {
		t.Errorf("objects %v", names)
	}
	if len(m.Skipped) != 1 || !strings.HasSuffix(m.Skipped[0], "setup") {
		t.Errorf("skipped %v", m.Skipped)
	}
	m, err = Load(dir, LoadOptions{Recursive: true})
	if err != nil || len(m.Objects) != 4 || len(m.Skipped) != 0 {
		t.Fatalf("recursive: %v %d %v", err, len(m.Objects), m.Skipped)
	}
	testsupport.WriteFiles(t, dir, map[string]string{"c.yaml": "apiVersion: v1\nkind: List\nitems: nope\n"})
	if _, err := Load(dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "items is not a list") {
		t.Fatalf("bad list: %v", err)
	}
}
