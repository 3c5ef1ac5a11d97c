package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/infra"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

// infraRepo is an infrastructure repository in a temporary git repository,
// planned and applied by real OpenTofu with the test provider
// (hack/tools/tfprovider) installed from a filesystem mirror.
type infraRepo struct {
	t   *testing.T
	dir string
	env []string
}

const infraConfig = `tool: tofu
version: 1.12.6
requiredTags: [owner, team]
approval:
  types: [kubetest_bucket]
policies: [policies]
`

// notePolicy warns about notes and denies a bucket named forbidden, over the
// plan's JSON that real OpenTofu wrote.
const notePolicy = `package main

warn contains msg if {
	some rc in input.resource_changes
	rc.type == "kubetest_note"
	msg := sprintf("%s: notes are going away", [rc.address])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.change.after.name == "forbidden"
	msg := sprintf("%s may not be named forbidden", [rc.address])
}
`

// storeModule is a local module the root uses; its bucket has no team tag.
const storeModule = `terraform {
  required_providers {
    kubetest = { source = "kube-idp/kubetest" }
  }
}
resource "kubetest_bucket" "data" {
  name = "data"
}
`

func newInfraRepo(t *testing.T, config string) *infraRepo {
	t.Helper()
	testcluster.NeedsCluster(t)
	p := &progress.Reporter{Out: os.Stderr}
	tofu, err := sandbox.EnsureTestTool(context.Background(), p, "tofu")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := sandbox.EnsureTestTool(context.Background(), p, "terraform-provider-kubetest")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	v := sandbox.TestProviderVersion
	pkg := filepath.Join(tmp, "mirror", "registry.opentofu.org", "kube-idp", "kubetest", v, "linux_amd64")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(provider, filepath.Join(pkg, "terraform-provider-kubetest_v"+v)); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(tmp, "tofurc")
	writeFile(t, cli, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", filepath.Join(tmp, "mirror")))
	r := &infraRepo{t: t, dir: filepath.Join(tmp, "repo"), env: []string{
		"TF_CLI_CONFIG_FILE=" + cli, "CHECKPOINT_DISABLE=1",
		"PATH=" + filepath.Dir(tofu) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}}
	r.git("init", "-q", "-b", "main")
	r.write(map[string]string{
		infra.FileName:               config,
		".gitignore":                 ".terraform/\n.terraform.lock.hcl\n",
		"policies/notes.rego":        notePolicy,
		"modules/store/main.tf":      storeModule,
		"envs/dev/" + infra.FileName: "",
	})
	return r
}

// rootMain is envs/dev's main.tf: a bucket tagged only with team (owner comes
// from the provider's default_tags), the store module, and a note (untaggable).
func rootMain(backend, extra string) string {
	return `terraform {
  required_providers {
    kubetest = { source = "kube-idp/kubetest" }
  }
  backend ` + backend + `
}
provider "kubetest" {
  default_tags = { owner = "shop" }
}
module "store" {
  source = "../../modules/store"
}
resource "kubetest_bucket" "logs" {
  name = "logs"
  tags = { team = "payments" }
}
resource "kubetest_note" "n" {
  text = "hello"
}
` + extra
}

func (r *infraRepo) git(args ...string) {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// write writes files and commits them.
func (r *infraRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		writeFile(r.t, filepath.Join(r.dir, filepath.FromSlash(name)), content)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "change")
}

func (r *infraRepo) kube(args ...string) result {
	r.t.Helper()
	return kube(r.t, r.env, append(args, "-C", r.dir)...)
}

// kubeAt runs kube in dir, so that relative paths (--out, --plan) are
// relative to dir, as in CI where they are relative to the checkout.
func (r *infraRepo) kubeAt(dir string, args ...string) result {
	r.t.Helper()
	cmd := exec.Command(kubeBin, append(args, "-C", r.dir)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), r.env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSummary(t *testing.T, dir string) infra.Summary {
	t.Helper()
	var s infra.Summary
	data, err := os.ReadFile(filepath.Join(dir, infra.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// A pull request's plan is held to the tags and the approval rule, and only a
// plan that keeps them can be applied, and only while it matches what is
// merged and the state it was made from.
func TestInfraPlanAndApply(t *testing.T) {
	r := newInfraRepo(t, infraConfig)
	state := filepath.Join(t.TempDir(), "terraform.tfstate")
	backend := fmt.Sprintf("%q {\n    path = %q\n  }", "local", state)
	r.write(map[string]string{"envs/dev/main.tf": rootMain(backend, "")})
	out := t.TempDir()
	p1 := filepath.Join(out, "p1")

	// The module's bucket lacks team: the plan breaks the rule, nothing to apply.
	res := r.kube("infra", "plan", "envs/dev", "--out", p1)
	if res.code != 1 || !strings.Contains(res.stdout, "tags: module.store.kubetest_bucket.data lacks team") || !strings.Contains(res.stdout, "warn: kubetest_note.n: notes are going away") {
		t.Fatalf("plan with a missing tag: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	s := readSummary(t, p1)
	if !s.Failed || len(s.Tags.Problems) != 1 || s.Tags.Problems[0].Module != "module.store" || s.Tags.Checked != 2 {
		t.Fatalf("summary: %+v", s)
	}
	if exists(filepath.Join(p1, infra.MetadataFile)) || exists(filepath.Join(p1, infra.PlanFile)) {
		t.Fatal("a plan that breaks a rule left something to apply")
	}
	comment, _ := os.ReadFile(filepath.Join(p1, infra.CommentFile))
	if !strings.Contains(string(comment), "`module.store.kubetest_bucket.data` lacks `team` (in `module.store`)") || !strings.Contains(string(comment), "will not be applied") {
		t.Fatalf("comment:\n%s", comment)
	}
	if res := r.kube("infra", "apply", "envs/dev", "--plan", p1); res.code != 2 || !strings.Contains(res.stderr, "its plan failed or broke a rule") {
		t.Fatalf("apply of a plan that broke a rule: exit %d\n%s", res.code, res.stderr)
	}
	if res := r.kube("infra", "apply", "envs/dev", "--plan", filepath.Join(out, "missing")); res.code != 2 || !strings.Contains(res.stderr, "is not the output of kube infra plan") {
		t.Fatalf("apply without a plan: exit %d\n%s", res.code, res.stderr)
	}

	// Fixed: two plans of the same commit and state.
	r.write(map[string]string{"modules/store/main.tf": strings.Replace(storeModule, `name = "data"`, `name = "data"
  tags = { team = "payments" }`, 1)})
	// Relative paths, as CI passes them: relative to where kube runs, not to the root.
	p2, p3 := filepath.Join(out, "p2"), filepath.Join(out, "p3")
	for _, p := range []string{"p2", "p3"} {
		if res := r.kubeAt(out, "infra", "plan", "envs/dev", "--out", p, "-o", "json"); res.code != 0 {
			t.Fatalf("plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
	}
	s = readSummary(t, p2)
	if s.Status != infra.StatusChanges || len(s.Changes.Create) != 3 || s.Failed || !exists(filepath.Join(p2, infra.PlanFile)) {
		t.Fatalf("summary: %+v", s)
	}
	if res := r.kubeAt(out, "infra", "apply", "envs/dev", "--plan", "p2"); res.code != 0 || !strings.Contains(res.stdout, "Applied envs/dev") {
		t.Fatalf("apply: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// The second plan was made from the state before the first apply: OpenTofu refuses it.
	res = r.kube("infra", "apply", "envs/dev", "--plan", p3, "-o", "json")
	var ar infra.ApplyResult
	if err := json.Unmarshal([]byte(res.stdout), &ar); err != nil || res.code != 1 || ar.Applied || !strings.Contains(strings.ToLower(ar.Error), "stale") {
		t.Fatalf("apply of a stale plan: exit %d %v\n%s\n%s", res.code, err, res.stdout, res.stderr)
	}
	if applyMD, _ := os.ReadFile(filepath.Join(p3, infra.ApplyComment)); !strings.Contains(string(applyMD), "The apply failed") {
		t.Fatalf("apply comment:\n%s", applyMD)
	}
	p4 := filepath.Join(out, "p4")
	if res := r.kube("infra", "plan", "envs/dev", "--out", p4); res.code != 0 || !strings.Contains(res.stdout, "envs/dev: no changes.") {
		t.Fatalf("plan after apply: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}

	// Renaming the bucket replaces it: a guarded type, so it needs the label.
	r.write(map[string]string{"envs/dev/main.tf": strings.Replace(rootMain(backend, ""), `name = "logs"`, `name = "logs-2"`, 1)})
	p5 := filepath.Join(out, "p5")
	if res := r.kube("infra", "plan", "envs/dev", "--out", p5); res.code != 1 || !strings.Contains(res.stdout, "approval: kubetest_bucket.logs needs the infra-approved-destroy label") {
		t.Fatalf("plan of a replace without the label: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res := r.kube("infra", "plan", "envs/dev", "--out", p5, "--labels", "infra,infra-approved-destroy"); res.code != 0 {
		t.Fatalf("plan of a replace with the label: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if s := readSummary(t, p5); !s.Approval.Approved || len(s.Changes.Replace) != 1 {
		t.Fatalf("summary: %+v", s)
	}
	// What is merged moved on after the plan: refused, nothing ran.
	r.write(map[string]string{"envs/dev/main.tf": strings.Replace(rootMain(backend, ""), `text = "hello"`, `text = "hi"`, 1)})
	if res := r.kube("infra", "apply", "envs/dev", "--plan", p5); res.code != 1 || !strings.Contains(res.stderr, "Not applied: envs/dev changed between the plan") {
		t.Fatalf("apply of a plan of another tree: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// A plan file that is not the reviewed one: refused.
	p6 := filepath.Join(out, "p6")
	if res := r.kube("infra", "plan", "envs/dev", "--out", p6, "--labels", "infra-approved-destroy"); res.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	f, err := os.OpenFile(filepath.Join(p6, infra.PlanFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	if res := r.kube("infra", "apply", "envs/dev", "--plan", p6); res.code != 1 || !strings.Contains(res.stderr, "checksum differs") {
		t.Fatalf("apply of a changed plan file: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// A plan that fails, a tool of another version, tags unknown until apply, and
// credentials in the plan: each shows as it should, and no text kube writes
// holds a credential.
func TestInfraPlanFaultsAndCredentials(t *testing.T) {
	r := newInfraRepo(t, infraConfig)
	state := filepath.Join(t.TempDir(), "terraform.tfstate")
	backend := fmt.Sprintf("%q {\n    path = %q\n  }", "local", state)
	out := t.TempDir()

	const secret = "s3cr3t-Value-0123456789abcdef"
	r.env = append(r.env, "KUBETEST_API_TOKEN="+secret, "TF_VAR_api_token="+secret)
	r.write(map[string]string{"envs/dev/main.tf": rootMain(backend, `variable "api_token" {}
resource "kubetest_bucket" "secret" {
  name = "secret-${var.api_token}"
  tags = { team = "payments" }
}
`), "modules/store/main.tf": strings.Replace(storeModule, `name = "data"`, `name = "data"
  tags = { team = "payments" }`, 1)})
	p1 := filepath.Join(out, "p1")
	if res := r.kube("infra", "plan", "envs/dev", "--out", p1); res.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, name := range []string{infra.PlanJSON, infra.PlanText, infra.SummaryFile, infra.CommentFile, infra.MetadataFile} {
		data, err := os.ReadFile(filepath.Join(p1, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the credential", name)
		}
	}
	if text, _ := os.ReadFile(filepath.Join(p1, infra.PlanText)); !strings.Contains(string(text), "secret-") {
		t.Fatalf("plan.txt does not show the plan:\n%s", text)
	}

	// A plan that fails: a summary and a comment that say so, nothing to apply.
	r.write(map[string]string{"envs/dev/broken.tf": "output \"x\" {\n  value = kubetest_bucket.nope.id\n}\n"})
	p2 := filepath.Join(out, "p2")
	res := r.kube("infra", "plan", "envs/dev", "--out", p2)
	if res.code != 1 || !strings.Contains(res.stderr, "The plan of envs/dev failed") || !strings.Contains(res.stderr, "kubetest_bucket.nope") {
		t.Fatalf("failing plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if s := readSummary(t, p2); s.Status != infra.StatusFailed || exists(filepath.Join(p2, infra.PlanFile)) || exists(filepath.Join(p2, infra.MetadataFile)) {
		t.Fatalf("failed plan: %+v", s)
	}

	// A policy's deny fails the plan.
	r.write(map[string]string{"envs/dev/broken.tf": "resource \"kubetest_note\" \"f\" {\n  text = \"x\"\n}\nresource \"kubetest_bucket\" \"f\" {\n  name = \"forbidden\"\n  tags = { team = \"x\" }\n}\n"})
	if res := r.kube("infra", "plan", "envs/dev", "--out", filepath.Join(out, "deny")); res.code != 1 || !strings.Contains(res.stdout, "deny: kubetest_bucket.f may not be named forbidden") {
		t.Fatalf("a denied plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}

	// Tags unknown until apply: their own verdict, a warning by default.
	r.git("rm", "-q", "envs/dev/broken.tf")
	r.write(map[string]string{"envs/dev/main.tf": strings.Replace(rootMain(backend, ""), `default_tags = { owner = "shop" }`, `default_tags = { owner = "shop" }
  unknown_tags_all = true`, 1)})
	p3 := filepath.Join(out, "p3")
	if res := r.kube("infra", "plan", "envs/dev", "--out", p3); res.code != 0 || !strings.Contains(res.stdout, "kubetest_bucket.logs has tags only known after apply") {
		t.Fatalf("unknown tags: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}

	// Another version than the pinned one: bad input, nothing runs.
	r.write(map[string]string{infra.FileName: strings.Replace(infraConfig, "1.12.6", "1.12.5", 1)})
	if res := r.kube("infra", "plan", "envs/dev", "--out", filepath.Join(out, "p4")); res.code != 2 || !strings.Contains(res.stderr, "pins 1.12.5") {
		t.Fatalf("another version: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if exists(filepath.Join(out, "p4")) {
		t.Fatal("a refused plan wrote its directory")
	}
	if res := r.kube("infra", "plan", "modules/store", "--out", filepath.Join(out, "p5")); res.code != 2 || !strings.Contains(res.stderr, "is not a root") {
		t.Fatalf("a module as a root: exit %d\n%s", res.code, res.stderr)
	}
}

// State in the sandbox through OpenTofu's kubernetes backend (a Secret, locked
// with a Lease): two applies of plans from the same state at once, one wins,
// the other waits for the lock and is refused as stale; no lock is left.
func TestInfraKubernetesBackend(t *testing.T) {
	env := testcluster.Sandbox(t)
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	r := newInfraRepo(t, infraConfig)
	backend := fmt.Sprintf("%q {\n    secret_suffix = \"dev\"\n    namespace = %q\n    config_path = %q\n  }", "kubernetes", env.Namespace, sb.KubeconfigPath())
	r.write(map[string]string{"envs/dev/main.tf": rootMain(backend, ""), "modules/store/main.tf": strings.Replace(storeModule, `name = "data"`, `name = "data"
  tags = { team = "payments" }`, 1)})
	out := t.TempDir()
	plans := []string{filepath.Join(out, "a"), filepath.Join(out, "b")}
	for _, p := range plans {
		if res := r.kube("infra", "plan", "envs/dev", "--out", p); res.code != 0 {
			t.Fatalf("plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
	}
	// Each apply in its own checkout, as two CI jobs would.
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, p := range plans {
		clone := filepath.Join(out, fmt.Sprintf("clone-%d", i))
		if err := exec.Command("git", "clone", "-q", r.dir, clone).Run(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = kube(t, r.env, "infra", "apply", "envs/dev", "--plan", p, "--lock-timeout", "2m", "-C", clone)
		}()
	}
	wg.Wait()
	applied := 0
	for i, res := range results {
		switch {
		case res.code == 0:
			applied++
		case res.code != 1 || !strings.Contains(strings.ToLower(res.stderr), "stale"):
			t.Errorf("apply %d: exit %d\n%s\n%s", i, res.code, res.stdout, res.stderr)
		}
	}
	if applied != 1 {
		t.Fatalf("%d applies succeeded, want 1", applied)
	}
	ctx := context.Background()
	sec, err := env.Kube.CoreV1().Secrets(env.Namespace).Get(ctx, "tfstate-default-dev", metav1.GetOptions{})
	if err != nil || len(sec.Data) == 0 {
		t.Fatalf("the state Secret: %v", err)
	}
	lockHolder := func() string {
		l, err := env.Kube.CoordinationV1().Leases(env.Namespace).Get(ctx, "lock-tfstate-default-dev", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	if h := lockHolder(); h != "" {
		t.Fatalf("the state's lock is still held by %s", h)
	}

	// An apply interrupted (CI cancels the job: SIGTERM) while it holds the
	// lock: OpenTofu stops and releases it, so the next apply is not blocked.
	r.write(map[string]string{"envs/dev/main.tf": rootMain(backend, `resource "kubetest_bucket" "slow" {
  name = "slow-apply"
  tags = { team = "payments" }
}
`)})
	slow := filepath.Join(out, "slow")
	if res := r.kube("infra", "plan", "envs/dev", "--out", slow); res.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	cmd := exec.Command(kubeBin, "infra", "apply", "envs/dev", "--plan", slow, "-C", r.dir)
	cmd.Env = append(os.Environ(), r.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for lockHolder() == "" {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the apply never took the lock\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("an interrupted apply succeeded\n%s", stderr.String())
	}
	if h := lockHolder(); h != "" {
		t.Fatalf("an interrupted apply left the lock held by %s\n%s", h, stderr.String())
	}
}

// lock: pull-request: a root is held by one pull request from plan to merge,
// the apply of the merged one releases it, unlock frees it, and a lock left
// by a forgotten pull request expires.
func TestInfraPullRequestLock(t *testing.T) {
	env := testcluster.Sandbox(t)
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	r := newInfraRepo(t, infraConfig+"lock: pull-request\nlockNamespace: "+env.Namespace+"\nlockTTL: 1h\n")
	state := filepath.Join(t.TempDir(), "terraform.tfstate")
	r.write(map[string]string{"envs/dev/main.tf": rootMain(fmt.Sprintf("%q {\n    path = %q\n  }", "local", state), ""),
		"modules/store/main.tf": strings.Replace(storeModule, `name = "data"`, `name = "data"
  tags = { team = "payments" }`, 1)})
	out := t.TempDir()
	kc := "--kubeconfig=" + sb.KubeconfigPath()
	plan := func(pr, dir string) result {
		return r.kube("infra", "plan", "envs/dev", "--out", filepath.Join(out, dir), "--pr", pr, kc)
	}
	ctx := context.Background()
	lease := func() (string, bool) {
		l, err := env.Kube.CoordinationV1().Leases(env.Namespace).Get(ctx, infra.LockName("envs/dev"), metav1.GetOptions{})
		if err != nil {
			return "", false
		}
		return *l.Spec.HolderIdentity, true
	}

	if res := r.kube("infra", "plan", "envs/dev", "--out", filepath.Join(out, "x"), kc); res.code != 2 || !strings.Contains(res.stderr, "name the pull request with --pr") {
		t.Fatalf("no --pr: exit %d\n%s", res.code, res.stderr)
	}
	if res := plan("1", "a"); res.code != 0 {
		t.Fatalf("plan of #1: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if h, ok := lease(); !ok || h != "pull-request-1" {
		t.Fatalf("the lock is held by %q (%v)", h, ok)
	}
	res := plan("2", "b")
	if res.code != 1 || !strings.Contains(res.stderr, "envs/dev is locked by pull request #1") || exists(filepath.Join(out, "b", infra.MetadataFile)) {
		t.Fatalf("plan of #2 while #1 holds the root: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if s := readSummary(t, filepath.Join(out, "b")); s.Status != infra.StatusLocked {
		t.Fatalf("summary: %+v", s)
	}
	if res := r.kube("infra", "unlock", "envs/dev", "--pr", "2", kc); res.code != 0 || !strings.Contains(res.stderr, "was not locked by #2") {
		t.Fatalf("unlock by #2: exit %d\n%s", res.code, res.stderr)
	}
	if res := plan("1", "a"); res.code != 0 {
		t.Fatalf("plan of #1 again: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = r.kube("infra", "apply", "envs/dev", "--plan", filepath.Join(out, "a"), "--pr", "1", kc, "-o", "json")
	var ar infra.ApplyResult
	if err := json.Unmarshal([]byte(res.stdout), &ar); err != nil || res.code != 0 || !ar.Applied || !ar.Unlocked {
		t.Fatalf("apply of #1: exit %d %v\n%s\n%s", res.code, err, res.stdout, res.stderr)
	}
	if _, ok := lease(); ok {
		t.Fatal("the apply of the merged pull request left its lock")
	}

	// A lock whose pull request was forgotten expires: #2's, renewed two hours
	// ago with a one-hour TTL, does not hold #3 back.
	if res := plan("2", "b"); res.code != 0 {
		t.Fatalf("plan of #2: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	l, err := env.Kube.CoordinationV1().Leases(env.Namespace).Get(ctx, infra.LockName("envs/dev"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now().Add(-2 * time.Hour)}
	if _, err := env.Kube.CoordinationV1().Leases(env.Namespace).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := plan("3", "c"); res.code != 0 {
		t.Fatalf("plan of #3 after #2's lock expired: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if h, _ := lease(); h != "pull-request-3" {
		t.Fatalf("the lock is held by %q", h)
	}
	if res := r.kube("infra", "unlock", "envs/dev", kc); res.code != 0 || !strings.Contains(res.stdout, "Unlocked envs/dev") {
		t.Fatalf("unlock: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if _, ok := lease(); ok {
		t.Fatal("unlock left the lock")
	}
}
