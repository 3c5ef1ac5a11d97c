package catalog

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files and the committed schemas")

const example = "../../examples/kube-platform/platform"

func loadExample(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load(example)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kube's own catalog loads, and answers the questions the catalog is for.
func TestExampleCatalog(t *testing.T) {
	c := loadExample(t)
	if len(c.Domains) != 13 || len(c.Components) != 16 {
		t.Fatalf("%d domains, %d components; want 13 and 16", len(c.Domains), len(c.Components))
	}
	var serving []string
	for _, comp := range c.Serving("observability") {
		serving = append(serving, comp.Name)
	}
	if got := strings.Join(serving, " "); got != "alerts prometheus-operator servicex slo" {
		t.Errorf("observability is served by %q", got)
	}
	if k := c.Component("kubefork"); k == nil || k.Owner != "platform-devex" || k.DependsOn[0] != "kube-controller" {
		t.Errorf("kubefork: %+v", k)
	}
	if d := c.Domain("ci-cd"); d == nil || d.DisplayTitle() != "CI/CD" || len(d.Features) != 3 {
		t.Errorf("ci-cd: %+v", d)
	}
}

// Every problem of every file is reported at file:line:column.
func TestParseErrors(t *testing.T) {
	domain := "name: compute\nowner: infra\nproblem: p\nresponsibilities: [r]\nfeatures: [f]\ninterfaces: [i]\n"
	component := func(extra string) string {
		return "name: x\ndescription: d\nkind: tool\ndomains: [compute]\nlifecycle: active\nowner: infra\n" + extra
	}
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown key with a suggestion", map[string]string{"domains/compute.yaml": domain + "feature: [x]\n"},
			[]string{`domains/compute.yaml:7:1: unknown key "feature"`, `features`}},
		{"missing required keys", map[string]string{"domains/compute.yaml": "name: compute\n"},
			[]string{"domains/compute.yaml:1:1:", "owner"}},
		{"name differs from the file", map[string]string{"domains/compute.yaml": strings.Replace(domain, "compute", "net", 1)},
			[]string{`domains/compute.yaml:1:1: domain "net" is in compute.yaml: name the file net.yaml`}},
		{"bad colour", map[string]string{"domains/compute.yaml": domain + "color: '#fff'\n"},
			[]string{`domains/compute.yaml:7:1: color "#fff": six hex digits`}},
		{"empty list", map[string]string{"domains/compute.yaml": strings.Replace(domain, "features: [f]", "features: []", 1)},
			[]string{"domains/compute.yaml:5:1: features: list at least one"}},
		{"unknown kind and lifecycle", map[string]string{"domains/compute.yaml": domain,
			"components/x.yaml": strings.Replace(strings.Replace(component(""), "kind: tool", "kind: daemon", 1), "active", "live", 1)},
			[]string{`components/x.yaml:3:1: kind "daemon": one of add-on, tool, library, service, process, document`,
				`components/x.yaml:5:1: lifecycle "live": one of experimental, active, deprecated, retired`}},
		{"unknown domain", map[string]string{"domains/compute.yaml": domain, "components/x.yaml": strings.Replace(component(""), "[compute]", "[compute, storage]", 1)},
			[]string{`components/x.yaml:4:1: domain "storage" is not in the catalog (domains: compute)`}},
		{"replacedBy on an active component", map[string]string{"domains/compute.yaml": domain, "components/x.yaml": component("replacedBy: y\n")},
			[]string{"components/x.yaml:7:1: replacedBy is for a deprecated or retired component; this one is active"}},
		{"replacedBy unknown", map[string]string{"domains/compute.yaml": domain,
			"components/x.yaml": strings.Replace(component("replacedBy: y\n"), "active", "deprecated", 1)},
			[]string{`components/x.yaml:7:1: replacedBy "y" is not a component of the catalog`}},
		{"dependsOn unknown and itself", map[string]string{"domains/compute.yaml": domain, "components/x.yaml": component("dependsOn: [x, z]\n")},
			[]string{"components/x.yaml:7:1: a component cannot depend on itself", `dependsOn "z" is not a component`}},
		{"link that is not http, and one with credentials", map[string]string{"domains/compute.yaml": domain,
			"components/x.yaml": component("links:\n- title: a\n  url: javascript:alert(1)\n- title: b\n  url: https://u:p@example.com\n")},
			[]string{`components/x.yaml:9:3: link "a": "javascript:alert(1)" is not an http(s) URL`,
				`components/x.yaml:11:3: link "b": the URL holds a credential`}},
		{"tokens in link URLs", map[string]string{"domains/compute.yaml": domain,
			"components/x.yaml": component("links:\n- title: hook\n  url: https://hooks.slack.com/services/T000/B000/XXXXXXXX\n- title: gh\n  url: https://api.github.com/x?access_token=ghp_0123456789abcdefghijklmnopqrstuvwxyz\n- title: ok\n  url: https://grafana.example.com/d/x?orgId=1&var-namespace=shop\n")},
			[]string{`components/x.yaml:9:3: link "hook": the URL holds a credential`, `components/x.yaml:11:3: link "gh": the URL holds a credential`}},
		{"a terminal escape in a title", map[string]string{"domains/compute.yaml": strings.Replace(domain, "name: compute", "name: compute\ntitle: \"\\e[2J\\e[1;1HAll clear\"", 1)},
			[]string{`domains/compute.yaml:2:8: the value holds the control character U+001B`}},
		{"two components for one add-on", map[string]string{"domains/compute.yaml": domain,
			"components/x.yaml": component("addon: ingress\n"), "components/y.yaml": strings.Replace(component("addon: ingress\n"), "name: x", "name: y", 1)},
			[]string{`components/y.yaml:7:1: add-on "ingress" is already component x`}},
		{"owner that is not a team name", map[string]string{"domains/compute.yaml": strings.Replace(domain, "owner: infra", "owner: Infra Team", 1)},
			[]string{`domains/compute.yaml:2:1: owner "Infra Team": a team name`}},
		{"file outside domains/ and components/", map[string]string{"teams/a.yaml": "name: a\n"},
			[]string{"teams/a.yaml:1:1: not a catalog file"}},
		{"invalid YAML", map[string]string{"domains/compute.yaml": "name: [\n"},
			[]string{"domains/compute.yaml:", "invalid YAML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range tc.files {
				files[k] = []byte(v)
			}
			_, err := Parse("", files)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), `link "ok"`) {
				t.Errorf("an ordinary link was refused:\n%v", err)
			}
		})
	}
}

