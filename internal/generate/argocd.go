package generate

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

var argoCDKind = spec.Kind{Key: "argocdApplication", Doc: "An Argo CD Application that deploys kubernetes/<cluster>/ by GitOps.", New: func() spec.GeneratorSpec { return &ArgoCDGen{} }}

// ArgoCDGen generates an Argo CD Application per cluster.
type ArgoCDGen struct {
	spec.Common `yaml:",inline"`
	Repo        string `yaml:"repo" required:"true" doc:"Git URL of this repository."`
	Revision    string `yaml:"revision" doc:"Branch, tag or commit. Default: HEAD."`
	Project     string `yaml:"project" doc:"Argo CD project. Default: default."`
	Namespace   string `yaml:"namespace" doc:"Namespace where Argo CD runs. Default: argocd."`
	Server      string `yaml:"server" doc:"Destination API server. Default: https://kubernetes.default.svc."`
	AutoSync    bool   `yaml:"autoSync" doc:"Sync automatically, with prune and self-heal."`
	Loc         spec.Loc
}

func (a *ArgoCDGen) Base() *spec.Common { return &a.Common }
func (a *ArgoCDGen) Describe() string   { return "argocdApplication" }

func (a *ArgoCDGen) Default(*spec.File) {
	spec.Default(&a.Revision, "HEAD")
	spec.Default(&a.Project, "default")
	spec.Default(&a.Namespace, "argocd")
	spec.Default(&a.Server, "https://kubernetes.default.svc")
}

func (a *ArgoCDGen) Validate(v *spec.Validator) {
	v.Common(a.Loc, &a.Common, "argocdApplication", "Application", v.File().App)
	if !strings.Contains(a.Repo, "://") && !strings.HasPrefix(a.Repo, "git@") {
		v.Errorf(a.Loc.At("repo"), "repo %q is not a Git URL (https://... or git@...)", a.Repo)
	}
}

// Objects: the Application is unstructured, since Argo CD's Go module is far too
// large to import for one type.
func (a *ArgoCDGen) Objects(b *builder) ([]runtime.Object, error) {
	m := b.meta(b.f.App+"-"+b.cluster, "")
	spec := map[string]any{
		"project": a.Project,
		"source": map[string]any{
			"repoURL":        a.Repo,
			"targetRevision": a.Revision,
			"path":           "kubernetes/" + b.cluster,
			// The Application lives in the directory it deploys; do not deploy it into the app's cluster.
			"directory": map[string]any{"exclude": FileName("Application", m.Name)},
		},
		"destination": map[string]any{"server": a.Server, "namespace": b.f.Namespace},
	}
	if a.AutoSync {
		spec["syncPolicy"] = map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}}
	}
	return []runtime.Object{&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": m.Name, "namespace": a.Namespace, "labels": stringsAny(m.Labels)},
		"spec":       spec,
	}}}, nil
}
