package contract

import (
	"os"
	"os/exec"
	"strings"
)

// Who names the person running kube, for the guard, revisions and forks: git's
// user.email, else $USER (%USERNAME% on Windows), else "someone".
func Who() string {
	if out, err := exec.Command("git", "config", "user.email").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		return strings.TrimSpace(string(out))
	}
	for _, v := range []string{"USER", "USERNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return "someone"
}

// GitCommit is the commit of the repository holding dir, marked -dirty when the
// tree has changes; "" outside a repository.
func GitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		commit += "-dirty"
	}
	return commit
}