// A symbolic link in the catalog cannot make kube read a file outside it.
func TestLoadStaysInside(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("name: top-secret-value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, DomainsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, DomainsDir, "x.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || strings.Contains(err.Error(), "top-secret-value") {
		t.Fatalf("followed a link out of the catalog: %v", err)
	}
}

func TestGaps(t *testing.T) {
	files := map[string][]byte{}
	add := func(name, body string) { files[name] = []byte(body) }
	for _, d := range []string{"compute", "network", "cdn"} {
		add("domains/"+d+".yaml", "name: "+d+"\nowner: infra\nproblem: p\nresponsibilities: [r]\nfeatures: [f]\ninterfaces: [i]\n")
	}
	comp := func(name, domain, lifecycle, extra string) {
		add("components/"+name+".yaml", "name: "+name+"\ndescription: d\nkind: add-on\ndomains: ["+domain+"]\nlifecycle: "+lifecycle+"\nowner: infra\n"+extra)
	}
	comp("ingress", "network", "active", "addon: ingress-nginx\n")
	comp("old-ingress", "network", "deprecated", "replacedBy: ingress\naddon: old-ingress\n")
	comp("legacy-app", "compute", "retired", "app: legacy\n")
	comp("edge", "cdn", "experimental", "dependsOn: [old-ingress]\n")
	comp("gone", "cdn", "retired", "dependsOn: [old-ingress]\n")
	comp("unused", "compute", "deprecated", "")
	c, err := Parse("", files)
	if err != nil {
		t.Fatal(err)
	}

	addonsFile := "clusters/prod/addons.yaml"
	u := Usage{
		Addons: []Use{{Name: "ingress-nginx", Where: addonsFile + ":2:3"}, {Name: "old-ingress", Where: addonsFile + ":5:3"}},
		Apps:   []Use{{Name: "legacy", Where: "legacy/kube-generate.yaml"}, {Name: "other", Where: "other/kube-generate.yaml"}},
	}
	var got []string
	for _, g := range c.Gaps(u) {
		got = append(got, g.Message+" | "+strings.Join(g.UsedBy, "; "))
	}
	want := []string{
		"domain cdn has no active component (experimental: edge) | ",
		"domain compute has no active component | ",
		"retired component legacy-app is still in use | app legacy at legacy/kube-generate.yaml",
		"deprecated component old-ingress is still in use; move to ingress | add-on old-ingress at " + addonsFile + ":5:3; component edge (experimental) depends on it",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gaps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(want, got) {
		t.Errorf("%s differs (%v): run go test ./internal/catalog -update and review the diff\n%s", path, err, got)
	}
}

// The exports of kube's own catalog, as reviewed golden files.
func TestExportsGolden(t *testing.T) {
	c := loadExample(t)
	backstage, err := c.Backstage()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "backstage.yaml", backstage)
	labels, err := c.LabelsYAML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "labels.yaml", labels)
}

