package spec_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/generate"
	. "github.com/kube-idp/kube/internal/spec"
)

// Parse must survive any file: no panic, and either a spec or errors that all
// point into the file with a message.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../examples/billing/kube-generate.yaml", "../../examples/storefront/kube-generate.yaml", "../../examples/orders/kube-generate.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	seeds, _ := os.ReadDir("testdata/errors")
	for _, s := range seeds {
		if strings.HasSuffix(s.Name(), ".yaml") {
			data, _ := os.ReadFile("testdata/errors/" + s.Name())
			f.Add(string(data))
		}
	}
	f.Add("generates:\n- configMap: {name: c, clusters: [qa], files: [\"../x\", \"k=/etc/passwd\"]}\n")
	f.Add("generates:\n- web: &w {clusters: [qa], image: r/a, tag: '1', env: {A: *w}}\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := generate.ParseSpec("app/kube-generate.yaml", []byte(in))
		if err == nil {
			if file == nil || len(file.Generates) == 0 || !ValidName(file.App) {
				t.Fatalf("accepted an invalid spec: %+v", file)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not a list of positioned errors: %v", err)
		}
		lines := strings.Count(in, "\n") + 2
		for _, e := range errs {
			if e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Column < 1 || e.Msg == "" {
				t.Fatalf("badly positioned error %+v", e)
			}
		}
	})
}
