package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/propose"
	"github.com/kube-idp/kube/internal/spec"
)

// GenerateOptions are kube generate's.
type GenerateOptions struct {
	IO             *IOStreams
	Dirs           []string
	Update, Schema bool
	SpecFile       string
	Output         string
	// Propose opens pull requests for the fleet: Repos are URLs or local
	// clones (arguments and ReposFile).
	Propose       bool
	Repos         []string
	ReposFile     string
	DryRun        bool
	WorkDir       string
	Parallel      int
	Labels        []string
	TeamReviewers []string
	GitHubAPI     string
}

func newGenerateCmd(f *Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	o := &GenerateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "generate [DIR...]",
		Short: "Generate kubernetes/<cluster>/ manifests from kube-generate.yaml, or check that they are current",
		Long: `Generate the app's manifests from kube-generate.yaml into kubernetes/<cluster>/,
one file per object, the same bytes on every machine.

Without --update it only checks (the mode for CI): it exits 1 with a unified diff
for every file that was edited by hand, is stale or is missing, and 0 when all is
current. An invalid spec exits 2, with every problem at file:line:column. With --update it writes what differs (atomically) and removes the files
the spec no longer produces; files without kube's header are never touched.

With several directories (or a glob), every repository is handled in parallel and
a summary line per repository is printed: the fleet-wide daily update.

With --propose (the platform's daily job; docs/generate.md), each repository (a URL,
or a local clone whose origin is used; the clone itself is not touched) is cloned
shallowly into a work directory and regenerated; where kubernetes/ changed, kube
commits on kube-generate/templates-v<N>, pushes, and opens the pull request, or
rewrites the one already open from that branch. A branch with a commit that is not
kube's is left alone; a repository with nothing to change gets kube's stale pull
request closed. The token comes from $GITHUB_TOKEN (or $GH_TOKEN) and is never
printed. Exit 1 if any repository failed; one failure never stops the others.`,
		Example: `  kube generate                 # check, in CI
  kube generate --update        # write kubernetes/<cluster>/
  kube generate --update ~/src/*  # every repository of the fleet
  kube generate --schema > kube-generate.schema.json
  kube generate --update --propose --repos fleet.txt             # the daily job
  kube generate --update --propose --dry-run https://github.com/acme/billing.git`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Propose {
				return proposeArgs(cmd.Context(), o, args, runF)
			}
			dirs, err := expandDirs(args)
			if err != nil {
				return usageError{err}
			}
			if o.SpecFile != "" && len(dirs) > 1 {
				return usageError{errors.New("--file names one spec: use it with one directory")}
			}
			o.Dirs = dirs
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runGenerate(o)
		},
	}
	cmd.Flags().BoolVarP(&o.Update, "update", "u", false, "write the generated files (default: only check them)")
	cmd.Flags().StringVarP(&o.SpecFile, "file", "f", "", "spec file (default: DIR/"+spec.FileName+")")
	cmd.Flags().BoolVar(&o.Schema, "schema", false, "print the JSON Schema of "+spec.FileName+" (for editors) and exit")
	cmd.Flags().BoolVar(&o.Propose, "propose", false, "open (or update) a pull request in each repository whose kubernetes/ changes (with --update)")
	cmd.Flags().StringVar(&o.ReposFile, "repos", "", "with --propose: a file listing the repositories, one URL or local clone per line")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "with --propose: regenerate and commit in the work directory, print what would be pushed and opened")
	cmd.Flags().StringVar(&o.WorkDir, "work-dir", "", "with --propose: where the clones go (default: a temporary directory, removed at the end)")
	cmd.Flags().IntVarP(&o.Parallel, "parallel", "j", 4, "with --propose: repositories handled at once")
	cmd.Flags().StringSliceVar(&o.Labels, "label", []string{"kube-generate", "team/{team}"}, "with --propose: labels of the pull requests; {team} is the app's team")
	cmd.Flags().StringSliceVar(&o.TeamReviewers, "team-reviewer", []string{"{team}"}, "with --propose: GitHub teams asked to review; {team} is the app's team (--team-reviewer= for none)")
	cmd.Flags().StringVar(&o.GitHubAPI, "github-api", "", "with --propose: the GitHub REST API's URL, for GitHub Enterprise (default: $GITHUB_API_URL, else api.github.com)")
	outputFlag(cmd, &o.Output)
	return cmd
}

