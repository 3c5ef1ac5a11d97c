package forks

import (
	"strings"
	"testing"
	"time"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

func TestBuild(t *testing.T) {
	f, err := Build(CreateOptions{
		ID: "alice", Namespace: "shop", Owner: "alice@example.com", Deployments: []string{"web", "api"},
		Images: []string{"registry/app:branch", "api/sidecar=registry/proxy:2"}, Env: []string{"DEBUG=1"}, TTL: 8 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "alice" || f.Spec.Identifier != "alice" || f.Spec.TTL.Duration != 8*time.Hour || len(f.Spec.Workloads) != 2 {
		t.Fatalf("fork: %+v", f)
	}
	web, api := f.Spec.Workloads[0], f.Spec.Workloads[1]
	if len(web.Containers) != 1 || web.Containers[0].Name != "" || web.Containers[0].Image != "registry/app:branch" || web.Containers[0].Env[0].Value != "1" {
		t.Fatalf("web overrides: %+v", web.Containers)
	}
	if len(api.Containers) != 2 || api.Containers[1].Name != "sidecar" || api.Containers[1].Image != "registry/proxy:2" {
		t.Fatalf("api overrides: %+v", api.Containers)
	}
}

func TestBuildStatefulSetsAndSelector(t *testing.T) {
	f, err := Build(CreateOptions{ID: "bob", StatefulSets: []string{"db"}, Selector: "tier=frontend,team notin (ops)",
		Images: []string{"registry/app:branch", "db=registry/db:17"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Spec.Workloads) != 2 {
		t.Fatalf("workloads: %+v", f.Spec.Workloads)
	}
	db, sel := f.Spec.Workloads[0], f.Spec.Workloads[1]
	if db.Kind != forkv1.KindStatefulSet || db.Name != "db" || db.Containers[0].Image != "registry/db:17" {
		t.Fatalf("statefulset entry: %+v", db)
	}
	if sel.Kind != forkv1.KindDeployment || sel.Name != "" || sel.Selector.MatchLabels["tier"] != "frontend" ||
		len(sel.Selector.MatchExpressions) != 1 || sel.Containers[0].Image != "registry/app:branch" {
		t.Fatalf("selector entry: %+v", sel)
	}

	// An image for one Deployment the selector picks: an entry naming it.
	f, err = Build(CreateOptions{ID: "bob", Selector: "team=checkout", Images: []string{"registry/shop:1", "cart=registry/cart:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Spec.Workloads) != 2 || f.Spec.Workloads[0].Selector == nil || f.Spec.Workloads[0].Containers[0].Image != "registry/shop:1" ||
		f.Spec.Workloads[1].Name != "cart" || f.Spec.Workloads[1].Kind != forkv1.KindDeployment || f.Spec.Workloads[1].Containers[0].Image != "registry/cart:2" {
		t.Fatalf("workloads: %+v", f.Spec.Workloads)
	}
}

func TestBuildRejects(t *testing.T) {
	for _, tc := range []struct {
		o    CreateOptions
		want string
	}{
		{CreateOptions{ID: "Alice", Deployments: []string{"web"}}, "DNS label"},
		{CreateOptions{ID: strings.Repeat("a", 41), Deployments: []string{"web"}}, "at most 40"},
		{CreateOptions{ID: "alice"}, "--deployment, --statefulset or --selector"},
		{CreateOptions{ID: "alice", Selector: "app in (web"}, "--selector"},
		{CreateOptions{ID: "alice", StatefulSets: []string{"db"}, Images: []string{"web=registry/x:1"}}, "--image"},
		{CreateOptions{ID: "alice", Deployments: []string{"web"}, Env: []string{"NOVALUE"}}, "NAME=VALUE"},
		{CreateOptions{ID: "alice", Deployments: []string{"web"}, Images: []string{"api=registry/x:1"}}, "--image"},
	} {
		if _, err := Build(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestState(t *testing.T) {
	f := &forkv1.Fork{}
	f.Generation = 2
	if got := State(f); got != "waiting for kube-controller" {
		t.Fatal(got)
	}
}
