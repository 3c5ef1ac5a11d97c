package propose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/generate"
)

// BenchmarkProposeFleet proposes for a whole fleet whose files were all
// written by older templates, against git's http-backend and the GitHub
// fake, and splits the time between git and kube's own work (regenerating,
// deciding, the API calls): bench/propose.sh prints the split. The fleet is
// bench/fleetgen's when $KUBE_BENCH_FLEET names it, else 80 small apps.
func BenchmarkProposeFleet(b *testing.B) {
	srv := newGitServer(b, token)
	gh := newFakeGitHub(b, token, srv)
	forge, err := NewGitHub(token, gh.srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	apps := fleetDirs(b)
	var repos []string
	for _, dir := range apps {
		name := filepath.Base(dir)
		url := srv.create(b, "acme", name)
		gitIn(b, dir, "init", "--quiet", "-b", "main")
		if rep := generate.Repo(dir, "", true); rep.Err != nil {
			b.Fatal(rep.Err)
		}
		// As older templates wrote them: every header says v1.
		files, _ := filepath.Glob(filepath.Join(dir, "kubernetes", "*", "*.yaml"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			_ = os.WriteFile(f, []byte(strings.Replace(string(data), "# Templates v"+generate.TemplateVersion+",", "# Templates v1,", 1)), 0o644)
		}
		gitIn(b, dir, "add", "--all")
		gitIn(b, dir, "commit", "--quiet", "-m", "start")
		gitIn(b, dir, "push", "--quiet", srv.bare("acme", name), "main")
		repos = append(repos, url)
	}
	// As kube generate --propose runs it (internal/cli).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.ResetTimer()
	var wall, total, inGit, inForge, generating time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var genNanos atomic.Int64
		gen := func(dir string) *generate.Report {
			start := time.Now()
			defer func() { genNanos.Add(int64(time.Since(start))) }()
			return generate.Repo(dir, "", true)
		}
		timed := &timedForge{Forge: forge}
		rs := Run(context.Background(), repos, Options{Forge: timed, Token: token, WorkDir: b.TempDir(), Parallel: parallel(), Generate: gen})
		generating += time.Duration(genNanos.Load())
		inForge += time.Duration(timed.nanos.Load())
		wall += time.Since(start)
		for _, r := range rs {
			if r.Status != Proposed && r.Status != Unchanged {
				b.Fatalf("%s: %s %s", r.Repo, r.Status, r.Detail)
			}
			total += r.Total
			inGit += r.Git
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(len(repos)), "repos")
	b.ReportMetric(wall.Seconds()/n, "wall-s")
	b.ReportMetric(inGit.Seconds()/n, "git-s")
	b.ReportMetric(inForge.Seconds()/n, "forge-s")
	b.ReportMetric((total-inGit-inForge).Seconds()/n, "kube-s")
	b.ReportMetric(generating.Seconds()/n, "generate-s")
}

// fleetDirs copies the fleet's app directories (their specs) into a temporary
// directory.
func fleetDirs(b *testing.B) []string {
	root := b.TempDir()
	src := os.Getenv("KUBE_BENCH_FLEET")
	var out []string
	if src == "" {
		for i := range 80 {
			dir := filepath.Join(root, fmt.Sprintf("app%02d", i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			_ = os.WriteFile(filepath.Join(dir, "kube-generate.yaml"), []byte(appSpec(fmt.Sprintf("app%02d", i))), 0o644)
			out = append(out, dir)
		}
		return out
	}
	if err := os.CopyFS(root, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}

// parallel is $KUBE_BENCH_PARALLEL, else one repository at a time: the split
// between git and kube is then not blurred by the two competing for the CPU.
func parallel() int {
	if n, err := strconv.Atoi(os.Getenv("KUBE_BENCH_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 1
}

// timedForge adds up the time spent waiting on the forge.
type timedForge struct {
	Forge
	nanos atomic.Int64
}

func (f *timedForge) since(start time.Time) { f.nanos.Add(int64(time.Since(start))) }

func (f *timedForge) OpenPullRequests(ctx context.Context, repo Repo, prefix string) ([]PullRequest, error) {
	defer f.since(time.Now())
	return f.Forge.OpenPullRequests(ctx, repo, prefix)
}

func (f *timedForge) Create(ctx context.Context, repo Repo, pr NewPullRequest) (PullRequest, error) {
	defer f.since(time.Now())
	return f.Forge.Create(ctx, repo, pr)
}

func (f *timedForge) Update(ctx context.Context, repo Repo, number int, pr NewPullRequest) error {
	defer f.since(time.Now())
	return f.Forge.Update(ctx, repo, number, pr)
}

func (f *timedForge) Close(ctx context.Context, repo Repo, number int, comment string) error {
	defer f.since(time.Now())
	return f.Forge.Close(ctx, repo, number, comment)
}
