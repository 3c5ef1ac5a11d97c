package addons

import (
	"context"

	"github.com/kube-idp/kube/internal/deploy"
)

// Listed is an add-on of the file next to what the cluster last deployed of it.
type Listed struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart"`
	Pinned    string `json:"pinned,omitempty"`
	// Revision and Deployed are the latest revision and its cause (the chart
	// version it deployed); zero and "" when the add-on was never deployed.
	Revision int    `json:"revision,omitempty"`
	Deployed string `json:"deployed,omitempty"`
}

// Histories reads an app's revisions, newest first (deploy.Client does).
type Histories interface {
	History(ctx context.Context, app, namespace string) ([]deploy.Revision, error)
}

// List pairs every add-on of the file, in file order, with its latest revision.
func List(ctx context.Context, f *File, h Histories) ([]Listed, error) {
	out := make([]Listed, 0, len(f.Releases))
	for _, r := range f.Releases {
		l := Listed{Name: r.Name, Namespace: r.Namespace, Chart: r.Chart, Pinned: r.Version}
		hist, err := h.History(ctx, App(r.Name), r.Namespace)
		if err != nil {
			return nil, err
		}
		if len(hist) > 0 {
			l.Revision, l.Deployed = hist[0].Number, hist[0].Cause
		}
		out = append(out, l)
	}
	return out, nil
}
