// Command fleetgen writes a synthetic fleet for bench/generate.sh: N apps, each
// with a kube-generate.yaml for 3 clusters, and the same manifests expressed as a
// Helm chart (values per app-cluster) and as Kustomize overlays (per app-cluster).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/spec"
)

var clusters = []string{"sandbox", "qa", "prod"}

const specTemplate = `app: %[1]s
team: team-%[2]d
slack: "#team-%[2]d"
generates:
- namespace:
    clusters: [sandbox, qa, prod]
- serviceAccount:
    clusters: [sandbox, qa, prod]
- configMap:
    name: settings
    clusters: [sandbox, qa, prod]
    data: {REGION: eu, FEATURE_X: "on"}
- web:
    clusters: [sandbox, qa, prod]
    image: registry.example.com/%[1]s
    tag: {default: "1.%[2]d.0", sandbox: latest}
    replicas: {default: 2, prod: %[3]d, sandbox: 1}
    resources: {cpu: 100m, memory: 256Mi}
    serviceAccount: %[1]s%[4]s
    env:
      LOG_LEVEL: {default: info, sandbox: debug}
      DATABASE_URL: {secret: %[1]s-db, key: url}
- worker:
    name: worker
    clusters: [sandbox, qa, prod]
    image: registry.example.com/%[1]s
    tag: {default: "1.%[2]d.0", sandbox: latest}
    args: [work]
    replicas: {default: 1, prod: 2}
    resources: {cpu: 50m, memory: 128Mi}
- cronjob:
    name: cleanup
    clusters: [qa, prod]
    image: registry.example.com/%[1]s
    tag: "1.%[2]d.0"
    args: [cleanup]
    schedule: "%[2]d 3 * * *"
- route:
    clusters: [qa, prod]
    host: {qa: %[1]s.qa.example.com, prod: %[1]s.example.com}
- alerts:
    clusters: [sandbox, qa, prod]
    channels: {critical: {default: "#team-%[2]d", prod: "#team-%[2]d-oncall"}}
    rules:
    - alert: QueueBacklogHigh
      expr: {default: 'sum by (namespace) (queue_depth{namespace="%[1]s"}) > 100', prod: 'sum by (namespace) (queue_depth{namespace="%[1]s"}) > 1000'}
      for: 10m
      severity: warning
      summary: 'The queue holds {{ $value }} jobs'
      runbook: https://runbooks.example.com/%[1]s/backlog
    tests:
    - clusters: [qa]
      input: [{series: 'queue_depth{namespace="%[1]s"}', values: '0+20x20'}]
      alerts:
      - {at: 20m, alert: QueueBacklogHigh, expect: [{labels: {namespace: %[1]s, severity: warning}}]}
`

// sloEntry gives every app two objectives on its servicex web process
// (bench/slo.sh), with a freeze policy on prod.
const sloEntry = `- slo:
    clusters: [sandbox, qa, prod]
    policy: {default: none, prod: freeze}
    objectives:
    - name: availability
      objective: {default: 99.9, prod: 99.95}
    - name: latency
      objective: 99
      sli: {latency: {threshold: 250ms}}
`

func main() {
	out := flag.String("out", "", "output directory")
	apps := flag.Int("apps", 80, "number of apps")
	slos := flag.Bool("slo", false, "give every app's web process servicex and two SLOs")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	for i := 0; i < *apps; i++ {
		app := fmt.Sprintf("app-%02d", i)
		dir := filepath.Join(*out, "kube", app)
		must(os.MkdirAll(dir, 0o755))
		specPath := filepath.Join(dir, spec.FileName)
		text := fmt.Sprintf(specTemplate, app, i%50, 3+i%5, "")
		if *slos {
			text = fmt.Sprintf(specTemplate, app, i%50, 3+i%5, "\n    servicex: true") + sloEntry
		}
		must(os.WriteFile(specPath, []byte(text), 0o644))
		f, err := generate.LoadSpec(specPath)
		must(err)
		files, err := generate.Generate(f, dir)
		must(err)
		if i == 0 {
			writeChart(filepath.Join(*out, "helm", "chart"), app, files)
		}
		for _, c := range clusters {
			values := fmt.Sprintf("app: %s\ntag: %q\nreplicas: %d\n", app, tagFor(c, i), replicasFor(c, i))
			must(os.MkdirAll(filepath.Join(*out, "helm", "values"), 0o755))
			must(os.WriteFile(filepath.Join(*out, "helm", "values", app+"-"+c+".yaml"), []byte(values), 0o644))
		}
		writeKustomize(filepath.Join(*out, "kustomize", app), app, i, files)
	}
}

func tagFor(cluster string, i int) string {
	if cluster == "sandbox" {
		return "latest"
	}
	return fmt.Sprintf("1.%d.0", i%50)
}

func replicasFor(cluster string, i int) int {
	switch cluster {
	case "prod":
		return 3 + i%5
	case "sandbox":
		return 1
	}
	return 2
}

// writeChart turns app-00's prod manifests into templates: the same objects, with
// the app name, tag and replicas as values.
func writeChart(dir, app string, files []generate.File) {
	must(os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: app\nversion: 1.0.0\n"), 0o644))
	for _, f := range files {
		if f.Cluster != "prod" {
			continue
		}
		// Alert templates ({{ $value }}) are literal text to helm, as a chart
		// author would escape them.
		s := strings.NewReplacer("{{", "\x00L", "}}", "\x00R").Replace(string(f.Content))
		s = strings.NewReplacer("\x00L", `{{ "{{" }}`, "\x00R", `{{ "}}" }}`).Replace(s)
		s = strings.ReplaceAll(s, ":"+tagFor("prod", 0), ":{{ .Values.tag }}")
		s = strings.ReplaceAll(s, "replicas: 3\n", "replicas: {{ .Values.replicas }}\n")
		s = strings.ReplaceAll(s, app, "{{ .Values.app }}")
		must(os.WriteFile(filepath.Join(dir, "templates", filepath.Base(f.Path)), []byte(s), 0o644))
	}
}

// writeKustomize writes the app's qa manifests as a base and one overlay per
// cluster that sets the image tag and replicas.
func writeKustomize(dir, app string, i int, files []generate.File) {
	base := filepath.Join(dir, "base")
	must(os.MkdirAll(base, 0o755))
	var resources []string
	for _, f := range files {
		if f.Cluster != "qa" {
			continue
		}
		name := filepath.Base(f.Path)
		resources = append(resources, name)
		must(os.WriteFile(filepath.Join(base, name), f.Content, 0o644))
	}
	must(os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte("resources:\n- "+strings.Join(resources, "\n- ")+"\n"), 0o644))
	for _, c := range clusters {
		o := filepath.Join(dir, "overlays", c)
		must(os.MkdirAll(o, 0o755))
		k := fmt.Sprintf("resources:\n- ../../base\nimages:\n- name: registry.example.com/%s\n  newTag: %q\nreplicas:\n- name: worker\n  count: %d\n- name: %s\n  count: %d\n",
			app, tagFor(c, i), replicasFor(c, i), app, replicasFor(c, i))
		must(os.WriteFile(filepath.Join(o, "kustomization.yaml"), []byte(k), 0o644))
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
