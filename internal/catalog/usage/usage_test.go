package usage

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/testsupport"
)

// Add-ons pinned on every cluster of a platform repository and the apps of
// app repositories are read with their places, and make a deprecated
// component a gap.
func TestUsesMakeGaps(t *testing.T) {
	repo := t.TempDir()
	testsupport.WriteFile(t, filepath.Join(repo, "clusters/prod/addons.yaml"), "releases:\n- name: ingress-nginx\n  namespace: ingress\n  chart: ./charts/x\n- name: old-ingress\n  namespace: ingress\n  chart: ./charts/x\n")
	testsupport.WriteFile(t, filepath.Join(repo, "clusters/qa/addons.yaml"), "releases:\n- name: old-ingress\n  namespace: ingress\n  chart: ./charts/x\n")
	testsupport.WriteFile(t, filepath.Join(repo, "charts/x/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	addons, err := AddonUses(repo)
	if err != nil {
		t.Fatal(err)
	}
	appRepo := t.TempDir()
	testsupport.WriteFile(t, filepath.Join(appRepo, "kube-generate.yaml"), "app: legacy\nteam: t\ngenerates:\n- namespace: {clusters: [prod]}\n")
	apps, err := AppUses([]string{appRepo})
	if err != nil {
		t.Fatal(err)
	}

	files := map[string][]byte{
		"domains/network.yaml":         []byte("name: network\nowner: infra\nproblem: p\nresponsibilities: [r]\nfeatures: [f]\ninterfaces: [i]\n"),
		"components/ingress.yaml":      []byte("name: ingress\ndescription: d\nkind: add-on\ndomains: [network]\nlifecycle: active\nowner: infra\naddon: ingress-nginx\n"),
		"components/old-ingress.yaml":  []byte("name: old-ingress\ndescription: d\nkind: add-on\ndomains: [network]\nlifecycle: deprecated\nreplacedBy: ingress\nowner: infra\naddon: old-ingress\n"),
		"components/legacy-proxy.yaml": []byte("name: legacy-proxy\ndescription: d\nkind: service\ndomains: [network]\nlifecycle: retired\nowner: infra\napp: legacy\n"),
	}
	c, err := catalog.Parse("", files)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range c.Gaps(catalog.Usage{Addons: addons, Apps: apps}) {
		got = append(got, g.Message+" | "+strings.Join(g.UsedBy, "; "))
	}
	want := []string{
		"retired component legacy-proxy is still in use | app legacy at " + filepath.Join(appRepo, "kube-generate.yaml"),
		"deprecated component old-ingress is still in use; move to ingress | add-on old-ingress at " +
			filepath.Join(repo, "clusters/prod/addons.yaml") + ":5:3; add-on old-ingress at " + filepath.Join(repo, "clusters/qa/addons.yaml") + ":2:3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gaps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if _, err := AppUses([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "is not an app repository") {
		t.Errorf("a directory without kube-generate.yaml: %v", err)
	}
	testsupport.WriteFile(t, filepath.Join(repo, "clusters/bad/addons.yaml"), "releases:\n- name: x\n  namespace: y\n  chart: ../../../outside\n")
	if _, err := AddonUses(repo); err == nil || !strings.Contains(err.Error(), "clusters/bad/addons.yaml:4:") {
		t.Errorf("a bad add-on file: %v", err)
	}
}
