package addons

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/repofile"
)

func parse(t *testing.T, text string) (*File, error) {
	t.Helper()
	root := t.TempDir()
	return Parse(filepath.Join(root, "clusters", "qa", FileName), root, []byte(text))
}

func TestParseValid(t *testing.T) {
	f, err := parse(t, `repositories:
- name: ingress-nginx
  url: https://kubernetes.github.io/ingress-nginx
- name: registry
  url: registry.example.com/charts
  oci: true
releases:
- name: ingress-nginx
  namespace: ingress-nginx
  chart: ingress-nginx/ingress-nginx
  version: 4.11.2
  values:
  - ../../values/ingress-nginx.yaml
  - controller: {replicaCount: 2}
- name: policies
  namespace: kube-system
  chart: ../../manifests/policies
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Releases) != 2 || f.Releases[0].Values[1].Inline["controller"] == nil || f.Releases[0].Values[0].File != "../../values/ingress-nginx.yaml" {
		t.Fatalf("decoded %+v", f.Releases)
	}
	if f.Releases[1].Source() != FromDirectory || f.Releases[0].Source() != FromRepository {
		t.Error("sources")
	}
	if p, err := f.repoPath("../../values/x.yaml"); err != nil || p != "values/x.yaml" {
		t.Errorf("repoPath: %q %v", p, err)
	}
}

// Every mistake is reported at its file:line:column with what to do.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"unknown key", "releases:\n- name: a\n  namespace: n\n  chart: r/c\n  version: 1.0.0\n  vaules: []\n", `:6:3: unknown key "vaules" (did you mean "values"?)`},
		{"range", "repositories:\n- {name: r, url: https://x.example}\nreleases:\n- {name: a, namespace: n, chart: r/c, version: ^1.0.0}\n", `:4:39: add-on "a": version "^1.0.0" must be one exact chart version`},
		{"no version", "repositories:\n- {name: r, url: https://x.example}\nreleases:\n- {name: a, namespace: n, chart: r/c}\n", `:4:27: add-on "a": missing version`},
		{"unknown repo", "releases:\n- {name: a, namespace: n, chart: nope/c, version: 1.0.0}\n", `:2:27: add-on "a": repository "nope" is not in repositories: (there are none)`},
		{"escape", "releases:\n- {name: a, namespace: n, chart: ../../../etc}\n", `:2:27: add-on "a": chart "../../../etc" leaves the repository`},
		{"values escape", "releases:\n- name: a\n  namespace: n\n  chart: ./x\n  values: [../../../secret.yaml]\n", `:5:12: add-on "a": values file "../../../secret.yaml" leaves the repository`},
		{"absolute", "releases:\n- {name: a, namespace: n, chart: ./x, values: [/etc/passwd]}\n", `must be a relative path`},
		{"credential", "releases:\n- name: a\n  namespace: n\n  chart: ./x\n  values:\n  - {db: {password: hunter2hunter2}}\n", `:6:5: add-on "a": inline values .db.password look like a credential`},
		{"userinfo", "repositories:\n- {name: r, url: 'https://u:p@x.example'}\nreleases: []\n", `:2:13: repository "r": the url holds a user or password`},
		{"oci scheme", "repositories:\n- {name: r, url: 'oci://x.example/c', oci: true}\nreleases: []\n", `without a scheme`},
		{"twice", "releases:\n- {name: a, namespace: n, chart: ./x}\n- {name: a, namespace: n, chart: ./y}\n", `:3:4: add-on "a" is defined twice`},
		{"bad name", "releases:\n- {name: A_b, namespace: n, chart: ./x}\n", `add-on name "A_b" must be a DNS label`},
		{"chart is the root", "releases:\n- {name: a, namespace: n, chart: ../..}\n", `:2:27: add-on "a": chart "../.." is the repository's root`},
		{"values in .git", "releases:\n- name: a\n  namespace: n\n  chart: ./x\n  values: [../../.git/config]\n", `:5:12: add-on "a": values file "../../.git/config" is version-control metadata`},
		{"values type", "releases:\n- {name: a, namespace: n, chart: ./x, values: [3]}\n", `expected a values file (a path) or a mapping of values`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("repositories:\n- {name: r, url: https://x.example}\nreleases:\n- {name: a, namespace: n, chart: r/c, version: 1.0.0, values: [{a: 1}, v.yaml]}\n")
	f.Add("releases:\n- {name: a, namespace: n, chart: ../x}\n")
	f.Add("releases: [{name: a, namespace: n, chart: './a/../../b'}]")
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse(filepath.Join(root, "clusters", "qa", FileName), root, []byte(text))
		if err != nil {
			return
		}
		// What validates never leaves the repository.
		for _, r := range file.Releases {
			paths := []string{}
			if r.Source() == FromDirectory {
				paths = append(paths, r.Chart)
			}
			for _, v := range r.Values {
				if v.File != "" {
					paths = append(paths, v.File)
				}
			}
			for _, p := range paths {
				rel, err := file.repoPath(p)
				if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) || repofile.IsVCS(rel) {
					t.Fatalf("%q validated but resolves to %q (%v)", p, rel, err)
				}
			}
		}
	})
}
