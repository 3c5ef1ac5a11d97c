package addons

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/repofile"
)

// Rendered is one add-on as kube deploys it.
type Rendered struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Chart and Version of a Helm chart ("" for a directory of manifests).
	Chart      string `json:"chart,omitempty"`
	Version    string `json:"version,omitempty"`
	AppVersion string `json:"appVersion,omitempty"`
	// KubeVersion is the chart's constraint on Kubernetes versions.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Source is where it came from: a chart URL, an OCI reference, a directory.
	Source  string                       `json:"source"`
	Objects []*unstructured.Unstructured `json:"-"`
	// Templates are, for a chart, the template each object came from (Helm's
	// "# Source:" line, a hook's path), in the order of Objects: where a
	// finding about the object is placed.
	Templates []string `json:"-"`
}

// Error is a problem with one add-on; it names the add-on.
type Error struct {
	Addon string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("add-on %s: %v", e.Addon, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Renderer renders add-ons with Helm's SDK, exactly as helm template would.
type Renderer struct {
	Fetcher *Fetcher
	// KubeVersion is what .Capabilities.KubeVersion says, e.g. "v1.37.2" (the
	// cluster's version when deploying, the target's when checking an
	// upgrade); "" is Helm's default.
	KubeVersion string
	// APIVersions are extra group/versions for .Capabilities.APIVersions.Has.
	APIVersions []string
	// RenderTimeout bounds one add-on's rendering (DefaultRenderTimeout).
	RenderTimeout time.Duration
	// IgnoreKubeVersion renders a chart whose kubeVersion excludes
	// KubeVersion anyway (the upgrade check reports the constraint itself and
	// still wants the APIs the chart would use).
	IgnoreKubeVersion bool
}

// Render renders one add-on of f.
func (r *Renderer) Render(ctx context.Context, f *File, rel *Release) (*Rendered, error) {
	out, err := r.render(ctx, f, rel)
	if err != nil {
		return nil, &Error{Addon: rel.Name, Err: err}
	}
	return out, nil
}

// RenderAll renders every add-on given; on any error it returns all of them
// (one per add-on), so that nothing is deployed from a half-rendered file.
func (r *Renderer) RenderAll(ctx context.Context, f *File, rels []*Release) ([]*Rendered, error) {
	var out []*Rendered
	var errs []error
	for _, rel := range rels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		x, err := r.Render(ctx, f, rel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, x)
	}
	return out, errors.Join(errs...)
}

func (r *Renderer) render(ctx context.Context, f *File, rel *Release) (*Rendered, error) {
	root, err := os.OpenRoot(f.Root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	out := &Rendered{Name: rel.Name, Namespace: rel.Namespace}
	var ch *chart.Chart
	if rel.Source() == FromDirectory {
		dir, err := f.repoPath(rel.Chart)
		if err != nil {
			return nil, err
		}
		out.Source = dir
		if _, err := fs.Stat(root.FS(), path.Join(dir, "Chart.yaml")); err != nil {
			if _, derr := fs.Stat(root.FS(), dir); derr != nil {
				return nil, fmt.Errorf("chart %s: no such directory in the repository", rel.Chart)
			}
			// A directory of manifests, as Helmfile takes it.
			m, err := deploy.LoadFS(root.FS(), dir, deploy.LoadOptions{Recursive: true})
			if err != nil {
				return nil, err
			}
			out.Objects = m.Objects
			return out, nil
		}
		if ch, err = loadChartDir(root.FS(), f.Root, dir); err != nil {
			return nil, fmt.Errorf("chart %s: %w", rel.Chart, err)
		}
	} else {
		repoName, name := rel.RepoChart()
		repo, _ := f.Repository(repoName)
		fetched, err := r.Fetcher.Fetch(ctx, repo, name, rel.Version)
		if err != nil {
			return nil, err
		}
		ch, out.Source = fetched.Chart, fetched.Source
	}
	out.Chart, out.Version, out.AppVersion, out.KubeVersion = ch.Metadata.Name, ch.Metadata.Version, ch.Metadata.AppVersion, ch.Metadata.KubeVersion
	if r.IgnoreKubeVersion && ch.Metadata.KubeVersion != "" {
		copied, meta := *ch, *ch.Metadata
		meta.KubeVersion = ""
		copied.Metadata = &meta
		ch = &copied
	}
	vals, err := r.values(root.FS(), f, rel)
	if err != nil {
		return nil, err
	}
	if out.Objects, out.Templates, err = r.template(ctx, ch, rel, vals); err != nil {
		return nil, err
	}
	return out, nil
}

// values merges the release's values files and inline values in order, as
// helm's -f does (maps merge, everything else replaces).
func (r *Renderer) values(fsys fs.FS, f *File, rel *Release) (map[string]any, error) {
	vals := map[string]any{}
	for _, v := range rel.Values {
		next := v.Inline
		if v.File != "" {
			p, err := f.repoPath(v.File)
			if err != nil {
				return nil, err
			}
			if err := repofile.Check(f.Root, p); err != nil {
				return nil, fmt.Errorf("values file %s: %w", v.File, err)
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, fmt.Errorf("values file %s: %w", v.File, err)
			}
			if next, err = common.ReadValues(data); err != nil {
				return nil, fmt.Errorf("values file %s: %w", v.File, err)
			}
			// As inline values: a reviewed file must not hold a secret.
			if at := credentialIn(map[string]any(next), ""); at != "" {
				return nil, fmt.Errorf("values file %s: %s looks like a credential; reviewed files must not hold secrets: reference a Secret the chart reads instead", v.File, at)
			}
		}
		vals = loader.MergeMaps(vals, next)
	}
	return vals, nil
}

// template renders the chart as `helm template --include-crds` does, with the
// chart's values schema enforced, and returns its objects and its hooks (but
// test hooks): kube applies hooks as ordinary objects. templates are the
// chart's template file of each object.
func (r *Renderer) template(ctx context.Context, ch *chart.Chart, rel *Release, vals map[string]any) (objs []*unstructured.Unstructured, templates []string, err error) {
	cfg := action.NewConfiguration()
	cfg.CustomTemplateFuncs = boundedFuncs()
	inst := action.NewInstall(cfg)
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName, inst.Namespace = rel.Name, rel.Namespace
	inst.IncludeCRDs = true
	inst.Replace = true
	inst.DisableOpenAPIValidation = true
	inst.APIVersions = r.APIVersions
	if r.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(r.KubeVersion)
		if err != nil {
			return nil, nil, err
		}
		inst.KubeVersion = kv
	}
	rl, err := r.run(ctx, inst, ch, vals)
	if err != nil {
		return nil, nil, err
	}
	if n := len(rl.Manifest); n > MaxRenderedBytes {
		return nil, nil, fmt.Errorf("the chart rendered %d MiB, more than the %d MiB kube takes from one add-on", n>>20, MaxRenderedBytes>>20)
	}
	type doc struct{ manifest, template string }
	docs := map[string]doc{}
	for k, v := range releaseutil.SplitManifests(rl.Manifest) {
		docs["manifest/"+k] = doc{v, sourceOf(v)}
	}
	for i, h := range rl.Hooks {
		if slices.Contains(h.Events, release.HookTest) {
			continue
		}
		docs[fmt.Sprintf("hook/%03d", i)] = doc{h.Manifest, h.Path}
	}
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, err := deploy.DecodeObjects([]byte(docs[k].manifest))
		if err != nil {
			return nil, nil, fmt.Errorf("the chart rendered something that is not an object: %w", err)
		}
		objs = append(objs, o...)
		for range o {
			templates = append(templates, docs[k].template)
		}
	}
	return objs, templates, nil
}

