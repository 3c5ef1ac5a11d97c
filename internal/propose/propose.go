// Package propose regenerates a fleet of app repositories and proposes each
// change as a pull request: one branch per template version, updated in place
// on later runs, never over a person's commits, closed when nothing is left to
// change. Git is the real git; the forge (GitHub) is behind an interface.
package propose

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/secrets"
)

// Status is the outcome for one repository.
type Status string

const (
	Proposed  Status = "proposed"  // a pull request was opened
	Updated   Status = "updated"   // kube's open pull request got the new change
	Unchanged Status = "unchanged" // nothing to change (a stale pull request is closed), or the open one is current
	Skipped   Status = "skipped"   // left alone, with why
	Failed    Status = "failed"    // with the first error
)

// Result is what happened to one repository.
type Result struct {
	Repo   string `json:"repo"`
	Status Status `json:"status"`
	// Detail says why (skipped), the first error (failed) or what was done.
	Detail      string       `json:"detail,omitempty"`
	Branch      string       `json:"branch,omitempty"`
	PullRequest *PullRequest `json:"pullRequest,omitempty"`
	// Closed are kube's pull requests closed: stale, or superseded.
	Closed  []int    `json:"closed,omitempty"`
	Changes *Changes `json:"changes,omitempty"`
	// Git and Total are the time spent in git and in all (the benchmark's
	// split).
	Git   time.Duration `json:"-"`
	Total time.Duration `json:"-"`
}

// Options of a run.
type Options struct {
	// Forge opens and updates pull requests; nil is allowed with DryRun only.
	Forge Forge
	// Token authenticates git over HTTPS to the repositories' host.
	Token string
	// WorkDir receives a shallow clone of each repository.
	WorkDir string
	// Parallel bounds the repositories handled at once.
	Parallel int
	// DryRun regenerates and commits in the work directory, then says what it
	// would push and open.
	DryRun   bool
	Identity Identity
	// Labels and TeamReviewers for new pull requests; "{team}" is the app's
	// team from kube-generate.yaml (an entry is dropped when it has none).
	Labels, TeamReviewers []string
	// Generate regenerates one repository (default generate.Repo with
	// update); Version is the templates' version (default
	// generate.TemplateVersion).
	Generate func(dir string) *generate.Report
	Version  string
	// Progress reports each repository's steps; nil for none.
	Progress func(repo, step string)
}

// DefaultIdentity commits as a bot.
var DefaultIdentity = Identity{Name: "kube-generate", Email: "kube-generate@users.noreply.github.com"}

// Run proposes for every repository (a local clone, whose origin is used, or a
// URL), in parallel; a failure in one never stops the others. Results are in
// the order of repos.
func Run(ctx context.Context, repos []string, o Options) []Result {
	if o.Generate == nil {
		o.Generate = func(dir string) *generate.Report { return generate.Repo(dir, "", true) }
	}
	o.Version = strings.TrimPrefix(o.Version, "v")
	if o.Version == "" {
		o.Version = generate.TemplateVersion
	}
	if o.Identity == (Identity{}) {
		o.Identity = DefaultIdentity
	}
	if o.Progress == nil {
		o.Progress = func(string, string) {}
	}
	out := make([]Result, len(repos))
	var eg errgroup.Group
	eg.SetLimit(max(o.Parallel, 1))
	for i, r := range repos {
		eg.Go(func() error {
			start := time.Now()
			var spent atomic.Int64
			p := &proposal{o: &o, given: r, spent: &spent, res: Result{Repo: shown(r)}}
			dir, err := os.MkdirTemp(o.WorkDir, fmt.Sprintf("%03d-", i))
			if err == nil {
				p.dir = filepath.Join(dir, "repo")
				err = p.run(ctx)
			}
			if err != nil {
				p.res.Status, p.res.Detail = Failed, err.Error()
			}
			p.res.Git, p.res.Total = time.Duration(spent.Load()), time.Since(start)
			out[i] = p.res
			return nil
		})
	}
	_ = eg.Wait()
	return out
}

// proposal is the work on one repository.
type proposal struct {
	o      *Options
	given  string
	dir    string
	spent  *atomic.Int64
	res    Result
	g      *git
	repo   Repo
	base   string // the default branch
	branch string
}

