package infra

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Target is a root a change touches: one job of CI's plan matrix.
type Target struct {
	Root string `json:"root"`
	// Deleted: the root is gone at HEAD (its resources are still in its
	// state: destroy them before deleting a root, docs/infra.md).
	Deleted bool `json:"deleted,omitempty"`
	// Why names the changed files (or modules) that touch it, a few at most.
	Why []string `json:"why"`
	// Artifact names the root's plan artifact in CI (artifact names cannot
	// hold a slash): the plan job uploads it, the apply job downloads it.
	Artifact string `json:"artifact"`
}

// ArtifactName is the CI artifact of a root's plan.
func ArtifactName(root string) string {
	return "kube-infra-plan-" + strings.NewReplacer("/", "__", ":", "_", "\\", "_", "\"", "_", "<", "_", ">", "_", "|", "_", "*", "_", "?", "_").Replace(root)
}

// Tree is what Targets reads of a commit: its files and their content.
type Tree interface {
	Files() ([]string, error) // slash-separated paths
	Read(name string) ([]byte, error)
}

// Targets are the roots of head that changed files touch: a file in the
// root (its .tf, .tfvars, lock file or kube-infra.yaml) or in a local module
// it uses, directly or through other modules. Roots of base that head no
// longer has are Deleted targets. Sorted by root.
func Targets(base, head Tree, changed []string) ([]Target, error) {
	headFiles, err := head.Files()
	if err != nil {
		return nil, err
	}
	baseFiles, err := base.Files()
	if err != nil {
		return nil, err
	}
	headRoots := roots(headFiles)
	g, err := moduleGraph(headFiles, head, headRoots)
	if err != nil {
		return nil, err
	}
	why := map[string][]string{}
	for _, f := range changed {
		dir := path.Dir(f)
		for _, r := range headRoots {
			if within(dir, r) || g.uses(r, dir) {
				why[r] = append(why[r], f)
			}
		}
	}
	out := []Target{}
	for r, files := range why {
		out = append(out, Target{Root: r, Why: firstFew(files), Artifact: ArtifactName(r)})
	}
	for _, r := range roots(baseFiles) {
		if !slices.Contains(headRoots, r) {
			out = append(out, Target{Root: r, Deleted: true, Why: []string{r + "/" + FileName + " removed"}, Artifact: ArtifactName(r)})
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.Root, b.Root) })
	return out, nil
}

func firstFew(files []string) []string {
	slices.Sort(files)
	if len(files) > 5 {
		return append(files[:5:5], fmt.Sprintf("and %d more", len(files)-5))
	}
	return files
}

// within says whether dir is root or below it.
func within(dir, root string) bool {
	return dir == root || strings.HasPrefix(dir, root+"/")
}

// roots are the directories holding a kube-infra.yaml, the repository's own
// top-level one excepted.
func roots(files []string) []string {
	var out []string
	for _, f := range files {
		if path.Base(f) == FileName && f != FileName {
			out = append(out, path.Dir(f))
		}
	}
	slices.Sort(out)
	return out
}

// graph maps a directory to the local module directories its .tf files use.
type graph struct {
	uses1 map[string][]string
	all   map[string]map[string]bool // root -> every module dir it uses, transitively
}

func (g *graph) uses(root, dir string) bool {
	for m := range g.all[root] {
		if within(dir, m) {
			return true
		}
	}
	return false
}

