package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kube-idp/kube/internal/progress"
)

// minGoMinor is the oldest Go 1.x that builds the pinned components.
const minGoMinor = 26

// Components is one built and cached set of sandbox binaries and CRD manifests.
type Components struct {
	Dir string // <cache>/sandbox/<key>
}

// BinDir holds the executables.
func (c Components) BinDir() string { return filepath.Join(c.Dir, "bin") }

// CRDDir holds the third-party CRD manifests, one file per source module.
func (c Components) CRDDir() string { return filepath.Join(c.Dir, "crds") }

// Bin is the path of one executable.
func (c Components) Bin(name string) string { return filepath.Join(c.BinDir(), name) }

// CachedComponents returns the cached set for this version, if it was built.
func CachedComponents() (Components, bool, error) {
	root, err := CacheRoot()
	if err != nil {
		return Components{}, false, err
	}
	c := Components{Dir: filepath.Join(root, "sandbox", CacheKey())}
	_, err = os.Stat(filepath.Join(c.Dir, "complete"))
	return c, err == nil, nil
}

// EnsureComponents returns the cached components, building them first if needed.
// Concurrent callers (parallel test processes) wait for one build.
func EnsureComponents(ctx context.Context, p *progress.Reporter) (Components, error) {
	c, ok, err := CachedComponents()
	if err != nil || ok {
		return c, err
	}
	if err := os.MkdirAll(filepath.Dir(c.Dir), 0o755); err != nil {
		return c, err
	}
	unlock, err := lockFile(ctx, c.Dir+".lock")
	if err != nil {
		return c, err
	}
	defer unlock()
	if _, ok, _ := CachedComponents(); ok { // built by another process while we waited
		return c, nil
	}
	return c, build(ctx, c, p)
}

func build(ctx context.Context, c Components, p *progress.Reporter) error {
	goBin, err := findGo(ctx)
	if err != nil {
		return err
	}
	tools, err := FindToolsDir()
	if err != nil {
		return err
	}
	tmp := c.Dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "bin"), 0o755); err != nil {
		return err
	}
	p.Printf("Building the sandbox's components (Kubernetes %s, etcd %s, kwok %s) into %s.", KubernetesVersion, EtcdVersion, KwokVersion, c.Dir)
	p.Printf("This happens once per version; the first build takes about 12 minutes on 2 cores.")
	for _, b := range binaries() {
		out := filepath.Join(tmp, "bin", b.Name)
		msg := fmt.Sprintf("building %s %s", b.Name, b.Version)
		err := p.Step(msg, func() error {
			return runGo(ctx, goBin, filepath.Join(tools, b.Module), filepath.Join(tmp, b.Name+".build.log"),
				"build", "-trimpath", "-ldflags", b.LDFlags, "-o", out, b.Package)
		})
		if err != nil {
			return err
		}
	}
	err = p.Step("copying CRDs of Gateway API, Istio and prometheus-operator from their Go modules", func() error {
		return copyCRDs(ctx, goBin, filepath.Join(tools, "crds"), filepath.Join(tmp, "crds"))
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(CacheKey()+"\n"), 0o644); err != nil {
		return err
	}
	// Remove build logs of successful builds; keep the directory rename atomic.
	logs, _ := filepath.Glob(filepath.Join(tmp, "*.build.log"))
	for _, l := range logs {
		_ = os.Remove(l)
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return err
	}
	return os.Rename(tmp, c.Dir)
}

// findGo checks that a recent enough Go toolchain is on PATH.
func findGo(ctx context.Context) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("Go is required to build the sandbox's components, but `go` is not on PATH: install Go 1.%d or newer (https://go.dev/doc/install) and run again", minGoMinor) //nolint:staticcheck // sentence for people
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("running %s env GOVERSION: %w", goBin, err)
	}
	v := strings.TrimSpace(string(out))
	parts := strings.Split(strings.TrimPrefix(v, "go"), ".")
	if len(parts) >= 2 {
		if minor, err := strconv.Atoi(parts[1]); err == nil && parts[0] == "1" && minor < minGoMinor {
			return "", fmt.Errorf("%s is %s; the sandbox's components need Go 1.%d or newer", goBin, v, minGoMinor)
		}
	}
	return goBin, nil
}

// runGo runs the go command in dir with go.sum enforced, logging to logPath; on
// failure the error carries the last lines of the log and its path.
func runGo(ctx context.Context, goBin, dir, logPath string, args ...string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// go.sum is committed: never rewrite it, and never ask the checksum database
	// about k8s.io/kubernetes (it may answer 404).
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "GONOSUMDB=k8s.io/kubernetes")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("go %s failed in %s: %w\n%s\nfull log: %s", args[0], dir, err, indent(tailFile(logPath, 20)), logPath)
	}
	return nil
}

// copyCRDs copies the CRD manifests out of the pinned modules (verified by go.sum).
func copyCRDs(ctx context.Context, goBin, moduleDir, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, src := range crdSources() {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", src.Module)
		cmd.Dir = moduleDir
		cmd.Stdout = &out
		cmd.Stderr = &out
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go mod download %s: %w\n%s", src.Module, err, indent(out.String()))
		}
		var mod struct{ Dir, Version, Error string }
		if err := json.Unmarshal(out.Bytes(), &mod); err != nil {
			return fmt.Errorf("go mod download %s: %w", src.Module, err)
		}
		if mod.Version != src.Version {
			return fmt.Errorf("hack/tools/crds/go.mod pins %s %s, but kube expects %s", src.Module, mod.Version, src.Version)
		}
		var manifests bytes.Buffer
		for _, p := range src.Paths {
			files, err := yamlFiles(filepath.Join(mod.Dir, p))
			if err != nil {
				return err
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				manifests.WriteString("---\n")
				manifests.Write(data)
				manifests.WriteString("\n")
			}
		}
		if err := os.WriteFile(filepath.Join(dst, src.Name+".yaml"), manifests.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// yamlFiles lists path itself, or the *.yaml files directly in it, sorted.
func yamlFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 && err == nil {
		err = errors.New("no *.yaml files in " + path)
	}
	sort.Strings(files)
	return files, err
}