func (p *proposal) step(s string) { p.o.Progress(p.res.Repo, s) }

// shown is a repository as printed: a URL's user information (a token some
// put there) hidden.
func shown(repo string) string {
	if strings.Contains(repo, "://") {
		return secrets.RedactURL(repo)
	}
	return repo
}

func (p *proposal) run(ctx context.Context) error {
	remote, err := remoteOf(ctx, p.given)
	if err != nil {
		return err
	}
	if p.repo, err = ParseRepo(remote); err != nil {
		return err
	}
	p.branch = BranchPrefix + p.o.Version
	p.res.Branch = p.branch
	p.g = newGit(p.o.WorkDir, remote, p.o.Token, p.o.Identity, p.spent)
	p.step("cloning")
	if _, err := p.g.run(ctx, "clone", "--quiet", "--depth", "1", "--no-tags", "--", remote, p.dir); err != nil {
		return err
	}
	p.g.dir = p.dir
	if p.base, err = p.g.run(ctx, "symbolic-ref", "--short", "HEAD"); err != nil {
		return err
	}
	from := templateVersions(p.dir)
	p.step("regenerating")
	rep := p.o.Generate(p.dir)
	if rep.Err != nil {
		return fmt.Errorf("kube generate: %s", firstLine(rep.Err.Error()))
	}
	if _, err := p.g.run(ctx, "add", "--all", "--", generate.OutputDir); err != nil {
		return err
	}
	nameStatus, err := p.g.run(ctx, "diff", "--cached", "--no-renames", "--name-status", "--", generate.OutputDir)
	if err != nil {
		return err
	}
	// kube's branch on the server: only kube may have written it.
	remoteSHA, err := p.remoteBranch(ctx)
	if err != nil {
		return err
	}
	if remoteSHA != "" {
		if foreign, err := p.foreignCommit(ctx); err != nil {
			return err
		} else if foreign != "" {
			p.res.Status, p.res.Detail = Skipped, fmt.Sprintf("branch %s has a commit not made by kube (%s): left alone; merge or delete it, and the next run proposes again", p.branch, foreign)
			return nil
		}
	}
	var open []PullRequest
	if p.o.Forge != nil {
		if open, err = p.o.Forge.OpenPullRequests(ctx, p.repo, BranchPrefix); err != nil {
			return err
		}
	}
	var mine *PullRequest
	var others []PullRequest
	for i := range open {
		if open[i].Head == p.branch {
			mine = &open[i]
		} else {
			others = append(others, open[i])
		}
	}
	if nameStatus == "" {
		return p.nothingToChange(ctx, remoteSHA, mine, others)
	}
	diff, err := p.g.run(ctx, "diff", "--cached", "--no-renames", "-U0", "--", generate.OutputDir)
	if err != nil {
		return err
	}
	c := &Changes{From: from, To: "v" + p.o.Version, Clusters: changesOf(nameStatus)}
	c.APIs = apiChanges(p.dir, c.Clusters, diff)
	p.res.Changes = c
	return p.propose(ctx, c, rep.Team, remoteSHA, mine, others)
}

