package infra

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// TagVerdicts of one resource.
const (
	TagsMissing = "missing"
	TagsUnknown = "unknown"
	// TagsNotATeam: the team tag's value is no team of the platform catalog.
	TagsNotATeam = "not-a-team"
)

// TagProblem is a created or updated resource without a required tag.
type TagProblem struct {
	Address string `json:"address"`
	Module  string `json:"module,omitempty"`
	Type    string `json:"type"`
	// Verdict is TagsMissing or TagsUnknown (its tags are only known after apply).
	Verdict string   `json:"verdict"`
	Missing []string `json:"missing"`
	// Team is the team tag's value when it is no team (TagsNotATeam).
	Team string `json:"team,omitempty"`
}

// TagReport is the tag rule's verdict on a plan.
type TagReport struct {
	Checked  int          `json:"checked"`
	Problems []TagProblem `json:"problems"`
	// Failed: a missing tag, or an unknown one when the config says fail.
	Failed bool `json:"failed"`
}

// CheckTags holds a plan's created and updated resources to the required
// tags, and the config's teamTag to the teams (nil: not checked). The tags are the plan's, not the code's: tags_all (which includes the
// provider's default_tags) when the resource has it, else tags. A resource
// is taggable when its provider's schema has a tags attribute; without
// schemas, when its planned values have tags or tags_all.
func CheckTags(c *Config, plan *tfjson.Plan, schemas *tfjson.ProviderSchemas, teams map[string]bool) TagReport {
	r := TagReport{Problems: []TagProblem{}}
	if len(c.RequiredTags) == 0 || plan == nil {
		return r
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil || !(rc.Change.Actions.Create() || rc.Change.Actions.Update() || rc.Change.Actions.Replace()) {
			continue
		}
		if slices.Contains(c.Exempt, rc.Type) || slices.Contains(c.Exempt, rc.Address) {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		attr, ok := tagAttribute(rc, after, unknown, schemas)
		if !ok {
			continue
		}
		r.Checked++
		p := TagProblem{Address: rc.Address, Module: rc.ModuleAddress, Type: rc.Type}
		if isUnknown(unknown[attr]) {
			p.Verdict, p.Missing = TagsUnknown, append([]string{}, c.RequiredTags...)
			r.Problems = append(r.Problems, p)
			r.Failed = r.Failed || c.UnknownTags == "fail"
			continue
		}
		tags, _ := after[attr].(map[string]any)
		partly, _ := unknown[attr].(map[string]any) // some values unknown, keys known
		for _, k := range c.RequiredTags {
			v, ok := tags[k]
			if partly[k] == true {
				continue // present, value known after apply
			}
			if s, _ := v.(string); !ok || strings.TrimSpace(s) == "" {
				p.Missing = append(p.Missing, k)
			}
		}
		if len(p.Missing) > 0 {
			p.Verdict = TagsMissing
			r.Problems = append(r.Problems, p)
			r.Failed = true
			continue
		}
		if team, ok := tags[c.TeamTag].(string); ok && teams != nil && c.TeamTag != "" && partly[c.TeamTag] != true && !teams[team] {
			p.Verdict, p.Team, p.Missing = TagsNotATeam, team, []string{}
			r.Problems = append(r.Problems, p)
			r.Failed = true
		}
	}
	sort.Slice(r.Problems, func(i, j int) bool { return r.Problems[i].Address < r.Problems[j].Address })
	return r
}

// tagAttribute is tags_all or tags: which attribute holds the resource's
// effective tags, and whether it has tags at all.
func tagAttribute(rc *tfjson.ResourceChange, after, unknown map[string]any, schemas *tfjson.ProviderSchemas) (string, bool) {
	has := func(a string) bool {
		if schemas != nil {
			if ps, ok := schemas.Schemas[rc.ProviderName]; ok {
				if s, ok := ps.ResourceSchemas[rc.Type]; ok && s.Block != nil {
					_, ok := s.Block.Attributes[a]
					return ok
				}
			}
		}
		_, inAfter := after[a]
		_, inUnknown := unknown[a]
		return inAfter || inUnknown
	}
	switch {
	case has("tags_all"):
		return "tags_all", true
	case has("tags"):
		return "tags", true
	}
	return "", false
}

func isUnknown(v any) bool { b, ok := v.(bool); return ok && b }

// ReadPlan decodes `tofu show -json` of a plan.
func ReadPlan(data []byte) (*tfjson.Plan, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not the JSON of a plan (tofu show -json PLAN): %w", err)
	}
	return &p, nil
}

// ReadSchemas decodes `tofu providers schema -json`.
func ReadSchemas(data []byte) (*tfjson.ProviderSchemas, error) {
	var s tfjson.ProviderSchemas
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("not provider schemas (tofu providers schema -json): %w", err)
	}
	return &s, nil
}