// proposeArgs checks --propose's flags and collects its repositories.
func proposeArgs(ctx context.Context, o *GenerateOptions, args []string, runF func(context.Context, *GenerateOptions) error) error {
	if !o.Update {
		return usageError{errors.New("--propose writes the regenerated files: give --update --propose")}
	}
	if o.SpecFile != "" || o.Schema {
		return usageError{errors.New("--propose regenerates each repository from its own kube-generate.yaml: drop --file and --schema")}
	}
	if o.Parallel < 1 {
		return usageError{fmt.Errorf("--parallel must be at least 1, not %d", o.Parallel)}
	}
	o.Repos = args
	if o.ReposFile != "" {
		text, err := os.ReadFile(o.ReposFile)
		if err != nil {
			return usageError{err}
		}
		listed, err := propose.ParseRepos(o.ReposFile, string(text))
		if err != nil {
			return usageError{err}
		}
		o.Repos = append(o.Repos, listed...)
	}
	if len(o.Repos) == 0 {
		return usageError{errors.New("--propose needs repositories: give URLs or local clones, or --repos FILE")}
	}
	if runF != nil {
		return runF(ctx, o)
	}
	return runPropose(ctx, o)
}

// runPropose regenerates the fleet and opens its pull requests.
func runPropose(ctx context.Context, o *GenerateOptions) error {
	token := cmp.Or(o.IO.getenv("GITHUB_TOKEN"), o.IO.getenv("GH_TOKEN"))
	opts := propose.Options{Token: token, DryRun: o.DryRun, Parallel: o.Parallel, Labels: o.Labels, TeamReviewers: o.TeamReviewers}
	switch {
	case token != "":
		forge, err := propose.NewGitHub(token, cmp.Or(o.GitHubAPI, o.IO.getenv("GITHUB_API_URL")))
		if err != nil {
			return err
		}
		opts.Forge = forge
	case !o.DryRun:
		return usageError{errors.New("--propose pushes and opens pull requests: set $GITHUB_TOKEN (contents: write and pull-requests: write on the repositories), or try --dry-run")}
	}
	opts.WorkDir = o.WorkDir
	if opts.WorkDir == "" {
		dir, err := os.MkdirTemp("", "kube-propose-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.WorkDir = dir
	} else if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return err
	}
	// As kube generate's own runs: regenerating is a burst of allocation.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	p := o.IO.Progress()
	opts.Progress = func(repo, step string) { p.Printf("%s: %s", repo, step) }
	results := propose.Run(ctx, o.Repos, opts)
	if done, err := o.IO.structured(o.Output, results); err != nil {
		return err
	} else if !done {
		printProposals(o.IO, results)
	}
	for _, r := range results {
		if r.Status == propose.Failed {
			return exitCode(exitFailure)
		}
	}
	return nil
}

func printProposals(streams *IOStreams, results []propose.Result) {
	t := streams.newTable("REPOSITORY", "STATUS", "PULL REQUEST", "DETAIL")
	count := map[propose.Status]int{}
	for _, r := range results {
		count[r.Status]++
		pr := ""
		if r.PullRequest != nil {
			pr = r.PullRequest.URL
		}
		t.row(r.Repo, string(r.Status), pr, r.Detail)
	}
	_ = t.print()
	fmt.Fprintf(streams.ErrOut, "kube generate --propose: %d repositories: %d proposed, %d updated, %d unchanged, %d skipped, %d failed\n",
		len(results), count[propose.Proposed], count[propose.Updated], count[propose.Unchanged], count[propose.Skipped], count[propose.Failed])
}

