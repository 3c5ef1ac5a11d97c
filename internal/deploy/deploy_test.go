package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/testcluster"
)

func configMap(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"k": name},
	}}
}

// A deploy killed between apply and prune loses track of nothing: the inventory
// already holds the union, and the next deploy converges.
func TestInterruptedDeployConverges(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	c, err := NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	deployAll := func(objs ...*unstructured.Unstructured) error {
		_, err := c.Deploy(ctx, Options{App: "demo", Namespace: ns, Objects: objs})
		return err
	}
	if err := deployAll(configMap(ns, "a"), configMap(ns, "b")); err != nil {
		t.Fatal(err)
	}

	testHookBeforePrune = func() error { return errors.New("killed") }
	err = deployAll(configMap(ns, "a"), configMap(ns, "c"))
	testHookBeforePrune = nil
	if err == nil || err.Error() != "killed" {
		t.Fatalf("interrupted deploy: %v", err)
	}
	inv, err := c.readInventory(ctx, "demo", ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(inv.Objects)); got != "[a b c]" {
		t.Fatalf("inventory after the interruption = %s, want the union [a b c]", got)
	}
	assertNoOrphans(t, c, inv)

	if err := deployAll(configMap(ns, "a"), configMap(ns, "c")); err != nil {
		t.Fatal(err)
	}
	inv, _ = c.readInventory(ctx, "demo", ns)
	if got := fmt.Sprint(names(inv.Objects)); got != "[a c]" {
		t.Fatalf("inventory after convergence = %s, want [a c]", got)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{}); err == nil {
		t.Fatal("b was not pruned by the next deploy")
	}
	assertNoOrphans(t, c, inv)
}

func names(ids []ID) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.Name)
	}
	return out
}

// assertNoOrphans checks that every object labelled as part of the inventory is
// recorded in it.
func assertNoOrphans(t *testing.T, c *Client, inv *Inventory) {
	t.Helper()
	list, err := c.Kube.CoreV1().ConfigMaps(inv.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: LabelPartOf + "=" + inv.ID})
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, id := range inv.Objects {
		recorded[id.Name] = true
	}
	for _, cm := range list.Items {
		if !recorded[cm.Name] {
			t.Errorf("ConfigMap %s is labelled as part of the app but not in its inventory", cm.Name)
		}
	}
}

func TestEmptySetIsRefused(t *testing.T) {
	c := &Client{}
	if _, err := c.Deploy(context.Background(), Options{App: "x", Namespace: "y"}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Deploy(empty) = %v, want ErrEmpty", err)
	}
}

func TestOrderAndIdentity(t *testing.T) {
	ids := []ID{
		{"apps", "Deployment", "n", "web"}, {"", "Namespace", "", "n"}, {"", "ConfigMap", "n", "c"},
		{"apiextensions.k8s.io", "CustomResourceDefinition", "", "x.example.com"}, {"", "Service", "n", "web"},
	}
	sortForApply(ids)
	want := "[CustomResourceDefinition/x.example.com Namespace/n ConfigMap/c (n) Service/web (n) Deployment/web (n)]"
	var got []string
	for _, id := range ids {
		got = append(got, id.Short())
	}
	if fmt.Sprint(got) != want {
		t.Fatalf("apply order %v, want %s", got, want)
	}
	sortForDelete(ids)
	if ids[0].Kind != "Deployment" || ids[len(ids)-1].Kind != "CustomResourceDefinition" {
		t.Fatalf("delete order %v", ids)
	}
	for _, id := range ids {
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v", id.String(), back, err)
		}
	}
}

func TestOverrideImages(t *testing.T) {
	d := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "w"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "a", "image": "reg.example.com/app:1"},
			map[string]any{"name": "b", "image": "reg.example.com/sidecar@sha256:abc"},
		}}}},
	}}
	if err := OverrideImages([]*unstructured.Unstructured{d}, map[string]string{"reg.example.com/app": "reg.example.com/app:2"}); err != nil {
		t.Fatal(err)
	}
	if got := images([]*unstructured.Unstructured{d}); fmt.Sprint(got) != "[reg.example.com/app:2 reg.example.com/sidecar@sha256:abc]" {
		t.Fatalf("images = %v", got)
	}
	if err := OverrideImages([]*unstructured.Unstructured{d}, map[string]string{"other": "x"}); err == nil {
		t.Fatal("an override that matches nothing was accepted")
	}
}

func TestApplySetIDFollowsKEP(t *testing.T) {
	// KEP-3659: base64url(sha256("<name>.<namespace>.<kind>.<group>")), unpadded.
	id := applySetID("kube-inventory-demo", "ns")
	if len(id) != len("applyset-")+43+len("-v1") || id[:9] != "applyset-" {
		t.Fatalf("applySetID = %q", id)
	}
}

// A kind the cluster does not serve fails the plan (unless a CRD of the same
// deploy defines it), before anything is written.
func TestUnknownKindFailsThePlan(t *testing.T) {
	env := testcluster.Sandbox(t)
	c, err := NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	bogus := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": env.Namespace},
	}}
	_, err = c.Deploy(context.Background(), Options{App: "demo", Namespace: env.Namespace, Objects: []*unstructured.Unstructured{configMap(env.Namespace, "a"), bogus}})
	if err == nil || !strings.Contains(err.Error(), "Widget/w") || !strings.Contains(err.Error(), "does not serve") {
		t.Fatalf("Deploy() error = %v", err)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(env.Namespace).Get(context.Background(), "a", metav1.GetOptions{}); err == nil {
		t.Fatal("something was applied although the plan failed")
	}

	// With its CRD in the same deploy, the custom resource is created after it.
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{
			"group": "example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	t.Cleanup(func() {
		_ = env.Dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).
			Delete(context.Background(), "widgets.example.com", metav1.DeleteOptions{})
	})
	if _, err := c.Deploy(context.Background(), Options{App: "demo", Namespace: env.Namespace, Objects: []*unstructured.Unstructured{crd, bogus}}); err != nil {
		t.Fatalf("deploy with the CRD: %v", err)
	}
	gvr := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	if _, err := env.Dynamic.Resource(gvr).Namespace(env.Namespace).Get(context.Background(), "w", metav1.GetOptions{}); err != nil {
		t.Fatalf("the custom resource was not created: %v", err)
	}
}
