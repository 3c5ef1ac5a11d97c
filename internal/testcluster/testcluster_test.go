//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package testcluster

import (
	"context"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) { Main(m) }

func TestNamespaceName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	for _, in := range []string{"TestX", "TestA/sub_case #1", strings.Repeat("Long", 30), "///"} {
		n := NamespaceName(in)
		if len(n) > 63 || !valid.MatchString(n) {
			t.Errorf("NamespaceName(%q) = %q is not a valid namespace name", in, n)
		}
		if NamespaceName(in) == n {
			t.Errorf("NamespaceName(%q) is not unique", in)
		}
	}
}

// The envtest-style API server stores objects, and each Env has its own namespace.
func TestAPIServerGivesFreshNamespaces(t *testing.T) {
	a, b := APIServer(t), APIServer(t)
	if a.Namespace == b.Namespace {
		t.Fatalf("two Envs share namespace %s", a.Namespace)
	}
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: a.Namespace}, Data: map[string]string{"k": "v"}}
	if err := a.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	got, err := b.Kube.CoreV1().ConfigMaps(a.Namespace).Get(ctx, "c", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("get = %v, %v", got, err)
	}
	if list, _ := b.Kube.CoreV1().ConfigMaps(b.Namespace).List(ctx, metav1.ListOptions{}); len(list.Items) != 0 {
		t.Fatalf("fresh namespace has %d configmaps", len(list.Items))
	}
	// No nodes: this is an API server alone.
	if nodes, _ := a.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); len(nodes.Items) != 0 {
		t.Fatalf("APIServer has %d nodes, want none", len(nodes.Items))
	}
}
