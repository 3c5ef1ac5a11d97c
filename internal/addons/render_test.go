package addons

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/testsupport"
)

const checkoutToken = "eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldA=="

// A platform repository as CI checks it out: .git/config holds the job's token.
func platformRepo(t *testing.T, addonsYAML string, files map[string]string) (*File, string) {
	t.Helper()
	root := t.TempDir()
	testsupport.WriteFiles(t, root, map[string]string{
		".git/config":             "[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic " + checkoutToken + "\n",
		"clusters/qa/addons.yaml": addonsYAML,
	})
	testsupport.WriteFiles(t, root, files)
	f, err := Load(filepath.Join(root, "clusters", "qa", FileName), root)
	if err != nil {
		t.Fatal(err)
	}
	return f, root
}

func renderOne(t *testing.T, f *File) (*Rendered, error) {
	t.Helper()
	r := &Renderer{KubeVersion: "v1.37.0"}
	return r.Render(context.Background(), f, &f.Releases[0])
}

// A chart template cannot read the checkout's .git/config: not by name, not
// through a link inside the chart.
func TestChartsCannotReadVersionControlMetadata(t *testing.T) {
	f, root := platformRepo(t, "releases:\n- {name: demo, namespace: demo, chart: ../../charts/demo}\n", map[string]string{
		"charts/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
		"charts/demo/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: leak}
data:
  byName: {{ .Files.Get "git/config" | quote }}
  byLink: {{ .Files.Get "files/config" | quote }}
`,
	})
	if err := os.Symlink("../../.git", filepath.Join(root, "charts", "demo", "git")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "charts", "demo", "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../.git/config", filepath.Join(root, "charts", "demo", "files", "config")); err != nil {
		t.Fatal(err)
	}
	out, err := renderOne(t, f)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := out.Objects[0].Object["data"].(map[string]any)
	if data["byName"] != "" || data["byLink"] != "" {
		t.Fatalf("the chart read .git/config: %v", data)
	}
}

func TestValuesFilesAreScannedForCredentials(t *testing.T) {
	f, _ := platformRepo(t, "releases:\n- name: demo\n  namespace: demo\n  chart: ../../charts/demo\n  values: [../../values/demo.yaml]\n", map[string]string{
		"charts/demo/Chart.yaml":        "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
		"charts/demo/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"values/demo.yaml":              "db:\n  password: hunter2hunter2\n",
	})
	_, err := renderOne(t, f)
	if err == nil || !strings.Contains(err.Error(), "values file ../../values/demo.yaml: .db.password looks like a credential") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

// addons.yaml as a link to a file outside the repository is refused unread.
func TestLinkedAddonsFileIsRefused(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "token")
	testsupport.WriteFiles(t, filepath.Dir(outside), map[string]string{"token": "ghp_0123456789abcdefghijklmnopqrstuvwxyz01\n"})
	if err := os.MkdirAll(filepath.Join(root, "clusters", "qa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "clusters", "qa", FileName)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(root, "clusters", "qa", FileName), root)
	if err == nil || !strings.Contains(err.Error(), "addons.yaml:1:1: a symbolic link or path that leaves") || strings.Contains(err.Error(), "ghp_") {
		t.Fatalf("got %v", err)
	}
}

func chartRepo(t *testing.T, template string) *File {
	t.Helper()
	f, _ := platformRepo(t, "releases:\n- {name: demo, namespace: demo, chart: ../../charts/demo}\n", map[string]string{
		"charts/demo/Chart.yaml":        "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
		"charts/demo/templates/cm.yaml": template,
	})
	return f
}

// A hostile chart cannot take CI's memory or time: functions whose cost the
// template chooses are bounded, and so are rendering time and output.
func TestRenderingIsBounded(t *testing.T) {
	for _, c := range []struct{ name, tpl, want string }{
		{"repeat", `{{ repeat 1000000000 "xx" }}`, "repeat: 1000000000 copies of 2 bytes is more than"},
		{"until", `{{ range until 1000000000 }}x{{ end }}`, "a list of 1000000000 items is more than"},
		{"untilStep", `{{ range untilStep 0 1000000000 1 }}x{{ end }}`, "a list of 1000000000 items is more than"},
		{"seq", `{{ seq 1000000000 }}`, "seq: 1000000000 is beyond"},
		{"randAlpha", `{{ randAlpha 100000000 }}`, "randAlpha: 100000000 bytes"},
		{"indent", `{{ indent 100000000 "x" }}`, "indent: 100000001 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderOne(t, chartRepo(t, c.tpl))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// Within each function's bound, but too much together.
	f := chartRepo(t, "{{ range until 40 }}# {{ repeat 1000000 \"x\" }}\n{{ end }}")
	if _, err := renderOne(t, f); err == nil || !strings.Contains(err.Error(), "the chart rendered 38 MiB, more than the 32 MiB") {
		t.Fatalf("output: %v", err)
	}
	f = chartRepo(t, "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}")
	r := &Renderer{KubeVersion: "v1.37.0", RenderTimeout: 200 * time.Millisecond}
	if _, err := r.Render(context.Background(), f, &f.Releases[0]); err == nil || !strings.Contains(err.Error(), "rendering took more than 200ms") {
		t.Fatalf("time: %v", err)
	}
	// Ordinary use still works.
	out, err := renderOne(t, chartRepo(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: {{ repeat 3 \"ab\" | quote }}\n  b: {{ until 3 | join \",\" | quote }}\n  c: |\n{{ \"x\\ny\" | indent 4 }}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if data := out.Objects[0].Object["data"].(map[string]any); data["a"] != "ababab" || data["b"] != "0,1,2" || data["c"] != "x\ny\n" {
		t.Fatalf("data %v", data)
	}
}

// A chart that excludes the Kubernetes version renders anyway when asked
// (the upgrade check reports the constraint itself), and says its constraint.
func TestIgnoreKubeVersion(t *testing.T) {
	f, _ := platformRepo(t, "releases:\n- {name: demo, namespace: demo, chart: ../../charts/demo}\n", map[string]string{
		"charts/demo/Chart.yaml":        "apiVersion: v2\nname: demo\nversion: 1.0.0\nkubeVersion: \"<1.30.0-0\"\n",
		"charts/demo/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
	})
	if _, err := (&Renderer{KubeVersion: "v1.32.0"}).Render(context.Background(), f, &f.Releases[0]); err == nil || !strings.Contains(err.Error(), "kubeVersion") {
		t.Fatalf("Helm's check: %v", err)
	}
	out, err := (&Renderer{KubeVersion: "v1.32.0", IgnoreKubeVersion: true}).Render(context.Background(), f, &f.Releases[0])
	if err != nil || out.KubeVersion != "<1.30.0-0" || len(out.Objects) != 1 {
		t.Fatalf("%+v %v", out, err)
	}
	// Each object names the template it came from (where the upgrade check
	// places its findings).
	if len(out.Templates) != 1 || out.Templates[0] != "demo/templates/cm.yaml" {
		t.Fatalf("templates %q", out.Templates)
	}
}
