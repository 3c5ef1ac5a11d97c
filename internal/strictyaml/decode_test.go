package strictyaml

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Name string `yaml:"name" required:"true"`
}

type doc struct {
	inner   `yaml:",inline"`
	Count   int               `yaml:"count"`
	Enabled bool              `yaml:"enabled"`
	Tags    []string          `yaml:"tags"`
	Labels  map[string]string `yaml:"labels"`
	Loc     Loc
}

func TestUnmarshal(t *testing.T) {
	var d doc
	if errs := Unmarshal("f.yaml", []byte("name: a\ncount: 3\nenabled: true\ntags: [x, y]\nlabels: {k: v}\n"), &d); errs != nil {
		t.Fatal(errs)
	}
	if d.Name != "a" || d.Count != 3 || !d.Enabled || strings.Join(d.Tags, ",") != "x,y" || d.Labels["k"] != "v" {
		t.Fatalf("decoded %+v", d)
	}
	if p := d.Loc.At("tags"); p.Line != 4 || p.Column != 1 {
		t.Fatalf("position of tags: %+v", p)
	}
}

func TestUnmarshalCollectsEveryError(t *testing.T) {
	var d doc
	errs := Unmarshal("f.yaml", []byte("count: many\nenabeld: true\ntags: x\nlabels: {k: v, k: w}\n"), &d)
	got := errs.Error()
	for _, want := range []string{
		`f.yaml:1:1: missing required key "name"`,
		`f.yaml:1:8: expected a whole number, got "many"`,
		`f.yaml:2:1: unknown key "enabeld" (did you mean "enabled"?); allowed: count, enabled, labels, name, tags`,
		`f.yaml:3:7: expected a list, got "x"`,
		`f.yaml:4:16: duplicate key "k"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"", "a: [", "a: 1\n---\nb: 2\n"} {
		if errs := Unmarshal("f.yaml", []byte(bad), &d); len(errs) != 1 {
			t.Errorf("Unmarshal(%q) = %v, want one error", bad, errs)
		}
	}
}

// tree is a recursive type for alias bombs.
type tree struct {
	Kids []tree `yaml:"kids"`
}

// billionLaughs nests aliases ten to a level: levels=9 expands to 10^9 nodes.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 {kids: []}\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {kids: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	return b.String()
}

// Nested aliases are decoded again at every use: without a budget a 1 KB file
// expands to 10^9 nodes. The decoder stops at the budget with one error.
func TestAliasExpansionIsBounded(t *testing.T) {
	var v map[string]tree
	start := time.Now()
	errs := Unmarshal("bomb.yaml", []byte(billionLaughs(9)), &v)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "more than 100000 nodes through aliases") {
		t.Fatalf("errors = %v", errs)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s", elapsed) // the unbounded decoder takes hours
	}
	// A document that uses aliases modestly decodes normally.
	var ok map[string][]string
	if errs := Unmarshal("ok.yaml", []byte("a: &x [p, q]\nb: *x\nc: *x\n"), &ok); errs != nil || len(ok["c"]) != 2 {
		t.Fatalf("modest aliases: %v %v", errs, ok)
	}
}

func TestLargeFilesAreRefused(t *testing.T) {
	big := "k: " + strings.Repeat("x", MaxFileSize) + "\n"
	if _, errs := Parse("big.yaml", []byte(big)); len(errs) != 1 || !strings.Contains(errs[0].Error(), "big.yaml:1:1: the file is larger than 1024 KiB") {
		t.Fatalf("Parse: %v", errs)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("ReadFile: %v", err)
	}
}

// A file that is not what kube expected (a token behind a link, a credentials
// file) must not reach a CI log through an error message.
func TestErrorsQuoteOnlyAShortScannedExcerpt(t *testing.T) {
	type spec struct {
		Name string `yaml:"name"`
	}
	for _, c := range []struct{ content, secret string }{
		{"eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl\n", "eyJpc3MiOiJrdWJlcm5ldGVzIn0"},
		{"https://ci:ghp_0123456789abcdefghijklmnopqrstuvwxyz@github.com\n", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"},
		{"3f7a9c2e8b1d4f6a0c5e9b2d7f1a3c8e5b0d2f4a\n", "3f7a9c2e8b1d4f6a0c5e9b2d7f1a3c8e5b0d2f4a"},
		{"x-access-token-3f7a9c2e8b1d4f6a0c5e9b2d7f1a: 1\n", "3f7a9c2e8b1d4f6a0c5e9b2d7f1a"},
	} {
		var s spec
		errs := Unmarshal("kube-generate.yaml", []byte(c.content), &s)
		if errs == nil {
			t.Fatalf("%q: no error", c.content)
		}
		if msg := errs.Error(); strings.Contains(msg, c.secret) || !strings.HasPrefix(msg, "kube-generate.yaml:1:1: ") {
			t.Errorf("message quotes the file: %s", msg)
		}
	}
	if got := Excerpt("web"); got != `"web"` {
		t.Errorf("a short value is quoted whole: %s", got)
	}
}

func TestReadFileInRefusesLinksLeavingTheDirectory(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "token")
	if err := os.WriteFile(secret, []byte("name: secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(dir, "kube-generate.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real.yaml"), []byte("name: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.yaml", filepath.Join(dir, "inside.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFileIn(dir, "kube-generate.yaml")
	var errs Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "kube-generate.yaml:1:1: a symbolic link or path that leaves") {
		t.Fatalf("a link leaving the directory: %v", err)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("the target was read: %v", err)
	}
	if data, err := ReadFileIn(dir, "inside.yaml"); err != nil || string(data) != "name: x\n" {
		t.Fatalf("a link inside the directory: %q, %v", data, err)
	}
	if _, err := ReadFileIn(dir, "missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// Strings kube prints cannot carry terminal escape sequences.
func TestControlCharactersAreRefused(t *testing.T) {
	type spec struct {
		Name string `yaml:"name"`
	}
	var s spec
	errs := Unmarshal("f.yaml", []byte("name: \"ok\\e[2J\"\n"), &s)
	if errs == nil || errs.Error() != "f.yaml:1:7: the value holds the control character U+001B; only tabs and line breaks are allowed" {
		t.Fatalf("got %v", errs)
	}
	if errs := Unmarshal("f.yaml", []byte("name: \"a\\tb\\nc\"\n"), &s); errs != nil || s.Name != "a\tb\nc" {
		t.Fatalf("tabs and line breaks: %v %q", errs, s.Name)
	}
}
