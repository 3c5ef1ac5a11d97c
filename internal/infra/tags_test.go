package infra

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// change is one resource_changes entry of `tofu show -json PLAN`.
func change(addr, typ string, actions []string, after, unknown map[string]any) map[string]any {
	module := ""
	if i := strings.LastIndex(addr, "."+typ+"."); i > 0 {
		module = addr[:i]
	}
	return map[string]any{"address": addr, "module_address": module, "mode": "managed", "type": typ, "name": "x",
		"provider_name": "registry.opentofu.org/kube-idp/tagged",
		"change":        map[string]any{"actions": actions, "before": nil, "after": after, "after_unknown": unknown}}
}

func planJSON(t testing.TB, changes ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"format_version": "1.2", "terraform_version": "1.12.6", "resource_changes": changes})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequiredTagsFromThePlan(t *testing.T) {
	c, err := ParseConfig("kube-infra.yaml", []byte("version: 1.12.6\nrequiredTags: [owner, team]\nexempt: [tagged_exempt]\n"))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]any{"owner": "alice", "team": "checkout"}
	plan, err := ReadPlan(planJSON(t,
		// default_tags count: tags_all has them though tags does not.
		change("tagged_bucket.defaults", "tagged_bucket", []string{"create"}, map[string]any{"tags": map[string]any{}, "tags_all": all}, map[string]any{}),
		// tags without tags_all (a resource whose provider has no default tags).
		change("module.db.tagged_db.main", "tagged_db", []string{"update"}, map[string]any{"tags": map[string]any{"owner": "alice", "team": " "}}, map[string]any{}),
		change("tagged_bucket.unknown", "tagged_bucket", []string{"create"}, map[string]any{"tags": map[string]any{}}, map[string]any{"tags_all": true}),
		change("tagged_bucket.partly", "tagged_bucket", []string{"delete", "create"}, map[string]any{"tags_all": map[string]any{"owner": "x"}}, map[string]any{"tags_all": map[string]any{"team": true}}),
		change("tagged_bucket.gone", "tagged_bucket", []string{"delete"}, nil, nil),
		change("tagged_exempt.x", "tagged_exempt", []string{"create"}, map[string]any{"tags": map[string]any{}}, map[string]any{}),
		change("tagged_role.untaggable", "tagged_role", []string{"create"}, map[string]any{"name": "x"}, map[string]any{}),
	))
	if err != nil {
		t.Fatal(err)
	}
	r := CheckTags(c, plan, nil, nil)
	got := []string{}
	for _, p := range r.Problems {
		got = append(got, fmt.Sprintf("%s %s %s %v", p.Address, p.Module, p.Verdict, p.Missing))
	}
	want := "module.db.tagged_db.main module.db missing [team]; tagged_bucket.unknown  unknown [owner team]"
	if strings.Join(got, "; ") != want || r.Checked != 4 || !r.Failed {
		t.Errorf("checked %d, failed %v, problems:\n%s\nwant\n%s", r.Checked, r.Failed, strings.Join(got, "; "), want)
	}

	// Unknown alone fails only when the config says so.
	onlyUnknown, _ := ReadPlan(planJSON(t, change("tagged_bucket.unknown", "tagged_bucket", []string{"create"}, map[string]any{}, map[string]any{"tags_all": true})))
	if CheckTags(c, onlyUnknown, nil, nil).Failed {
		t.Error("unknown tags failed with unknownTags: warn")
	}
	c.UnknownTags = "fail"
	if !CheckTags(c, onlyUnknown, nil, nil).Failed {
		t.Error("unknown tags passed with unknownTags: fail")
	}

	// With the provider's schema, a resource with a tags attribute is checked
	// even when the plan leaves tags out (null).
	schemas, err := ReadSchemas([]byte(`{"format_version":"1.0","provider_schemas":{"registry.opentofu.org/kube-idp/tagged":{"resource_schemas":{
		"tagged_role":{"version":0,"block":{"attributes":{"name":{"type":"string"},"tags":{"type":["map","string"]}}}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := CheckTags(c, plan, schemas, nil); len(r.Problems) != 3 || r.Problems[2].Address != "tagged_role.untaggable" {
		t.Errorf("with schemas: %+v", r.Problems)
	}
}

func TestReadPlanRefusesOtherJSON(t *testing.T) {
	if _, err := ReadPlan([]byte(`{"resource_changes": 3}`)); err == nil || !strings.Contains(err.Error(), "tofu show -json") {
		t.Errorf("got %v", err)
	}
}

// The team tag names a team of the platform catalog (the owners of its
// domains and components), or the plan breaks the rule.
func TestTeamTagNamesACatalogTeam(t *testing.T) {
	c, err := ParseConfig("kube-infra.yaml", []byte("version: 1.12.6\nrequiredTags: [team]\nteamTag: team\n"))
	if err != nil {
		t.Fatal(err)
	}
	teams, err := LoadTeams(c, "../../examples/kube-platform/platform")
	if err != nil || !teams["platform-infra"] {
		t.Fatalf("teams %v: %v", teams, err)
	}
	plan, err := ReadPlan(planJSON(t,
		change("tagged_bucket.ok", "tagged_bucket", []string{"create"}, map[string]any{"tags_all": map[string]any{"team": "platform-infra"}}, map[string]any{}),
		change("tagged_bucket.typo", "tagged_bucket", []string{"create"}, map[string]any{"tags_all": map[string]any{"team": "platfrom-infra"}}, map[string]any{}),
		change("tagged_bucket.later", "tagged_bucket", []string{"create"}, map[string]any{"tags_all": map[string]any{}}, map[string]any{"tags_all": map[string]any{"team": true}}),
	))
	if err != nil {
		t.Fatal(err)
	}
	r := CheckTags(c, plan, nil, teams)
	if !r.Failed || len(r.Problems) != 1 || r.Problems[0].Address != "tagged_bucket.typo" || r.Problems[0].Verdict != TagsNotATeam || r.Problems[0].Team != "platfrom-infra" {
		t.Fatalf("%+v", r)
	}
	if _, err := LoadTeams(c, ""); err == nil || !strings.Contains(err.Error(), "--catalog") {
		t.Errorf("no catalog: %v", err)
	}
	if _, err := ParseConfig("kube-infra.yaml", []byte("version: 1.12.6\nrequiredTags: [owner]\nteamTag: team\n")); err == nil || !strings.Contains(err.Error(), "not one of requiredTags") {
		t.Errorf("a team tag that is not required: %v", err)
	}
}
