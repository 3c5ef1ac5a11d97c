package infra

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/testsupport"
)

// repo is a temporary git repository; commit writes files (content deleted
// removes one) and returns the new commit.
type repo struct {
	t   *testing.T
	dir string
}

const deleted = "\x00deleted"

func newRepo(t *testing.T) *repo {
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) commit(files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		if content == deleted {
			r.git("rm", "-q", name)
			continue
		}
		testsupport.WriteFile(r.t, filepath.Join(r.dir, name), content)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", "change")
	return r.git("rev-parse", "HEAD")
}

func (r *repo) targets(base, head string) []Target {
	r.t.Helper()
	changed, err := Changed(context.Background(), r.dir, base, head)
	if err != nil {
		r.t.Fatal(err)
	}
	got, err := Targets(&GitTree{Dir: r.dir, Rev: base}, &GitTree{Dir: r.dir, Rev: head}, changed)
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

func rootsOf(ts []Target) string {
	var out []string
	for _, t := range ts {
		s := t.Root
		if t.Deleted {
			s += " (deleted)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func TestTargets(t *testing.T) {
	r := newRepo(t)
	base := r.commit(map[string]string{
		"kube-infra.yaml":                   "version: 1.12.6\n",
		"modules/vpc/main.tf":               "variable \"cidr\" {}\n",
		"modules/db/main.tf":                "module \"net\" {\n  source = \"../vpc\"\n  cidr = \"10.0.0.0/16\"\n}\n",
		"envs/prod/network/kube-infra.yaml": "",
		"envs/prod/network/main.tf":         "module \"vpc\" {\n  source = \"../../../modules/vpc\"\n  cidr = \"10.0.0.0/16\"\n}\n",
		"envs/prod/db/kube-infra.yaml":      "# the database\n",
		"envs/prod/db/main.tf":              "module \"db\" {\n  source = \"../../../modules/db\"\n}\nmodule \"remote\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n  version = \"5.0.0\"\n}\n",
		"envs/prod/db/prod.tfvars":          "size = 2\n",
		"envs/dev/app/kube-infra.yaml":      "",
		"envs/dev/app/main.tf":              "resource \"null_resource\" \"x\" {}\n",
		"envs/dev/app/.terraform.lock.hcl":  "# lock\n",
		"docs/README.md":                    "infra\n",
	})
	for name, c := range map[string]struct {
		files map[string]string
		want  string
	}{
		"a module used through another module": {map[string]string{"modules/vpc/main.tf": "variable \"cidr\" { type = string }\n"}, "envs/prod/db, envs/prod/network"},
		"a module used directly":               {map[string]string{"modules/db/variables.tf": "variable \"size\" {}\n"}, "envs/prod/db"},
		"tfvars":                               {map[string]string{"envs/prod/db/prod.tfvars": "size = 3\n"}, "envs/prod/db"},
		"lock file":                            {map[string]string{"envs/dev/app/.terraform.lock.hcl": "# lock 2\n"}, "envs/dev/app"},
		"nothing infra":                        {map[string]string{"docs/README.md": "more\n"}, ""},
		"a deleted root":                       {map[string]string{"envs/dev/app/kube-infra.yaml": deleted, "envs/dev/app/main.tf": deleted, "envs/dev/app/.terraform.lock.hcl": deleted}, "envs/dev/app (deleted)"},
		"a new root":                           {map[string]string{"envs/dev/cache/kube-infra.yaml": "{}\n", "envs/dev/cache/main.tf": "module \"v\" {\n  source = \"../../../modules/vpc\"\n}\n"}, "envs/dev/cache"},
	} {
		t.Run(name, func(t *testing.T) {
			r.git("checkout", "-q", "-B", "change-"+strings.ReplaceAll(name, " ", "-"), base)
			head := r.commit(c.files)
			if got := rootsOf(r.targets("main", head)); got != c.want {
				t.Errorf("targets %q, want %q", got, c.want)
			}
		})
	}

	// A renamed root: the new one is planned, the old one is deleted.
	r.git("checkout", "-q", "-B", "rename", base)
	r.git("mv", "envs/dev/app", "envs/dev/web")
	head := r.commit(nil)
	if got := rootsOf(r.targets("main", head)); got != "envs/dev/app (deleted), envs/dev/web" {
		t.Errorf("rename: %q", got)
	}
	// A change and its revert on the same branch touch nothing.
	r.git("checkout", "-q", "-B", "revert", base)
	r.commit(map[string]string{"envs/prod/db/prod.tfvars": "size = 9\n"})
	r.git("revert", "--no-edit", "HEAD")
	if got := rootsOf(r.targets("main", "HEAD")); got != "" {
		t.Errorf("a reverted change: %q", got)
	}
	// The base moved on since the branch started: only the branch's changes count.
	r.git("checkout", "-q", "-B", "feature", base)
	feature := r.commit(map[string]string{"envs/dev/app/main.tf": "resource \"null_resource\" \"y\" {}\n"})
	r.git("checkout", "-q", "main")
	r.commit(map[string]string{"envs/prod/db/prod.tfvars": "size = 4\n"})
	if got := rootsOf(r.targets("main", feature)); got != "envs/dev/app" {
		t.Errorf("after main moved on: %q", got)
	}
}

func TestTargetsRefuseBadHCL(t *testing.T) {
	r := newRepo(t)
	base := r.commit(map[string]string{"a/kube-infra.yaml": "", "a/main.tf": "resource \"x\" \"y\" {}\n"})
	head := r.commit(map[string]string{"a/main.tf": "module \"m\" {\n  source = \n"})
	changed, _ := Changed(context.Background(), r.dir, base, head)
	_, err := Targets(&GitTree{Dir: r.dir, Rev: base}, &GitTree{Dir: r.dir, Rev: head}, changed)
	if err == nil || !strings.Contains(err.Error(), "a/main.tf:2") {
		t.Fatalf("got %v", err)
	}
}
