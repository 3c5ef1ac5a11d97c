package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/kube-idp/kube/internal/exitstatus"
)

// PolicyMessage is one message of a deny, violation or warn rule.
type PolicyMessage struct {
	Message string `json:"message"`
}

// PolicyReport is the Rego policies' verdict on a plan.
type PolicyReport struct {
	// Policies are the files that were evaluated.
	Policies []string        `json:"policies"`
	Deny     []PolicyMessage `json:"deny"`
	Warn     []PolicyMessage `json:"warn"`
	// Failed: a deny (or violation) rule has a message.
	Failed bool `json:"failed"`
}

// PolicyNamespace is the package the policies' rules are in, conftest's default.
const PolicyNamespace = "main"

// LoadPolicies reads the config's policies (directories or .rego files, from
// the repository's top): from git at ref when ref is set, so that a pull
// request is judged by the policies of the branch it goes to and cannot
// loosen them; else from the working tree, through an os.Root (a symbolic
// link cannot lead out of the repository).
func LoadPolicies(ctx context.Context, c *Config, repo, ref string) (map[string]string, error) {
	if len(c.Policies) == 0 {
		return nil, nil
	}
	read := readWorkTree
	if ref != "" {
		read = func(repo string, paths []string) (map[string]string, error) { return readGit(ctx, repo, ref, paths) }
	}
	mods, err := read(repo, c.Policies)
	if err != nil {
		return nil, exitstatus.Input(fmt.Errorf("%s: %w", c.Path, err))
	}
	if len(mods) == 0 {
		return nil, exitstatus.Input(fmt.Errorf("%s: policies %v hold no .rego file", c.Path, c.Policies))
	}
	return mods, nil
}

func readWorkTree(repo string, paths []string) (map[string]string, error) {
	root, err := os.OpenRoot(repo)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	mods := map[string]string{}
	for _, p := range paths {
		err := fs.WalkDir(root.FS(), path.Clean(p), func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
				return err
			}
			data, err := root.ReadFile(name)
			mods[name] = string(data)
			return err
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("policies: %s is not in the repository", p)
		}
		if err != nil {
			return nil, fmt.Errorf("policies: %s: %w", p, err)
		}
	}
	return mods, nil
}

func readGit(ctx context.Context, repo, ref string, paths []string) (map[string]string, error) {
	out, err := git(ctx, repo, "", append([]string{"ls-tree", "-r", "-z", "--name-only", ref, "--"}, paths...)...)
	if err != nil {
		return nil, err
	}
	mods := map[string]string{}
	for _, name := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		if !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		data, err := git(ctx, repo, "", "cat-file", "blob", ref+":"+name)
		if err != nil {
			return nil, err
		}
		mods[name] = data
	}
	return mods, nil
}

// CheckPolicies evaluates the policies' deny, violation and warn rules of
// package main over the plan's JSON, as conftest does.
func CheckPolicies(ctx context.Context, modules map[string]string, planJSON []byte) (PolicyReport, error) {
	r := PolicyReport{Policies: []string{}, Deny: []PolicyMessage{}, Warn: []PolicyMessage{}}
	if len(modules) == 0 {
		return r, nil
	}
	var input any
	d := json.NewDecoder(bytes.NewReader(planJSON))
	d.UseNumber()
	if err := d.Decode(&input); err != nil {
		return r, exitstatus.Input(fmt.Errorf("not the JSON of a plan: %w", err))
	}
	opts := []func(*rego.Rego){rego.Query("data." + PolicyNamespace), rego.Input(input)}
	for name, src := range modules {
		r.Policies = append(r.Policies, name)
		opts = append(opts, rego.Module(name, src))
	}
	slices.Sort(r.Policies)
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		// A policy that does not parse or compile, or fails at evaluation
		// (conflicting values), is the policy's problem, each at file:line.
		return r, exitstatus.Input(fmt.Errorf("policies: %w", err))
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return r, nil
	}
	rules, _ := rs[0].Expressions[0].Value.(map[string]any)
	for _, rule := range []string{"deny", "violation", "warn"} {
		for _, m := range messages(rules[rule]) {
			if rule == "warn" {
				r.Warn = append(r.Warn, PolicyMessage{m})
			} else {
				r.Deny = append(r.Deny, PolicyMessage{m})
			}
		}
	}
	sortMessages := func(a, b PolicyMessage) int { return strings.Compare(a.Message, b.Message) }
	slices.SortFunc(r.Deny, sortMessages)
	slices.SortFunc(r.Warn, sortMessages)
	r.Failed = len(r.Deny) > 0
	return r, nil
}

// messages reads a rule's value: a set (or array) of strings, or of objects
// with a msg, as conftest accepts; a boolean true is one message.
func messages(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			switch x := x.(type) {
			case string:
				out = append(out, x)
			case map[string]any:
				if m, ok := x["msg"].(string); ok {
					out = append(out, m)
				}
			}
		}
		return out
	case string:
		return []string{v}
	case bool:
		if v {
			return []string{"(a rule without a message)"}
		}
	}
	return nil
}
