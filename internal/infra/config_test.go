package infra

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("kube-infra.yaml", []byte("version: 1.12.6\nrequiredTags: [owner, team, service]\nexempt: [aws_iam_role]\napproval: {types: [aws_db_instance]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tool != "tofu" || c.UnknownTags != "warn" || c.Lock != "apply" || c.Approval.Label != "infra-approved-destroy" || len(c.RequiredTags) != 3 {
		t.Errorf("defaults: %+v", c)
	}
	for text, want := range map[string]string{
		"tool: tofu\n":      "kube-infra.yaml:1:1: missing required key \"version\"",
		"version: latest\n": `kube-infra.yaml:1:1: version "latest" is not an exact version`,
		"version: 1.12.6\nrequiredTags: [owner, owner]": `kube-infra.yaml:2:1: tag "owner" is required twice`,
		"version: 1.12.6\nlock: always\n":               `kube-infra.yaml:2:1: lock must be one of apply, pull-request, not "always"`,
		"version: 1.12.6\nrequiredtags: [owner]\n":      "kube-infra.yaml:2:1:",
	} {
		_, err := ParseConfig("kube-infra.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

func TestRootFileMarksAndNamesItsOwner(t *testing.T) {
	rf, err := CheckRoot("r/kube-infra.yaml", []byte("# owner\nteam: payments\nslack: '#payments-infra'\n"))
	if err != nil || rf.Team != "payments" || rf.Slack != "#payments-infra" {
		t.Fatalf("%+v %v", rf, err)
	}
	if _, err := CheckRoot("r/kube-infra.yaml", []byte("team: x\nslack: payments\n")); err == nil || !strings.Contains(err.Error(), "r/kube-infra.yaml:2:") {
		t.Errorf("a channel without #: %v", err)
	}
}

func TestRootFileMarksOnly(t *testing.T) {
	for _, ok := range []string{"", "# the network of prod\n", "{}\n"} {
		if _, err := CheckRoot("envs/prod/kube-infra.yaml", []byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if _, err := CheckRoot("envs/prod/kube-infra.yaml", []byte("version: 1.2.3\n")); err == nil || !strings.Contains(err.Error(), "envs/prod/kube-infra.yaml:1:1") {
		t.Errorf("a root's file with settings: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("version: 1.12.6\nrequiredTags: [owner]\n"))
	f.Add([]byte("tool: terraform\nversion: 1.9.0\napproval: {types: [x], label: y}\nlock: pull-request\nlockTTL: 2h\npolicies: [p]\n"))
	f.Add([]byte("team: payments\nslack: '#payments-infra'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same bytes as a root's file: it names at most an owner.
		if rf, err := CheckRoot("r/kube-infra.yaml", data); err == nil && rf.Slack != "" && !channel.MatchString(rf.Slack) {
			t.Fatalf("accepted channel %q", rf.Slack)
		} else if err != nil && !strings.HasPrefix(err.Error(), "r/kube-infra.yaml") {
			t.Fatalf("an error without its place: %v", err)
		}
		c, err := ParseConfig("kube-infra.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "kube-infra.yaml") {
				t.Fatalf("an error without its place: %v", err)
			}
			return
		}
		if !version.MatchString(c.Version) || (c.Tool != "tofu" && c.Tool != "terraform") || c.LockFor < time.Minute ||
			slices.ContainsFunc(c.Policies, func(p string) bool {
				clean := filepath.ToSlash(filepath.Clean(p))
				return clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "/")
			}) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
