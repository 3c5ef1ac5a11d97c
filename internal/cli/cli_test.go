package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("KUBE_STATE_DIR", t.TempDir())
	t.Setenv("KUBE_CACHE_DIR", t.TempDir())
	t.Setenv("KUBE_CLUSTER", "")
}

func TestVersionWithoutClusterIsNotAnError(t *testing.T) {
	isolate(t)
	code, out, _ := run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v.Client == "" || v.Go != runtime.Version() || v.Server != "" || !strings.Contains(v.ServerErr, "kube sandbox up") {
		t.Fatalf("version = %+v", v)
	}
	code, out, _ = run(t, "version")
	if code != 0 || !strings.Contains(out, "go:     "+runtime.Version()) || !strings.Contains(out, "server: not reachable") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestBadInputIsAUsageError(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{
		{"version", "-o", "xml"},
		{"version", "--no-such-flag"},
		{"sandbox", "status", "-o", "xml"},
	} {
		code, _, errOut := run(t, args...)
		if code != 2 || !strings.HasPrefix(errOut, "Error: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with an error", args, code, errOut)
		}
	}
	if code, _, errOut := run(t, "sandbox", "up", "--name", "Bad_Name"); code != 2 || !strings.Contains(errOut, "invalid sandbox name") {
		t.Errorf("bad name: exit %d, %q", code, errOut)
	}
}

