package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// toolsModule is the module path of hack/tools; it identifies the directory.
const toolsModule = "github.com/kube-idp/kube/hack/tools"

// DefaultToolsDir may be set at link time to the repository's hack/tools, so that a
// kube binary built by `make build` can build the sandbox from any directory.
var DefaultToolsDir = ""

// CacheRoot is where built components are kept across runs and clones:
// $KUBE_CACHE_DIR, else the user cache directory (~/.cache/kube).
func CacheRoot() (string, error) {
	if d := os.Getenv("KUBE_CACHE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a cache directory (set KUBE_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "kube"), nil
}

// StateRoot is where running sandboxes keep their files:
// $KUBE_STATE_DIR, else $XDG_STATE_HOME/kube, else ~/.local/state/kube.
func StateRoot() (string, error) {
	if d := os.Getenv("KUBE_STATE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kube"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a state directory (set KUBE_STATE_DIR): %w", err)
	}
	return filepath.Join(home, ".local", "state", "kube"), nil
}

// FindToolsDir locates hack/tools: $KUBE_TOOLS_DIR, the directory recorded at link
// time, or a parent of the working directory that holds the repository.
func FindToolsDir() (string, error) {
	var candidates []string
	if d := os.Getenv("KUBE_TOOLS_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	if DefaultToolsDir != "" {
		candidates = append(candidates, DefaultToolsDir)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, filepath.Join(d, "hack", "tools"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range candidates {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+toolsModule+"\n") {
			return filepath.Abs(d)
		}
	}
	return "", errors.New("the sandbox's components are not built yet and their sources (hack/tools of the kube repository) were not found: " +
		"run kube from inside the repository, build it with `make build`, or set KUBE_TOOLS_DIR to the repository's hack/tools")
}
