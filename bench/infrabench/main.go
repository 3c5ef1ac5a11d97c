// Command infrabench times kube infra on a generated monorepo: targets of a
// change on 500 roots and 100 modules (goal under 1 s), and the tag rule on a
// plan of 5,000 resources (goal under 1 s), each as the kube binary runs it.
//
//	infrabench -kube bin/kube [-roots 500] [-modules 100] [-resources 5000]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"
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
	write("kube-infra.yaml", "version: 1.12.6\nrequiredTags: [owner, team, service]\n")
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

	fmt.Printf("kube infra targets: %d roots, %d modules, %d targets in %v (goal under 1 s: %.2fx of it)\n", *roots, *modules, len(m.Include), targets.Round(time.Millisecond), targets.Seconds())
	fmt.Printf("kube infra tags:    %d resources (%d KB of plan JSON) in %v (goal under 1 s: %.2fx of it)\n", *resources, len(plan)/1024, tags.Round(time.Millisecond), tags.Seconds())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
