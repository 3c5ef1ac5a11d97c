package addons

import (
	"context"
	"errors"
	"testing"

	"github.com/kube-idp/kube/internal/deploy"
)

type histories map[string][]deploy.Revision

func (h histories) History(_ context.Context, app, namespace string) ([]deploy.Revision, error) {
	if app == "addon-broken" {
		return nil, errors.New("forbidden")
	}
	return h[namespace+"/"+app], nil
}

func TestListPairsTheFileWithTheLatestRevision(t *testing.T) {
	f, err := parse(t, `repositories:
- {name: charts, url: https://charts.example.com}
releases:
- {name: ingress, namespace: ingress, chart: charts/ingress, version: 1.2.0}
- {name: policies, namespace: kube-system, chart: ../../manifests/policies}
`)
	if err != nil {
		t.Fatal(err)
	}
	h := histories{"ingress/addon-ingress": {{Number: 3, Cause: "chart 1.2.0"}, {Number: 2, Cause: "chart 1.1.0"}}}
	got, err := List(context.Background(), f, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (Listed{Name: "ingress", Namespace: "ingress", Chart: "charts/ingress", Pinned: "1.2.0", Revision: 3, Deployed: "chart 1.2.0"}) {
		t.Errorf("ingress: %+v", got)
	}
	if got[1].Name != "policies" || got[1].Revision != 0 || got[1].Deployed != "" {
		t.Errorf("a never-deployed add-on: %+v", got[1])
	}
	f.Releases = append(f.Releases, Release{Name: "broken", Namespace: "x"})
	if _, err := List(context.Background(), f, h); err == nil {
		t.Error("an unreadable history was not an error")
	}
}
