package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/testcluster"
)

func secret(ns, password string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "db", "namespace": ns},
		"stringData": map[string]any{"password": password},
		"data":       map[string]any{"user": base64.StdEncoding.EncodeToString([]byte("app-user-0001"))},
	}}
}

// leaks reports which of the values (in clear or base64) text contains.
func leaks(text string, values ...string) []string {
	var out []string
	for _, v := range values {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(text, form) {
				out = append(out, form)
			}
		}
	}
	return out
}

func TestMaskSecrets(t *testing.T) {
	live := secret("ns", "old-password-1")
	live.SetAnnotations(map[string]string{lastApplied: `{"stringData":{"password":"old-password-1"}}`})
	next := secret("ns", "new-password-2")
	d := diffObjects(IDOf(next), live, next)
	for _, want := range []string{"password: '*** (before)'", "password: '*** (after)'", "user: '***'", lastApplied + ": '***'"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if l := leaks(d, "old-password-1", "new-password-2", "app-user-0001"); l != nil {
		t.Errorf("diff shows %v:\n%s", l, d)
	}
	// A new Secret: every value masked.
	if d := diffObjects(IDOf(next), nil, next); !strings.Contains(d, "password: '***'") || leaks(d, "new-password-2", "app-user-0001") != nil {
		t.Errorf("new Secret:\n%s", d)
	}
	// Other kinds are untouched.
	cm := configMap("ns", "a")
	if d := diffObjects(IDOf(cm), nil, cm); !strings.Contains(d, "k: a") {
		t.Errorf("ConfigMap diff masked:\n%s", d)
	}
}

// Secret values are never shown (diff, plan, JSON) nor stored in revisions; a
// rollback keeps a Secret's current values and refuses when the Secret is gone.
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
	revs, err := env.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelRevision})
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
		if !strings.Contains(string(data), annotationSecretKeys+": password,user") {
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
