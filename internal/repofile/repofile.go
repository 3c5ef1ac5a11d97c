// Package repofile keeps what kube reads of a repository that a pull request
// controls away from version-control metadata. A CI checkout's .git/config holds
// the job's token (GitHub's `extraheader = AUTHORIZATION: basic …`): a chart
// template, a configMap file or a values file must never read it, by its name
// or through a symbolic link inside the repository.
package repofile

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// vcsDirs are the metadata directories of the version-control systems kube
// meets in checkouts.
var vcsDirs = []string{".git", ".hg", ".svn", ".bzr", ".jj", ".sl"}

// IsVCS tells whether rel (relative, slash- or OS-separated) is, or lies under,
// version-control metadata. A .git file (a worktree's or submodule's pointer)
// counts too.
func IsVCS(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if slices.Contains(vcsDirs, strings.ToLower(part)) {
			return true
		}
	}
	return false
}

// Check refuses rel, a path inside dir, when it or what its symbolic links
// resolve to is version-control metadata. Paths that leave dir are the
// os.Root's to refuse; Check only adds the metadata rule.
func Check(dir, rel string) error {
	if IsVCS(rel) {
		return vcsError(rel)
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil // missing or unreadable: the read that follows says so
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	if r, err := filepath.Rel(base, resolved); err == nil && IsVCS(r) {
		return vcsError(rel)
	}
	return nil
}

func vcsError(rel string) error {
	return fmt.Errorf("%s is (or leads to) version-control metadata, which kube never reads: it holds the CI checkout's credentials", path.Clean(filepath.ToSlash(rel)))
}
