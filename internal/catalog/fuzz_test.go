package catalog

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Any pair of a domain file and a component file: kube either rejects them with every
// error at file:line:column of one of them, or accepts them and then exports
// Backstage YAML that parses and labels within GitHub's limits.
func FuzzParse(f *testing.F) {
	// Small seeds: Go minimizes every new input for up to a minute, which
	// with large seeds took all of a short fuzzing run.
	domain, err := os.ReadFile(filepath.Join(example, DomainsDir, "cdn.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	component, err := os.ReadFile(filepath.Join(example, ComponentsDir, "helm-releases.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append(domain, 0), component...))
	f.Add([]byte("name: a\nowner: o\nproblem: p\nresponsibilities: [r]\nfeatures: [f]\ninterfaces: [i]\n\x00" +
		"name: b\ndescription: d\nkind: add-on\ndomains: [a]\nlifecycle: deprecated\nreplacedBy: b\nowner: o\nlinks: [{title: t, url: 'http://x'}]\n"))
	at := regexp.MustCompile(`^(domains/a\.yaml|components/b\.yaml):[1-9][0-9]*:[1-9][0-9]*: `)
	// One input, the two files split at the first NUL: Go's fuzzer stalled
	// here with two []byte arguments.
	f.Fuzz(func(t *testing.T, data []byte) {
		domain, component, _ := bytes.Cut(data, []byte{0})
		c, err := Parse("", map[string][]byte{"domains/a.yaml": domain, "components/b.yaml": component})
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if line != "" && !at.MatchString(line) && !strings.HasPrefix(line, "  ") {
					t.Fatalf("error without file:line:column: %q", line)
				}
			}
			return
		}
		out, err := c.Backstage()
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		for {
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("Backstage export does not parse: %v\n%s", err, out)
				}
				break
			}
		}
		for _, l := range c.Labels() {
			if len([]rune(l.Name)) > 50 || len([]rune(l.Description)) > 100 || !hexColor.MatchString(l.Color) {
				t.Fatalf("label %+v breaks GitHub's limits", l)
			}
		}
	})
}
