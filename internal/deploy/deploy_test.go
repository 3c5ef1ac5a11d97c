//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

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

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/testcluster"
)

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
	list, err := c.Kube.CoreV1().ConfigMaps(inv.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: contract.LabelPartOf + "=" + inv.ID})
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