// propose commits, pushes kube's branch (only over kube's own commit, with a
// lease) and opens or updates the pull request.
func (p *proposal) propose(ctx context.Context, c *Changes, team, remoteSHA string, mine *PullRequest, others []PullRequest) error {
	if _, err := p.g.run(ctx, "switch", "--quiet", "-c", p.branch); err != nil {
		return err
	}
	if _, err := p.g.run(ctx, "commit", "--quiet", "--no-verify", "-m", CommitMessage(c)); err != nil {
		return err
	}
	same := false
	if remoteSHA != "" {
		// The branch already holds this tree on this base: nothing to push.
		// (The raw commits, as the shallow clone hides the remote's parent.)
		ours, err := p.g.run(ctx, "cat-file", "commit", "HEAD")
		if err != nil {
			return err
		}
		theirs, err := p.g.run(ctx, "cat-file", "commit", remoteSHA)
		if err != nil {
			return err
		}
		same = treeAndParents(ours) == treeAndParents(theirs)
	}
	pr := NewPullRequest{Title: Title(c), Body: Body(c, p.base), Head: p.branch, Base: p.base,
		Labels: expand(p.o.Labels, team), TeamReviewers: expand(p.o.TeamReviewers, team)}
	if mine == nil && remoteSHA != "" && p.o.Forge != nil {
		// kube's branch is there but its pull request was closed unmerged:
		// a person said no to this version; kube does not ask again.
		if closed, ok, err := p.o.Forge.ClosedUnmerged(ctx, p.repo, p.branch); err != nil {
			return err
		} else if ok {
			p.res.Status, p.res.PullRequest = Skipped, &closed
			p.res.Detail = fmt.Sprintf("#%d was closed without merging: kube does not reopen it; delete branch %s to be proposed this version again", closed.Number, p.branch)
			return nil
		}
	}
	if p.o.DryRun {
		p.res.Status = Proposed
		verb := "open a pull request"
		if mine != nil {
			p.res.Status, p.res.PullRequest, verb = Updated, mine, fmt.Sprintf("update #%d", mine.Number)
		}
		p.res.Detail = fmt.Sprintf("dry run: would push %s (%d file(s)) and %s", p.branch, c.Files(), verb)
		return nil
	}
	if !same {
		p.step("pushing " + p.branch)
		// The lease: the branch is still what kube checked (or still absent).
		if _, err := p.g.run(ctx, "push", "--quiet", "--no-verify", "--force-with-lease=refs/heads/"+p.branch+":"+remoteSHA, "origin", "HEAD:refs/heads/"+p.branch); err != nil {
			return err
		}
	}
	if p.o.Forge == nil {
		return errors.New("no forge to open the pull request on")
	}
	switch {
	case mine != nil:
		p.step(fmt.Sprintf("updating #%d", mine.Number))
		if err := p.o.Forge.Update(ctx, p.repo, mine.Number, pr); err != nil {
			return err
		}
		p.res.PullRequest = mine
		p.res.Status, p.res.Detail = Updated, fmt.Sprintf("#%d rewritten: %d file(s)", mine.Number, c.Files())
		if same {
			p.res.Status, p.res.Detail = Unchanged, fmt.Sprintf("#%d is current", mine.Number)
		}
	default:
		p.step("opening the pull request")
		created, err := p.o.Forge.Create(ctx, p.repo, pr)
		if created.Number != 0 {
			p.res.PullRequest = &created
		}
		if err != nil {
			return err
		}
		p.res.Status, p.res.Detail = Proposed, fmt.Sprintf("#%d: %d file(s)", created.Number, c.Files())
	}
	n := p.res.PullRequest.Number
	return p.closeAll(ctx, others, fmt.Sprintf("Superseded by #%d, which regenerates with kube's templates %s.", n, c.To))
}

// nothingToChange closes kube's stale pull requests (and deletes their
// branch): the templates are current on the default branch.
func (p *proposal) nothingToChange(ctx context.Context, remoteSHA string, mine *PullRequest, others []PullRequest) error {
	p.res.Status, p.res.Detail = Unchanged, "nothing to change"
	all := others
	if mine != nil {
		all = append(all, *mine)
	}
	if p.o.DryRun {
		for _, pr := range all {
			p.res.Closed = append(p.res.Closed, pr.Number)
		}
		if len(all) > 0 {
			p.res.Detail = fmt.Sprintf("nothing to change; dry run: would close %s", numbers(p.res.Closed))
		}
		return nil
	}
	if err := p.closeAll(ctx, all, fmt.Sprintf("kube's templates v%s generate exactly what `%s` holds now: nothing left to propose, so kube closes this pull request.", p.o.Version, p.base)); err != nil {
		return err
	}
	if remoteSHA != "" && mine != nil {
		if _, err := p.g.run(ctx, "push", "--quiet", "--no-verify", "--force-with-lease=refs/heads/"+p.branch+":"+remoteSHA, "origin", "--delete", p.branch); err != nil {
			return err
		}
	}
	if len(p.res.Closed) > 0 {
		p.res.Detail = "nothing to change; closed " + numbers(p.res.Closed)
	}
	return nil
}

