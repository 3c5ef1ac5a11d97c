// Package infra is kube infra: infrastructure self-service with OpenTofu (or
// Terraform) in a repository of roots and modules. OpenTofu plans, applies and
// keeps state and its locks; CI runs the jobs; kube decides which roots a
// change touches and whether a plan is acceptable (required tags), and writes
// the text. It keeps no server and no state of its own.
package infra

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// FileName marks a root (any content, even none) and, at the repository's
// top, holds the repository's settings.
const FileName = "kube-infra.yaml"

// Config is the repository's kube-infra.yaml.
type Config struct {
	Tool    string `yaml:"tool" enum:"tofu,terraform" doc:"the program that plans and applies (default tofu)"`
	Version string `yaml:"version" required:"true" doc:"its exact version, e.g. 1.12.6: plans and applies refuse another"`
	// RequiredTags must be on every created or updated taggable resource.
	RequiredTags []string `yaml:"requiredTags" doc:"tag keys every created or updated taggable resource must carry (provider default_tags count)"`
	// TeamTag is the required tag whose value must be a team of the catalog.
	TeamTag string `yaml:"teamTag" doc:"a required tag (team) whose value must be a team of the platform catalog: an owner of one of its domains or components (kube infra plan --catalog)"`
	// UnknownTags is the verdict on tags only known after apply.
	UnknownTags string `yaml:"unknownTags" enum:"warn,fail" doc:"tags unknown at plan time: warn (default) or fail"`
	// Exempt are resource types or addresses the tag rule skips.
	Exempt []string `yaml:"exempt" doc:"resource types (aws_iam_role) or addresses (module.x.aws_s3_bucket.y) the tag rule skips"`
	// Approval lists resource types whose delete or replace needs the label.
	Approval Approval `yaml:"approval" doc:"destroys and replaces that need an explicit approval label on the pull request"`
	// Policies are Rego files in conftest's style.
	Policies []string `yaml:"policies" doc:"directories or .rego files (from the repository's top) of Rego policies in conftest's style: package main, deny, violation and warn rules over the plan's JSON"`
	Lock     string   `yaml:"lock" enum:"apply,pull-request" doc:"apply (default): only applies are serialised, by the state backend's lock; pull-request: also a Lease from plan to merge"`
	// LockNamespace and LockTTL are the pull request locks'.
	LockNamespace string `yaml:"lockNamespace" doc:"with lock: pull-request, the namespace of the Leases (default kube-infra)"`
	LockTTL       string `yaml:"lockTTL" doc:"with lock: pull-request, how long a lock lasts without a new plan, e.g. 72h (the default)"`
	// LockFor is LockTTL read.
	LockFor time.Duration `yaml:"-"`
	Loc     strictyaml.Loc
	// Path is the file's path.
	Path string `yaml:"-"`
}

// Approval is the rule for dangerous changes.
type Approval struct {
	Types []string `yaml:"types" doc:"resource types (aws_db_instance, google_sql_database_instance)"`
	Label string   `yaml:"label" doc:"the pull request label that approves them (default infra-approved-destroy)"`
}

// Lock modes.
const (
	LockApply       = "apply"
	LockPullRequest = "pull-request"
)

var version = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
var tagKey = regexp.MustCompile(`^[A-Za-z0-9_.:/=+\-@ ]{1,128}$`)

// LoadConfig reads the repository's kube-infra.yaml.
func LoadConfig(repo string) (*Config, error) {
	data, err := strictyaml.ReadFileIn(repo, FileName)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s at the repository's top: it names the tool and its version (docs/infra.md)", filepath.Join(repo, FileName), FileName)
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(filepath.Join(repo, FileName), data)
}