// moduleGraph reads the module blocks of the roots' and their modules' .tf
// files: a local source ("./x", "../x") is a dependency; registry and git
// sources are versioned elsewhere and do not make targets.
func moduleGraph(files []string, t Tree, rootDirs []string) (*graph, error) {
	tf := map[string][]string{} // dir -> its .tf files
	for _, f := range files {
		if strings.HasSuffix(f, ".tf") {
			tf[path.Dir(f)] = append(tf[path.Dir(f)], f)
		}
	}
	g := &graph{uses1: map[string][]string{}, all: map[string]map[string]bool{}}
	read := map[string]bool{}
	var visit func(dir string) error
	visit = func(dir string) error {
		if read[dir] {
			return nil
		}
		read[dir] = true
		for _, f := range tf[dir] {
			src, err := t.Read(f)
			if err != nil {
				return err
			}
			deps, err := localModules(f, src)
			if err != nil {
				return err
			}
			for _, d := range deps {
				g.uses1[dir] = append(g.uses1[dir], d)
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, r := range rootDirs {
		if err := visit(r); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var walk func(d string)
		walk = func(d string) {
			for _, m := range g.uses1[d] {
				if !seen[m] {
					seen[m] = true
					walk(m)
				}
			}
		}
		walk(r)
		g.all[r] = seen
	}
	return g, nil
}

// localModules are the directories of the local module sources in one .tf file.
func localModules(name string, src []byte) ([]string, error) {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags.Error())
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, b := range body.Blocks {
		if b.Type != "module" {
			continue
		}
		attr, ok := b.Body.Attributes["source"]
		if !ok {
			continue
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() || !v.Type().Equals(cty.String) {
			continue // not a literal: OpenTofu itself requires one
		}
		s := v.AsString()
		if strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
			out = append(out, path.Clean(path.Join(path.Dir(name), s)))
		}
	}
	return out, nil
}

// GitTree is a commit of a git repository. Its .tf files are read in one
// git cat-file --batch, so that a monorepo of hundreds of roots takes two git
// processes, not one per file.
type GitTree struct {
	Dir, Rev string
	files    []string
	blobs    map[string]string // .tf file -> blob id
	content  map[string][]byte
}

// Files lists the commit's files.
func (g *GitTree) Files() ([]string, error) {
	if g.files != nil {
		return g.files, nil
	}
	out, err := git(context.Background(), g.Dir, "", "ls-tree", "-r", "-z", g.Rev)
	if err != nil {
		return nil, err
	}
	g.files, g.blobs = []string{}, map[string]string{}
	for _, entry := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		meta, name, ok := strings.Cut(entry, "\t") // "<mode> blob <id>\t<name>"
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "blob" {
			continue
		}
		g.files = append(g.files, name)
		if strings.HasSuffix(name, ".tf") {
			g.blobs[name] = fields[2]
		}
	}
	return g.files, nil
}

// Read reads one .tf file of the commit.
func (g *GitTree) Read(name string) ([]byte, error) {
	if g.content == nil {
		if err := g.readAll(); err != nil {
			return nil, err
		}
	}
	data, ok := g.content[name]
	if !ok {
		return nil, fmt.Errorf("%s: not a .tf file of %s", name, g.Rev)
	}
	return data, nil
}

func (g *GitTree) readAll() error {
	if _, err := g.Files(); err != nil {
		return err
	}
	names := make([]string, 0, len(g.blobs))
	var ids strings.Builder
	for name, id := range g.blobs {
		names = append(names, name)
		ids.WriteString(id + "\n")
	}
	out, err := git(context.Background(), g.Dir, ids.String(), "cat-file", "--batch")
	if err != nil {
		return err
	}
	byID := map[string][]byte{}
	rest := []byte(out)
	for len(rest) > 0 { // "<id> blob <size>\n<content>\n"
		head, body, ok := bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(head))
		if !ok || len(f) != 3 {
			return fmt.Errorf("git cat-file: unexpected %q", head)
		}
		var size int
		if _, err := fmt.Sscanf(f[2], "%d", &size); err != nil || size > len(body) {
			return fmt.Errorf("git cat-file: unexpected %q", head)
		}
		byID[f[0]] = body[:size]
		rest = body[min(size+1, len(body)):]
	}
	g.content = map[string][]byte{}
	for _, name := range names {
		g.content[name] = byID[g.blobs[name]]
	}
	return nil
}

// Changed lists the files that differ between the merge base of base and
// head, and head (what a pull request changes), renames as a deletion and an
// addition.
func Changed(ctx context.Context, dir, base, head string) ([]string, error) {
	out, err := git(ctx, dir, "", "diff", "--name-only", "--no-renames", "-z", base+"..."+head, "--")
	if err != nil {
		return nil, err
	}
	out = strings.TrimSuffix(out, "\x00")
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\x00"), nil
}

// MergeBase is the commit a pull request's plan compares with.
func MergeBase(ctx context.Context, dir, base, head string) (string, error) {
	out, err := git(ctx, dir, "", "merge-base", base, head)
	return strings.TrimSpace(out), err
}

// git runs git in dir with stdin.
func git(ctx context.Context, dir, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "core.quotePath=false"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