func (p *proposal) closeAll(ctx context.Context, prs []PullRequest, comment string) error {
	for _, pr := range prs {
		p.step(fmt.Sprintf("closing #%d", pr.Number))
		if err := p.o.Forge.Close(ctx, p.repo, pr.Number, comment); err != nil {
			return err
		}
		p.res.Closed = append(p.res.Closed, pr.Number)
	}
	return nil
}

// remoteBranch is the commit of kube's branch on the server, "" without one.
func (p *proposal) remoteBranch(ctx context.Context) (string, error) {
	out, err := p.g.run(ctx, "ls-remote", "--heads", "origin", "refs/heads/"+p.branch)
	if err != nil || out == "" {
		return "", err
	}
	sha, _, _ := strings.Cut(out, "\t")
	return sha, nil
}

// foreignCommit fetches kube's branch without what the default branch already
// has, and returns the first commit on it that kube did not make ("" when all
// are kube's): another committer, or no kube trailer.
func (p *proposal) foreignCommit(ctx context.Context) (string, error) {
	ref := "refs/remotes/origin/" + p.branch
	if _, err := p.g.run(ctx, "fetch", "--quiet", "--no-tags", "--shallow-exclude="+p.base, "origin", "+refs/heads/"+p.branch+":"+ref); err != nil {
		// Everything on it is on the default branch already (a merged
		// pull request): nothing of a person's to protect.
		if _, err2 := p.g.run(ctx, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", "+refs/heads/"+p.branch+":"+ref); err2 != nil {
			return "", err
		}
		return "", nil
	}
	log, err := p.g.run(ctx, "log", "--format=%h%x1f%ce%x1f%an%x1f%(trailers:key="+trailer+",valueonly,separator=%x2c)", ref, "--not", "HEAD")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(log, "\n") {
		f := strings.Split(line, "\x1f")
		if len(f) != 4 {
			continue
		}
		if f[1] != p.o.Identity.Email || strings.TrimSpace(f[3]) == "" {
			return fmt.Sprintf("%s by %s", f[0], f[2]), nil
		}
	}
	return "", nil
}

// remoteOf is the URL to clone: the argument when it is one, else the origin
// of the local clone it names (the clone itself is never touched).
func remoteOf(ctx context.Context, given string) (string, error) {
	if st, err := os.Stat(given); err == nil && st.IsDir() {
		out, err := exec.CommandContext(ctx, "git", "-C", given, "remote", "get-url", "origin").Output()
		if err != nil {
			return "", fmt.Errorf("%s: not a git clone with an origin remote", given)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if strings.HasPrefix(given, "-") {
		// Never an option to git (--upload-pack runs a program).
		return "", fmt.Errorf("%s: neither a local clone nor a repository URL", given)
	}
	if strings.Contains(given, "://") || strings.Contains(given, "@") {
		return given, nil
	}
	return "", fmt.Errorf("%s: neither a local clone nor a repository URL", given)
}

// ParseRepo reads owner and name from a remote: https://host/owner/name(.git)
// or git@host:owner/name(.git).
func ParseRepo(remote string) (Repo, error) {
	p := remote
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" {
		p = u.Path
	} else if _, after, ok := strings.Cut(remote, ":"); ok {
		p = after
	}
	parts := strings.Split(strings.TrimSuffix(strings.Trim(p, "/"), ".git"), "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return Repo{}, fmt.Errorf("%s: cannot tell the repository's owner and name", remote)
	}
	return Repo{Owner: parts[len(parts)-2], Name: parts[len(parts)-1]}, nil
}

func expand(templates []string, team string) []string {
	var out []string
	for _, t := range templates {
		if strings.Contains(t, "{team}") {
			if team == "" {
				continue
			}
			t = strings.ReplaceAll(t, "{team}", team)
		}
		out = append(out, t)
	}
	return out
}

// treeAndParents are a raw commit's tree and parent lines.
func treeAndParents(commit string) string {
	var b strings.Builder
	for _, line := range strings.Split(commit, "\n") {
		if line == "" {
			break
		}
		if strings.HasPrefix(line, "tree ") || strings.HasPrefix(line, "parent ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func numbers(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprintf("#%d", n)
	}
	return strings.Join(s, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