// What Backstage's catalog and GitHub accept, checked on the export.
func TestExportsFollowTheirRules(t *testing.T) {
	c := loadExample(t)
	data, err := c.Backstage()
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]int{}
	refs := map[string]bool{}
	var deps []string
	tag := regexp.MustCompile(`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`)
	for {
		var e struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string
			Metadata   struct {
				Name string
				Tags []string
			}
			Spec map[string]any
		}
		if err := dec.Decode(&e); err != nil {
			break
		}
		kinds[e.Kind]++
		refs[strings.ToLower(e.Kind)+":"+e.Metadata.Name] = true
		if e.APIVersion != "backstage.io/v1alpha1" || !dnsLabel.MatchString(e.Metadata.Name) {
			t.Errorf("entity %s/%s", e.APIVersion, e.Metadata.Name)
		}
		if owner, _ := e.Spec["owner"].(string); !strings.HasPrefix(owner, "group:") {
			t.Errorf("%s %s has owner %q", e.Kind, e.Metadata.Name, owner)
		}
		for _, tg := range e.Metadata.Tags {
			if !tag.MatchString(tg) || len(tg) > 63 {
				t.Errorf("tag %q is not a Backstage tag", tg)
			}
		}
		if s, ok := e.Spec["system"].(string); ok {
			deps = append(deps, "system:"+s)
		}
		if d, ok := e.Spec["domain"].(string); ok {
			deps = append(deps, "domain:"+d)
		}
		if ds, ok := e.Spec["dependsOn"].([]any); ok {
			for _, d := range ds {
				deps = append(deps, d.(string))
			}
		}
	}
	if kinds["Domain"] != 13 || kinds["System"] != 13 || kinds["Resource"] != 2 || kinds["Component"] != 14 {
		t.Errorf("entities: %v", kinds)
	}
	for _, d := range deps {
		if !refs[d] {
			t.Errorf("reference %s names no exported entity", d)
		}
	}
	for _, l := range c.Labels() {
		if len([]rune(l.Name)) > 50 || len([]rune(l.Description)) > 100 || !hexColor.MatchString(l.Color) || !strings.HasPrefix(l.Name, LabelPrefix) {
			t.Errorf("label %+v breaks GitHub's limits", l)
		}
	}
}

// docs/catalog-*.schema.json are what kube catalog schema prints, and they
// accept kube's own catalog and reject what Load rejects by shape.
func TestSchemas(t *testing.T) {
	for _, of := range []string{"domain", "component"} {
		s, _ := Schema(of)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		path := "../../docs/catalog-" + of + ".schema.json"
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(want, b.Bytes()) {
			t.Fatalf("%s is not current (%v): run go test ./internal/catalog -update", path, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		comp := jsonschema.NewCompiler()
		if err := comp.AddResource("schema.json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := comp.Compile("schema.json")
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(example, of+"s", "*.yaml"))
		if len(files) == 0 {
			t.Fatal("no example files")
		}
		for _, f := range files {
			if err := sch.Validate(yamlToJSON(t, f, nil)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
		bad := map[string]any{"domain": map[string]any{"name": "x", "owner": "o", "problem": "p", "responsibilities": []any{}, "features": []any{}, "interfaces": []any{}, "colour": "ffffff"},
			"component": map[string]any{"name": "x", "description": "d", "kind": "daemon", "domains": []any{"a"}, "lifecycle": "active", "owner": "o"}}[of]
		if err := sch.Validate(bad); err == nil {
			t.Errorf("the %s schema accepts %v", of, bad)
		}
	}
}

func yamlToJSON(t *testing.T, path string, _ any) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// platform/ itself a link out of the repository is refused, not followed.
func TestLinkedCatalogDirectoryIsRefused(t *testing.T) {
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, DomainsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, DomainsDir, "x.yaml"), []byte("name: top-secret-value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(repo, Dir)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(repo, Dir))
	if err == nil || !strings.Contains(err.Error(), "symbolic link out of the repository") || strings.Contains(err.Error(), "top-secret-value") {
		t.Fatalf("followed platform/ out of the repository: %v", err)
	}
}
