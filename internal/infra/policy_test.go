package infra

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/exitstatus"
)

const denyPublicBuckets = `package main

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
	rc.change.after.acl == "public-read"
	msg := sprintf("%s is public", [rc.address])
}

warn contains msg if {
	count(input.resource_changes) > 1
	msg := "more than one change"
}

violation contains {"msg": "objects count too"} if {
	input.format_version == "1.2"
}
`

const policyPlan = `{"format_version":"1.2","resource_changes":[
 {"address":"aws_s3_bucket.logs","type":"aws_s3_bucket","change":{"actions":["create"],"after":{"acl":"public-read"}}},
 {"address":"aws_s3_bucket.data","type":"aws_s3_bucket","change":{"actions":["create"],"after":{"acl":"private"}}}]}`

func TestPoliciesDenyAndWarnAsConftestDoes(t *testing.T) {
	r, err := CheckPolicies(context.Background(), map[string]string{"policies/s3.rego": denyPublicBuckets}, []byte(policyPlan))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Failed || len(r.Deny) != 2 || r.Deny[0].Message != "aws_s3_bucket.logs is public" || r.Deny[1].Message != "objects count too" ||
		len(r.Warn) != 1 || r.Policies[0] != "policies/s3.rego" {
		t.Fatalf("%+v", r)
	}
	r, err = CheckPolicies(context.Background(), map[string]string{"p.rego": denyPublicBuckets}, []byte(`{"format_version":"1.0","resource_changes":[]}`))
	if err != nil || r.Failed || len(r.Deny)+len(r.Warn) != 0 {
		t.Fatalf("a plan that keeps the policies: %+v %v", r, err)
	}
}

func TestPolicyThatDoesNotParseIsBadInputWithItsLine(t *testing.T) {
	_, err := CheckPolicies(context.Background(), map[string]string{"policies/bad.rego": "package main\n\ndeny contains msg if {\n  msg := \n}\n"}, []byte(`{}`))
	var bad *exitstatus.BadInput
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), "policies/bad.rego:") {
		t.Fatalf("%v", err)
	}
}

// A pull request cannot loosen the policies it is judged by: read from the
// branch it goes to, the policy is the branch's, whatever the pull request
// changed; and in the working tree, a link cannot lead out of the repository.
func TestPoliciesComeFromTheBaseBranch(t *testing.T) {
	repo := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@e"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755)
		os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644)
	}
	run("init", "-q", "-b", "main")
	write(FileName, "version: 1.12.6\npolicies: [policies]\n")
	write("policies/s3.rego", denyPublicBuckets)
	write("policies/s3_test.rego", "package main\n")
	run("add", "-A")
	run("commit", "-q", "-m", "policies")
	run("checkout", "-q", "-b", "pr")
	write("policies/s3.rego", "package main\n")
	run("commit", "-q", "-am", "loosen")
	c, err := LoadConfig(repo)
	if err != nil {
		t.Fatal(err)
	}
	for ref, wantFailed := range map[string]bool{"main": true, "": false} {
		mods, err := LoadPolicies(context.Background(), c, repo, ref)
		if err != nil || len(mods) != 1 {
			t.Fatalf("ref %q: %v %v", ref, mods, err)
		}
		r, err := CheckPolicies(context.Background(), mods, []byte(policyPlan))
		if err != nil || r.Failed != wantFailed {
			t.Errorf("policies from %q: failed %v, want %v (%v)", ref, r.Failed, wantFailed, err)
		}
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "x.rego"), []byte(denyPublicBuckets), 0o644)
	os.Symlink(filepath.Join(outside, "x.rego"), filepath.Join(repo, "policies", "linked.rego"))
	if _, err := LoadPolicies(context.Background(), c, repo, ""); err == nil {
		t.Error("a policy behind a link out of the repository was read")
	}
	if _, err := ParseConfig(FileName, []byte("version: 1.12.6\npolicies: [../shared]\n")); err == nil || !strings.Contains(err.Error(), "not inside the repository") {
		t.Errorf("a policy outside: %v", err)
	}
}