// sourceOf is the template named by the "# Source: chart/templates/x.yaml"
// line Helm writes above each rendered document, or "".
func sourceOf(manifest string) string {
	for _, line := range strings.SplitN(manifest, "\n", 4) {
		if t, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return t
		}
	}
	return ""
}

// run renders with a time limit. Helm's template engine cannot be stopped: a
// chart that runs over is abandoned (the command then ends with the error).
func (r *Renderer) run(ctx context.Context, inst *action.Install, ch *chart.Chart, vals map[string]any) (*release.Release, error) {
	timeout := r.RenderTimeout
	if timeout == 0 {
		timeout = DefaultRenderTimeout
	}
	type result struct {
		rel *release.Release
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := inst.RunWithContext(ctx, ch, vals)
		if err != nil {
			done <- result{err: helmError(err)}
			return
		}
		rl, ok := res.(*release.Release)
		if !ok {
			done <- result{err: fmt.Errorf("unexpected release type %T", res)}
			return
		}
		done <- result{rel: rl}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.rel, res.err
	case <-timer.C:
		return nil, fmt.Errorf("rendering took more than %s: stopped (does a template loop over a large range?)", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// helmError keeps Helm's message, which names the template or the schema rule.
func helmError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "values don't meet the specifications of the schema") {
		return fmt.Errorf("the values fail the chart's schema (values.schema.json): %w", err)
	}
	return err
}

// loadChartDir loads a chart directory of fsys with Helm's loader, reading
// every file through fsys so that a symbolic link cannot leave the repository.
// Version-control metadata is not part of the chart (.Files.Get cannot read a
// CI checkout's .git/config), nor is a link that leads to it.
func loadChartDir(fsys fs.FS, repoRoot, dir string) (*chart.Chart, error) {
	var files []*archive.BufferedFile
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if repofile.IsVCS(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 && repofile.Check(repoRoot, p) != nil {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: strings.TrimPrefix(p, dir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}