func TestSandboxStatusWhenStopped(t *testing.T) {
	isolate(t)
	code, out, _ := run(t, "sandbox", "status")
	if code != 3 || !strings.Contains(out, "state:      stopped") || !strings.Contains(out, "kube sandbox up") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	code, out, _ = run(t, "sandbox", "status", "-o", "json")
	if code != 3 || !strings.Contains(out, `"state": "stopped"`) {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	code, _, errOut := run(t, "sandbox", "kubeconfig")
	if code != 1 || !strings.Contains(errOut, "not running") {
		t.Fatalf("kubeconfig: exit %d, %q", code, errOut)
	}
	code, _, errOut = run(t, "sandbox", "down")
	if code != 0 || !strings.Contains(errOut, "nothing to do") {
		t.Fatalf("down: exit %d, %q", code, errOut)
	}
}

func TestHelpTeaches(t *testing.T) {
	code, out, _ := run(t, "sandbox", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"kube sandbox up", "-c local", "12 minutes", "KUBE_CACHE_DIR"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestGenerateJSONAndSchema(t *testing.T) {
	code, out, _ := run(t, "generate", "-o", "json", "../../examples/storefront")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var reports []struct {
		Dir   string
		Files []struct{ Path, State string }
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil || len(reports) != 1 || len(reports[0].Files) < 5 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, f := range reports[0].Files {
		if f.State != "unchanged" {
			t.Errorf("%s: %s", f.Path, f.State)
		}
	}
	code, out, _ = run(t, "generate", "--schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &schema) != nil || schema["title"] != "kube-generate.yaml" {
		t.Fatalf("--schema: exit %d, %.200s", code, out)
	}
	if code, _, errOut := run(t, "generate", "--file", "x.yaml", "a", "b"); code != 2 || !strings.Contains(errOut, "one directory") {
		t.Fatalf("--file with two dirs: exit %d %q", code, errOut)
	}
	// Exit codes: 1 out of date, 2 a spec that is missing or invalid.
	if code, _, errOut := run(t, "generate", t.TempDir()); code != 2 || !strings.Contains(errOut, "kube-generate.yaml") {
		t.Fatalf("no spec: exit %d %q", code, errOut)
	}
	bad := t.TempDir()
	if err := os.WriteFile(bad+"/kube-generate.yaml", []byte("generates:\n- web: {clusters: [qa]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "generate", bad); code != 2 || !strings.Contains(errOut, "kube-generate.yaml:2:8: missing required key \"image\"") {
		t.Fatalf("invalid spec: exit %d %q", code, errOut)
	}
}

func TestDiffIsColoredOnlyOnATerminal(t *testing.T) {
	d := "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n same\n"
	if got := (&IOStreams{}).Diff(d); got != d {
		t.Fatalf("colored without a terminal: %q", got)
	}
	got := (&IOStreams{OutTTY: true}).Diff(d)
	if !strings.Contains(got, "\033[31m-old\033[0m\n") || !strings.Contains(got, "\033[32m+new\033[0m\n") || !strings.Contains(got, " same\n") {
		t.Fatalf("colored diff: %q", got)
	}
}

func TestClusterNamesComplete(t *testing.T) {
	isolate(t)
	reg := t.TempDir() + "/clusters.yaml"
	if err := os.WriteFile(reg, []byte("clusters:\n- name: qa\n  server: https://qa.example.com\n  certificateAuthority: ca.crt\n  auth: {exec: {command: aws}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_REGISTRY", reg)
	code, out, _ := run(t, "__complete", "deploy", "-c", "")
	if code != 0 || !strings.Contains(out, "local\n") || !strings.Contains(out, "qa\n") {
		t.Fatalf("completion: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "clusters", "-o", "json")
	if code != 0 || !strings.Contains(out, `"name": "qa"`) || !strings.Contains(out, `"auth": "exec"`) {
		t.Fatalf("clusters: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "use", "--shell", "qa")
	if code != 0 || out != "export KUBE_CLUSTER=qa\n" {
		t.Fatalf("use --shell: exit %d %q", code, out)
	}
}

// run, exec and kubectl return their child's exit code, so kube's own failures
// use 125 (kube failed), 126 (cannot start) and 127 (not found), as docker run does.
func TestPassThroughExitCodes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("builds a fake kubectl as a Unix program")
	}
	isolate(t)
	t.Setenv("PATH", t.TempDir()) // no kubectl, and no sandbox cache (isolate)
	if code, _, errOut := run(t, "kubectl", "get", "pods"); code != 127 || !strings.Contains(errOut, "kubectl is not installed") {
		t.Errorf("kubectl missing: exit %d %q", code, errOut)
	}
	// A kubectl that cannot be started (not a program), and a cluster kube can resolve.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	kubeconfig := filepath.Join(dir, "config")
	_ = os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"), 0o600)
	registry := filepath.Join(dir, "clusters.yaml")
	_ = os.WriteFile(registry, []byte("clusters:\n- name: k\n  auth: {kubeconfig: {file: "+kubeconfig+", context: x}}\n"), 0o644)
	t.Setenv("KUBE_REGISTRY", registry)
	if code, _, errOut := run(t, "-c", "k", "kubectl", "get", "pods"); code != 126 || !strings.Contains(errOut, "starting kubectl") {
		t.Errorf("kubectl cannot start: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, "-c", "no-such-cluster", "kubectl", "get", "pods"); code != 125 || !strings.Contains(errOut, `unknown cluster "no-such-cluster"`) {
		t.Errorf("unknown cluster: exit %d %q", code, errOut)
	}
	for _, args := range [][]string{{"run", "--no-such-flag", "--", "true"}, {"exec", "web"}, {"run", "-c", "no-such-cluster", "--", "true"}} {
		if code, _, _ := run(t, args...); code != 125 {
			t.Errorf("%v: exit %d, want 125", args, code)
		}
	}
	// Elsewhere bad input stays 2.
	if code, _, _ := run(t, "deploy", "--no-such-flag"); code != 2 {
		t.Errorf("deploy --no-such-flag: exit %d, want 2", code)
	}
}

// An app never deploys into the platform's namespaces: the built-in ones, and
// those the registry lists for the cluster.
func TestDeployRefusesPlatformNamespaces(t *testing.T) {
	dir := unreachableCluster(t, "  platformNamespaces: [ops]\n")
	repo := filepath.Join(dir, "tools")
	_ = os.MkdirAll(repo, 0o755)
	_ = os.WriteFile(filepath.Join(repo, "kube-generate.yaml"), []byte("app: tools\nnamespace: ops\ngenerates:\n- serviceAccount:\n    clusters: [qa]\n"), 0o644)
	if code, _, errOut := run(t, "generate", "--update", repo); code != 0 {
		t.Fatalf("generate: exit %d %s", code, errOut)
	}
	t.Chdir(repo)
	code, out, errOut := run(t, "deploy", "-c", "qa", "--yes")
	if code != 2 || out != "" || !strings.Contains(errOut, "namespace ops is the platform's on cluster qa") {
		t.Fatalf("exit %d %q %s", code, out, errOut)
	}
}

// unreachableCluster isolates the test with a registry whose cluster qa (with
// the extra entry keys given) answers nowhere, and returns its directory.
func unreachableCluster(t *testing.T, extra string) string {
	t.Helper()
	isolate(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	_ = os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"), 0o600)
	registry := filepath.Join(dir, "clusters.yaml")
	_ = os.WriteFile(registry, []byte("clusters:\n- name: qa\n"+extra+"  auth: {kubeconfig: {file: "+kubeconfig+", context: x}}\n"), 0o644)
	t.Setenv("KUBE_REGISTRY", registry)
	return dir
}

// Every command, given a flag it does not have or a bad -o, exits 2 (125 for
// the pass-through commands, as docker run) and prints nothing on stdout:
// nothing ran.
func TestEveryCommandRefusesBadFlags(t *testing.T) {
	isolate(t)
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c.DisableFlagParsing || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		want := 2
		if c.Annotations[passThrough] != "" {
			want = exitKubeError
		}
		cases := [][]string{append(append([]string{}, path...), "--no-such-flag")}
		if c.Flags().Lookup("output") != nil || c.InheritedFlags().Lookup("output") != nil {
			cases = append(cases, append(append([]string{}, path...), "-o", "xml"))
		}
		for _, args := range cases {
			checked++
			if code, out, errOut := run(t, args...); code != want || out != "" || !strings.HasPrefix(errOut, "Error: ") {
				t.Errorf("kube %s: exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout", strings.Join(args, " "), code, out, errOut, want)
			}
		}
	}
	walk(NewRootCmd(&Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}}))
	if checked < 60 {
		t.Fatalf("only %d command lines checked", checked)
	}
}

// Production code does not depend on the sandbox (a test harness): only the
// CLI imports it, for the sandbox commands and to open the local cluster.
func TestOnlyTheCLIImportsTheSandbox(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/kube-idp/kube/cmd/kube", "github.com/kube-idp/kube/cmd/kube-controller").Output()
	if err != nil {
		t.Fatal(err)
	}
	const sb = "github.com/kube-idp/kube/internal/sandbox"
	for _, line := range strings.Split(string(out), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg != "github.com/kube-idp/kube/internal/cli" && slices.Contains(strings.Fields(imports), sb) {
			t.Errorf("%s imports the sandbox", pkg)
		}
	}
}