func runGenerate(o *GenerateOptions) error {
	streams, update := o.IO, o.Update
	if o.Schema {
		return writeJSON(streams.Out, generate.Schema())
	}
	// A check is a short burst of allocation over a small live heap, so the
	// collector's default pacing runs it almost continuously (a quarter of
	// the fleet check's time); a larger target costs tens of megabytes.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var reports []*generate.Report
	if len(o.Dirs) == 1 {
		reports = []*generate.Report{generate.Repo(o.Dirs[0], o.SpecFile, update)}
	} else {
		reports = generate.Fleet(o.Dirs, update)
	}
	if done, err := streams.structured(o.Output, reports); err != nil {
		return err
	} else if !done && len(reports) == 1 {
		printRepoReport(streams, reports[0], update)
	} else if !done {
		printFleetReport(streams, reports, update)
	}
	code := exitOK
	for _, r := range reports {
		switch {
		case r.Err != nil:
			code = exitUsage // an invalid spec (or one that cannot be read)
		case !update && r.OutOfDate() > 0 && code == exitOK:
			code = exitFailure
		}
	}
	if code != exitOK {
		return exitCode(code)
	}
	return nil
}

// expandDirs turns the arguments into directories, expanding globs the shell did
// not (for example on Windows or when quoted).
func expandDirs(args []string) ([]string, error) {
	if len(args) == 0 {
		return []string{"."}, nil
	}
	var dirs []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			dirs = append(dirs, a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%q matches no directory", a)
		}
		dirs = append(dirs, matches...)
	}
	return dirs, nil
}

func printRepoReport(streams *IOStreams, r *generate.Report, update bool) {
	for _, w := range r.Warnings {
		fmt.Fprintln(streams.ErrOut, w)
	}
	if r.Err != nil {
		fmt.Fprintln(streams.ErrOut, r.Err)
		fmt.Fprintln(streams.ErrOut, "kube generate: nothing was written")
		return
	}
	c := r.Count()
	for _, f := range r.Files {
		switch f.State {
		case generate.Foreign:
			fmt.Fprintf(streams.ErrOut, "note: %s was not generated by kube; left alone\n", f.Path)
		case generate.Stale:
			if !update {
				fmt.Fprintf(streams.Out, "stale: %s is no longer generated (--update removes it)\n", f.Path)
			}
		case generate.Missing:
			if !update {
				fmt.Fprintf(streams.Out, "missing: %s\n", f.Path)
			}
		case generate.Changed:
			if !update {
				fmt.Fprint(streams.Out, streams.Diff(f.Diff))
			}
		}
	}
	total := len(r.Files) - c[generate.Foreign] - c[generate.Stale]
	switch {
	case update:
		fmt.Fprintf(streams.ErrOut, "kube generate: wrote %d, removed %d, %d unchanged\n", c[generate.Changed]+c[generate.Missing], c[generate.Stale], c[generate.Unchanged])
	case r.OutOfDate() > 0:
		fmt.Fprintf(streams.ErrOut, "kube generate: %d files out of date (%d changed, %d missing, %d stale); run: kube generate --update\n",
			r.OutOfDate(), c[generate.Changed], c[generate.Missing], c[generate.Stale])
	default:
		fmt.Fprintf(streams.ErrOut, "kube generate: %d files up to date\n", total)
	}
}

func printFleetReport(streams *IOStreams, reports []*generate.Report, update bool) {
	var changed, unchanged, failed int
	for _, r := range reports {
		switch {
		case r.Err != nil:
			failed++
			first, _, _ := strings.Cut(r.Err.Error(), "\n")
			fmt.Fprintf(streams.Out, "%-40s failed: %s\n", r.Dir, first)
		case r.OutOfDate() > 0:
			changed++
			verb := "out of date"
			if update {
				verb = "updated"
			}
			fmt.Fprintf(streams.Out, "%-40s %s: %d files\n", r.Dir, verb, r.OutOfDate())
		default:
			unchanged++
			fmt.Fprintf(streams.Out, "%-40s unchanged\n", r.Dir)
		}
	}
	label := "out of date"
	if update {
		label = "changed"
	}
	fmt.Fprintf(streams.ErrOut, "kube generate: %d repositories: %d %s, %d unchanged, %d failed\n", len(reports), changed, label, unchanged, failed)
}
