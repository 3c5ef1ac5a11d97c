// Command infrabench times kube infra on a generated monorepo: targets of a
// change on 500 roots and 100 modules (goal under 1 s), and the tag rule on a
// plan of 5,000 resources (goal under 1 s), each as the kube binary runs it;
// then the same tag rule written in Rego, through kube infra policy and
// through conftest (built from the module proxy) on the same plan.
//
//	infrabench -kube bin/kube [-roots 500] [-modules 100] [-resources 5000]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

func main() {
	kube := flag.String("kube", "bin/kube", "kube binary")
	roots := flag.Int("roots", 500, "roots")
	modules := flag.Int("modules", 100, "local modules")
	resources := flag.Int("resources", 5000, "resources in the plan")
	flag.Parse()
	dir, err := os.MkdirTemp("", "infrabench-")
	check(err)
	defer os.RemoveAll(dir)
	kubeAbs, err := filepath.Abs(*kube)
	check(err)

	write := func(name, content string) {
		p := filepath.Join(dir, name)
		check(os.MkdirAll(filepath.Dir(p), 0o755))
		check(os.WriteFile(p, []byte(content), 0o644))
	}
	write("kube-infra.yaml", "version: 1.12.6\nrequiredTags: [owner, team, service]\npolicies: [policies]\n")
	// The same tag rule in Rego, for kube infra policy and conftest.
	write("policies/tags.rego", `package main

required := {"owner", "team", "service"}

deny contains msg if {
	some rc in input.resource_changes
	rc.mode == "managed"
	some action in rc.change.actions
	action in {"create", "update"}
	tags := object.get(rc.change.after, "tags_all", {})
	missing := required - {k | tags[k]}
	count(missing) > 0
	msg := sprintf("%s lacks %v", [rc.address, sort(missing)])
}
`)
	for m := range *modules {
		dep := ""
		if m > 0 {
			dep = fmt.Sprintf("module \"base\" {\n  source = \"../m%d\"\n}\n", m-1) // a chain: a change deep down touches many roots
		}
		write(fmt.Sprintf("modules/m%d/main.tf", m), dep+"variable \"name\" {}\n")
	}
	for r := range *roots {
		root := fmt.Sprintf("envs/team%d/root%d", r%20, r)
		write(root+"/kube-infra.yaml", "")
		write(root+"/main.tf", fmt.Sprintf("module \"m\" {\n  source = \"../../../modules/m%d\"\n  name = \"r%d\"\n}\nresource \"null_resource\" \"x\" {}\n", r%*modules, r))
		write(root+"/prod.tfvars", "size = 1\n")
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	git("checkout", "-q", "-b", "change")
	write("modules/m10/main.tf", "module \"base\" {\n  source = \"../m9\"\n}\nvariable \"name\" { type = string }\n")
	write("envs/team3/root3/prod.tfvars", "size = 2\n")
	git("commit", "-qam", "change")

	start := time.Now()
	out, err := exec.Command(kubeAbs, "infra", "targets", "--base", "main", "-C", dir, "-o", "json").Output()
	check(err)
	targets := time.Since(start)
	var m struct{ Include []any }
	check(json.Unmarshal(out, &m))

	changes := make([]any, *resources)
	for i := range changes {
		tags := map[string]any{"owner": "a", "team": "b", "service": "c"}
		if i%100 == 0 {
			delete(tags, "service")
		}
		changes[i] = map[string]any{"address": fmt.Sprintf("module.m%d.tagged_bucket.b%d", i%50, i), "module_address": fmt.Sprintf("module.m%d", i%50),
			"mode": "managed", "type": "tagged_bucket", "name": fmt.Sprintf("b%d", i), "provider_name": "registry.opentofu.org/x/tagged",
			"change": map[string]any{"actions": []string{"create"}, "after": map[string]any{"tags": map[string]any{}, "tags_all": tags, "name": "x"}, "after_unknown": map[string]any{}}}
	}
	plan, err := json.Marshal(map[string]any{"format_version": "1.2", "terraform_version": "1.12.6", "resource_changes": changes})
	check(err)
	planPath := filepath.Join(dir, "plan.json")
	check(os.WriteFile(planPath, plan, 0o644))
	start = time.Now()
	out, _ = exec.Command(kubeAbs, "infra", "tags", planPath, "-C", dir, "-o", "json").Output() // exits 1: it finds the problems
	tags := time.Since(start)
	var r struct{ Checked, Problems any }
	check(json.Unmarshal(out, &r))

	// The same rule as Rego, in kube (OPA's Go library) and in conftest.
	start = time.Now()
	out, _ = exec.Command(kubeAbs, "infra", "policy", planPath, "-C", dir, "-o", "json").Output() // exits 1: denies
	policy := time.Since(start)
	var pr struct{ Deny []any }
	check(json.Unmarshal(out, &pr))
	conftest, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "conftest")
	check(err)
	start = time.Now()
	cmd := exec.Command(conftest, "test", planPath, "-p", filepath.Join(dir, "policies"), "--no-color", "-o", "json")
	out, _ = cmd.Output() // exits 1: failures
	conftestTime := time.Since(start)
	var cr []struct{ Failures []any }
	check(json.Unmarshal(out, &cr))
	if len(cr) != 1 || len(cr[0].Failures) != len(pr.Deny) {
		log.Fatalf("kube infra policy found %d denies, conftest %v", len(pr.Deny), cr)
	}

	fmt.Printf("kube infra targets: %d roots, %d modules, %d targets in %v (goal under 1 s: %.2fx of it)\n", *roots, *modules, len(m.Include), targets.Round(time.Millisecond), targets.Seconds())
	fmt.Printf("kube infra tags:    %d resources (%d KB of plan JSON) in %v (goal under 1 s: %.2fx of it)\n", *resources, len(plan)/1024, tags.Round(time.Millisecond), tags.Seconds())
	fmt.Printf("kube infra policy:  the same rule in Rego, %d denies, in %v\n", len(pr.Deny), policy.Round(time.Millisecond))
	fmt.Printf("conftest test:      the same Rego on the same plan, %d failures, in %v (kube infra tags %.2fx, kube infra policy %.2fx of it)\n",
		len(cr[0].Failures), conftestTime.Round(time.Millisecond), tags.Seconds()/conftestTime.Seconds(), policy.Seconds()/conftestTime.Seconds())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
