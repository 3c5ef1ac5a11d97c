//go:build !windows

// Tests on a real API server (internal/testcluster, whose envtest does not build
// on Windows); the unit tests of the package build everywhere.

package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/testcluster"
)

func TestSecretValuesAreNeverShownOrStored(t *testing.T) {
	env := testcluster.Sandbox(t)
	ctx := context.Background()
	ns := env.Namespace
	c, err := NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"first-password-1", "second-password-2", "app-user-0001"}
	deployObjs := func(objs ...*unstructured.Unstructured) *Result {
		t.Helper()
		res, err := c.Deploy(ctx, Options{App: "sec", Namespace: ns, Objects: objs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := deployObjs(secret(ns, values[0]), configMap(ns, "a"))
	plan, err := c.MakePlan(ctx, PlanOptions{App: "sec", Namespace: ns, Objects: []*unstructured.Unstructured{secret(ns, values[1]), configMap(ns, "a")}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(plan)
	for _, text := range []string{string(out), plan.Changes[0].Diff, plan.Changes[1].Diff} {
		if l := leaks(text, values...); l != nil {
			t.Fatalf("the plan shows %v:\n%s", l, text)
		}
	}
	if !strings.Contains(string(out), "*** (after)") {
		t.Fatalf("the plan does not say the password changes:\n%s", out)
	}
	res = deployObjs(secret(ns, values[1]), configMap(ns, "a"))
	if res.Revision != 2 {
		t.Fatalf("revision %d", res.Revision)
	}
	revs, err := env.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: contract.LabelRevision})
	if err != nil || len(revs.Items) != 2 {
		t.Fatalf("revisions: %v %d", err, len(revs.Items))
	}
	for _, r := range revs.Items {
		zr, err := gzip.NewReader(bytes.NewReader(r.Data[manifestsKey]))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(zr)
		if l := leaks(string(data), values...); l != nil {
			t.Fatalf("revision %s stores %v:\n%s", r.Name, l, data)
		}
		if !strings.Contains(string(data), contract.AnnotationSecretKeys+": password,user") {
			t.Fatalf("revision %s does not list the Secret's keys:\n%s", r.Name, data)
		}
	}
	// Rolling back to revision 1 keeps today's password.
	if _, _, err := c.Rollback(ctx, Options{App: "sec", Namespace: ns}, 1); err != nil {
		t.Fatal(err)
	}
	s, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || string(s.Data["password"]) != values[1] || string(s.Data["user"]) != values[2] {
		t.Fatalf("after rollback: %v %q", err, s.Data)
	}
	// Without the Secret in the cluster, there is nothing to take the values from.
	if err := env.Kube.CoreV1().Secrets(ns).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Rollback(ctx, Options{App: "sec", Namespace: ns}, 2)
	var notStored *SecretNotStoredError
	if !errors.As(err, &notStored) || !strings.Contains(err.Error(), "it is no longer in the cluster") {
		t.Fatalf("rollback without the Secret: %v", err)
	}
}
