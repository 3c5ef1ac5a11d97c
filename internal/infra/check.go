package infra

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/exitstatus"
)

// TargetsOf are the roots of repository dir that head changes since its
// merge base with base: CI's plan matrix for a pull request.
func TargetsOf(ctx context.Context, dir, base, head string) ([]Target, error) {
	mb, err := MergeBase(ctx, dir, base, head)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	changed, err := Changed(ctx, dir, mb, head)
	if err != nil {
		return nil, err
	}
	return Targets(&GitTree{Dir: dir, Rev: mb}, &GitTree{Dir: dir, Rev: head}, changed)
}

// CheckPlanFile holds the plan JSON at planPath (and the provider schemas
// at schemasPath, if given) to the repository's required tags, the team tag
// to the teams of the platform catalog at catalogDir.
func CheckPlanFile(repo, planPath, schemasPath, catalogDir string) (TagReport, error) {
	c, err := LoadConfig(repo)
	if err != nil {
		return TagReport{}, exitstatus.Input(err)
	}
	teams, err := LoadTeams(c, catalogDir)
	if err != nil {
		return TagReport{}, err
	}
	data, err := os.ReadFile(filepath.Clean(planPath))
	if err != nil {
		return TagReport{}, exitstatus.Input(err)
	}
	plan, err := ReadPlan(data)
	if err != nil {
		return TagReport{}, exitstatus.Input(err)
	}
	var schemas *tfjson.ProviderSchemas
	if schemasPath != "" {
		data, err := os.ReadFile(filepath.Clean(schemasPath))
		if err != nil {
			return TagReport{}, exitstatus.Input(err)
		}
		if schemas, err = ReadSchemas(data); err != nil {
			return TagReport{}, exitstatus.Input(err)
		}
	}
	return CheckTags(c, plan, schemas, teams), nil
}

// CheckPlanPolicies evaluates the repository's Rego policies (from git at ref
// when set) over the plan JSON at planPath.
func CheckPlanPolicies(ctx context.Context, repo, ref, planPath string) (PolicyReport, error) {
	c, err := LoadConfig(repo)
	if err != nil {
		return PolicyReport{}, exitstatus.Input(err)
	}
	if len(c.Policies) == 0 {
		return PolicyReport{}, exitstatus.Input(fmt.Errorf("%s names no policies", c.Path))
	}
	mods, err := LoadPolicies(ctx, c, repo, ref)
	if err != nil {
		return PolicyReport{}, err
	}
	data, err := os.ReadFile(filepath.Clean(planPath))
	if err != nil {
		return PolicyReport{}, exitstatus.Input(err)
	}
	return CheckPolicies(ctx, mods, data)
}

// LoadTeams are the teams of the platform catalog in dir (a platform
// repository's platform/): the owners of its domains and components. Nil
// when the config checks no team tag.
func LoadTeams(c *Config, dir string) (map[string]bool, error) {
	if c.TeamTag == "" {
		return nil, nil
	}
	if dir == "" {
		return nil, exitstatus.Input(fmt.Errorf("%s says teamTag: %s: name the platform catalog with --catalog (a platform repository's platform/)", c.Path, c.TeamTag))
	}
	cat, err := catalog.Load(dir)
	if err != nil {
		return nil, exitstatus.Input(err)
	}
	teams := map[string]bool{}
	for _, d := range cat.Domains {
		teams[d.Owner] = true
	}
	for _, comp := range cat.Components {
		teams[comp.Owner] = true
	}
	return teams, nil
}