// ParseConfig decodes and checks a repository's kube-infra.yaml.
func ParseConfig(path string, data []byte) (*Config, error) {
	c := &Config{}
	if errs := strictyaml.Unmarshal(path, data, c); errs != nil {
		return nil, errs
	}
	c.Path = path
	var errs strictyaml.Errors
	bad := func(p strictyaml.Pos, format string, args ...any) {
		errs = append(errs, strictyaml.Error{File: path, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Tool == "" {
		c.Tool = "tofu"
	}
	if !version.MatchString(c.Version) {
		bad(c.Loc.At("version"), "version %q is not an exact version such as 1.12.6: plans and applies must use one", c.Version)
	}
	seen := map[string]bool{}
	for _, k := range c.RequiredTags {
		if !tagKey.MatchString(k) {
			bad(c.Loc.At("requiredTags"), "%q is not a tag key", k)
		}
		if seen[k] {
			bad(c.Loc.At("requiredTags"), "tag %q is required twice", k)
		}
		seen[k] = true
	}
	if c.TeamTag != "" && !slices.Contains(c.RequiredTags, c.TeamTag) {
		bad(c.Loc.At("teamTag"), "teamTag %q is not one of requiredTags: the team must be there to be checked", c.TeamTag)
	}
	if c.UnknownTags == "" {
		c.UnknownTags = "warn"
	}
	if c.Lock == "" {
		c.Lock = "apply"
	}
	if c.LockNamespace == "" {
		c.LockNamespace = "kube-infra"
	}
	if c.LockTTL == "" {
		c.LockTTL = "72h"
	}
	if d, err := time.ParseDuration(c.LockTTL); err != nil || d < time.Minute || d > 60*24*time.Hour {
		bad(c.Loc.At("lockTTL"), "lockTTL %q is not a duration between 1m and 1440h, such as 72h", c.LockTTL)
	} else {
		c.LockFor = d
	}
	for _, e := range []struct{ key, value, allowed string }{{"tool", c.Tool, "tofu,terraform"}, {"unknownTags", c.UnknownTags, "warn,fail"}, {"lock", c.Lock, "apply,pull-request"}} {
		if !slices.Contains(strings.Split(e.allowed, ","), e.value) {
			bad(c.Loc.At(e.key), "%s must be one of %s, not %q", e.key, strings.ReplaceAll(e.allowed, ",", ", "), e.value)
		}
	}
	for _, pol := range c.Policies {
		if clean := filepath.ToSlash(filepath.Clean(pol)); strings.HasPrefix(clean, "/") || filepath.IsAbs(pol) || clean == ".." || strings.HasPrefix(clean, "../") {
			bad(c.Loc.At("policies"), "policy %q is not inside the repository: name it from the repository's top (policies/)", pol)
		}
	}
	if c.Approval.Label == "" {
		c.Approval.Label = "infra-approved-destroy"
	}
	slices.Sort(c.Exempt)
	if errs != nil {
		return nil, errs
	}
	return c, nil
}

// RootFile is a root's kube-infra.yaml. It marks the directory and may be
// empty; it may name the team that owns the root and its Slack channel, told
// when an apply fails after merge. Nothing else is accepted, so nobody expects
// a repository setting to work there.
type RootFile struct {
	Team  string `yaml:"team" doc:"the team that owns the root's resources"`
	Slack string `yaml:"slack" doc:"the team's Slack channel (#name), told when an apply of the root fails"`
	Loc   strictyaml.Loc
}

var channel = regexp.MustCompile(`^#[a-z0-9][a-z0-9._-]{0,79}$`)

// CheckRoot reads a root's kube-infra.yaml: empty, comments, {} or its owner.
func CheckRoot(path string, data []byte) (*RootFile, error) {
	rf := &RootFile{}
	if strings.TrimSpace(stripComments(string(data))) == "" {
		return rf, nil
	}
	if errs := strictyaml.Unmarshal(path, data, rf); errs != nil {
		return nil, errs
	}
	if rf.Slack != "" && !channel.MatchString(rf.Slack) {
		return nil, strictyaml.Errors{{File: path, Pos: rf.Loc.At("slack"), Msg: fmt.Sprintf("slack %q is not a channel such as '#payments-infra'", rf.Slack)}}
	}
	return rf, nil
}

func stripComments(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Schema is the JSON Schema (draft 2020-12) of the repository's
// kube-infra.yaml, for editors and for CI outside kube.
func Schema() map[string]any {
	s := strictyaml.Schema(reflect.TypeOf(Config{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://kube-idp.dev/schemas/kube-infra.json"
	s["title"] = "kube-infra.yaml (the repository's)"
	return s
}
