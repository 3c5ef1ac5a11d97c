package spec_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/generate"
	. "github.com/kube-idp/kube/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Every class of error, all reported at once with file:line:column.
func TestErrorsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.yaml")
	if len(files) < 8 {
		t.Fatalf("only %d error cases", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := generate.LoadSpec(f)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load() error = %v, want Errors", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/spec -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			for _, e := range errs {
				if e.File != f || e.Pos.Line < 1 || e.Pos.Column < 1 {
					t.Errorf("error without a position: %+v", e)
				}
			}
		})
	}
}

// A credential is refused without ever being echoed.
func TestCredentialValueNeverInMessage(t *testing.T) {
	_, err := generate.LoadSpec("testdata/errors/credential.yaml")
	if err == nil {
		t.Fatal("credential accepted")
	}
	for _, secret := range []string{"s3cr3t-Passw0rd", "hunter22", "AKIAABCDEFGHIJKLMNOP"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error message contains the secret %q", secret)
		}
	}
	if strings.Contains(err.Error(), "GREETING") {
		t.Errorf("a plain value was flagged: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := generate.ParseSpec(filepath.Join(dir, FileName), []byte(`
slack: "#team"
generates:
- web: {clusters: [qa], image: r/a, tag: "1"}
- cronjob: {name: c, clusters: [qa], image: r/a, tag: "1", schedule: "* * * * *"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.App != "my-app" || f.Namespace != "my-app" || strings.Join(f.Clusters, ",") != "sandbox,qa,prod" {
		t.Errorf("file defaults: app %q namespace %q clusters %v", f.App, f.Namespace, f.Clusters)
	}
	w := f.Generates[0].Spec.(*generate.WebGen)
	if w.Name != "my-app" || w.Port != 8080 || w.Replicas.For("qa") != 2 || w.Health != "/healthz" {
		t.Errorf("web defaults: %+v", w)
	}
	c := f.Generates[1].Spec.(*generate.CronJobGen)
	if c.Notify != "#team" || c.ConcurrencyPolicy != "Forbid" || c.TimeZone != "Etc/UTC" || c.History.Failed != 3 {
		t.Errorf("cronjob defaults: %+v", c)
	}
}

func TestPerCluster(t *testing.T) {
	f, err := generate.ParseSpec("x/"+FileName, []byte(`
app: a
generates:
- web:
    clusters: [qa, prod]
    image: r/a
    tag: "1"
    replicas: {default: 2, prod: 6}
    resources: {default: {cpu: 1m}, prod: {cpu: 2m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := f.Generates[0].Spec.(*generate.WebGen)
	if w.Replicas.For("qa") != 2 || w.Replicas.For("prod") != 6 {
		t.Errorf("replicas: %+v", w.Replicas)
	}
	if w.Resources.For("qa").CPU != "1m" || w.Resources.For("prod").CPU != "2m" {
		t.Errorf("resources: %+v", w.Resources)
	}
}

func TestSchemaCoversEveryGenerator(t *testing.T) {
	s := generate.Schema()
	items := s["properties"].(map[string]any)["generates"].(map[string]any)["items"].(map[string]any)
	props := items["properties"].(map[string]any)
	for _, k := range generate.Kinds.Keys() {
		if _, ok := props[k]; !ok {
			t.Errorf("schema lacks generator %q", k)
		}
	}
	web := props["web"].(map[string]any)
	if web["additionalProperties"] != false || len(web["required"].([]string)) == 0 {
		t.Errorf("web schema is not strict: %v", web)
	}
}

// docs/kube-generate.schema.json is what `kube generate --schema` prints.
func TestCommittedSchemaIsCurrent(t *testing.T) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generate.Schema()); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/kube-generate.schema.json"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != b.String() {
		t.Fatalf("%s is not current (%v): run go test ./internal/spec -update", path, err)
	}
}
