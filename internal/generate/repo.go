package generate

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/kube-idp/kube/internal/spec"
)

// Report is the outcome of generating one repository.
type Report struct {
	Dir   string   `json:"dir"`
	Files []Result `json:"files,omitempty"`
	// Err is the spec's errors or an I/O failure; the repository was not touched.
	Err error `json:"-"`
	// Error is Err as text, for JSON output.
	Error string `json:"error,omitempty"`
	// Warnings are file:line:column findings that do not fail the check
	// (e.g. an alert rule reading another namespace's metrics).
	Warnings []string `json:"warnings,omitempty"`
	// Team is the spec's owning team (pull requests are labelled with it).
	Team string `json:"-"`
}

// Count returns how many files are in each state.
func (r *Report) Count() map[State]int {
	c := map[State]int{}
	for _, f := range r.Files {
		c[f.State]++
	}
	return c
}

// OutOfDate is the number of files --update would write or remove.
func (r *Report) OutOfDate() int {
	n := 0
	for _, f := range r.Files {
		if f.OutOfDate() {
			n++
		}
	}
	return n
}

// Repo generates the repository at dir from its spec (specPath, or
// dir/kube-generate.yaml when empty), compares with the disk and, with update,
// brings the disk up to date. Nothing is written when the spec has errors.
func Repo(dir, specPath string, update bool) *Report {
	r := &Report{Dir: dir}
	if specPath == "" {
		specPath = filepath.Join(dir, spec.FileName)
	}
	fail := func(err error) *Report {
		r.Err, r.Error = err, err.Error()
		return r
	}
	f, err := LoadSpec(specPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("no %s: write one (kube generate --schema lists every key; docs/generate.md has examples) or pass --file", specPath))
	}
	if err != nil {
		return fail(err)
	}
	r.Team = f.Team
	for _, w := range f.Warnings {
		r.Warnings = append(r.Warnings, w.Error())
	}
	files, err := Generate(f, filepath.Dir(specPath))
	if err != nil {
		return fail(err)
	}
	r.Files, err = Compare(dir, files)
	if err != nil {
		return fail(err)
	}
	if update {
		if err := Update(dir, files, r.Files); err != nil {
			return fail(err)
		}
	}
	return r
}

// Fleet runs Repo over many repositories in parallel (one per CPU) and returns the
// reports in the order of dirs.
func Fleet(dirs []string, update bool) []*Report {
	reports := make([]*Report, len(dirs))
	var eg errgroup.Group
	eg.SetLimit(runtime.GOMAXPROCS(0))
	for i, d := range dirs {
		eg.Go(func() error {
			reports[i] = Repo(d, "", update)
			return nil // a repository's failure is in its report
		})
	}
	_ = eg.Wait()
	return reports
}
