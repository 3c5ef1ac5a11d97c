package upgrade

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/generate"
)

// Sources are what one upgrade check looks at.
type Sources struct {
	// Cluster names the cluster: each repository's kubernetes/<cluster>/ is
	// checked. "" (no cluster named) checks every kubernetes/*/ of them.
	Cluster string
	// Config reaches the live cluster (its requests and objects); nil checks
	// offline.
	Config *rest.Config
	// Repos are app repositories (their generated manifests).
	Repos []string
	// Addons is the cluster's add-on file, rendered for the target; nil for
	// none.
	Addons *addons.File
	// Charts fetches the add-ons' charts.
	Charts *addons.Fetcher
	// Progress reports each long step; nil for none.
	Progress func(format string, a ...any)
}

// UnreachableError is a cluster that could not be asked: neither a finding
// nor bad input.
type UnreachableError struct {
	Cluster string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cluster %s: %v (with --offline, kube checks the manifests and add-ons without it)", e.Cluster, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// ExitStatus: the cluster is not there to ask (docs/exit-codes.md).
func (e *UnreachableError) ExitStatus() int { return 3 }

// Run checks every source for the upgrade to target and returns the report,
// findings sorted.
func Run(ctx context.Context, target Version, s Sources) (*Report, error) {
	d := Load()
	rep := NewReport(target)
	if s.Progress == nil {
		s.Progress = func(string, ...any) {}
	}
	if s.Config == nil {
		rep.Notes = append(rep.Notes, "offline: requests and live objects not checked (the apps' manifests and the add-ons are)")
	} else if err := d.cluster(ctx, s, rep, target); err != nil {
		return nil, err
	}
	for _, repo := range s.Repos {
		found, err := d.repo(repo, s.Cluster, target)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	if s.Addons != nil {
		if err := d.addons(ctx, s, rep, target); err != nil {
			return nil, err
		}
	}
	rep.Sort()
	return rep, nil
}

// cluster adds what the live cluster says: requests, then objects.
func (d *Data) cluster(ctx context.Context, s Sources, rep *Report, target Version) error {
	c, err := deploy.NewClient(s.Config)
	if err != nil {
		return err
	}
	_, lists, err := c.Kube.Discovery().ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return &UnreachableError{Cluster: s.Cluster, Err: err}
	}
	s.Progress("Reading the API server's metrics of cluster %s", s.Cluster)
	metricsText, err := c.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	switch {
	case apierrors.IsForbidden(err):
		rep.Notes = append(rep.Notes, "requests not checked: reading the API server's /metrics is not allowed to you (it needs get on the non-resource URL /metrics)")
	case err != nil:
		return fmt.Errorf("cluster %s: reading /metrics: %w", s.Cluster, err)
	default:
		found, err := d.Requests(metricsText, target, Kinds(lists))
		if err != nil {
			return err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	meta, err := metadata.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	s.Progress("Looking for live objects written through APIs that %s removes or deprecates", target)
	live, err := d.Live(ctx, lists, meta, target)
	if err != nil {
		return err
	}
	rep.Findings = append(rep.Findings, live...)
	return nil
}

// repo checks an app's generated manifests for the cluster (for every cluster
// when none is named), read through the repository's root, each finding at its
// file:line:column.
func (d *Data) repo(repo, clusterName string, target Version) ([]Finding, error) {
	root, err := os.OpenRoot(repo)
	if err != nil {
		return nil, exitstatus.Input(fmt.Errorf("%s: %w", repo, err))
	}
	defer root.Close()
	var dirs []string
	if clusterName != "" {
		dirs = []string{path.Join(generate.OutputDir, app.ManifestsCluster(repo, clusterName))}
	} else if entries, err := fs.ReadDir(root.FS(), generate.OutputDir); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, path.Join(generate.OutputDir, e.Name()))
			}
		}
	}
	if len(dirs) == 0 {
		dirs = []string{path.Join(generate.OutputDir, "<cluster>")}
	}
	var out []Finding
	for _, dir := range dirs {
		if _, err := fs.Stat(root.FS(), dir); err != nil {
			return nil, exitstatus.Input(fmt.Errorf("%s has no %s: give app repositories whose manifests kube generate writes", repo, dir))
		}
		found, err := d.Files(SourceApp, repo, root.FS(), dir, filepath.Join(repo, filepath.FromSlash(dir)), target)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// addons renders every add-on for the target and checks its objects; a chart
// whose kubeVersion excludes the target is a finding of its own, and its APIs
// are still looked at, rendered as if it admitted the target.
func (d *Data) addons(ctx context.Context, s Sources, rep *Report, target Version) error {
	f := s.Addons
	rels, err := f.Select(nil)
	if err != nil {
		return err
	}
	kv := KubeVersion(target)
	r := &addons.Renderer{Fetcher: s.Charts, KubeVersion: kv, IgnoreKubeVersion: true}
	for _, rel := range rels {
		s.Progress("Rendering add-on %s for Kubernetes %s", rel.Name, target)
		out, err := r.Render(ctx, f, rel)
		if err != nil {
			return err
		}
		newest := ""
		if repoName, chart := rel.RepoChart(); out.KubeVersion != "" && repoName != "" {
			if repo, ok := f.Repository(repoName); ok {
				newest, _ = r.Fetcher.NewestSupporting(ctx, repo, chart, kv)
			}
		}
		if c, ok := ChartSupport(rel.Name, rel.Chart, out.Version, out.KubeVersion, target, newest); ok {
			rep.Findings = append(rep.Findings, c)
		}
		found, err := d.rendered(f, out, target)
		if err != nil {
			return err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	return nil
}

// rendered places an add-on's findings: at file:line:column in a directory of
// manifests, at the chart's template otherwise.
func (d *Data) rendered(f *addons.File, out *addons.Rendered, target Version) ([]Finding, error) {
	if out.Chart == "" {
		root, err := os.OpenRoot(f.Root)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		return d.Files(SourceAddon, out.Name, root.FS(), out.Source, filepath.Join(f.Root, filepath.FromSlash(out.Source)), target)
	}
	var found []Finding
	for i, o := range out.Objects {
		fs := d.Objects(SourceAddon, out.Name, []*unstructured.Unstructured{o}, target)
		for j := range fs {
			if i < len(out.Templates) {
				fs[j].File = out.Templates[i]
			}
		}
		found = append(found, fs...)
	}
	return found, nil
}
