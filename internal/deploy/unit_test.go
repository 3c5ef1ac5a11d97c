package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Tests without a cluster (they build and run on every system).

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

func configMap(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"k": name},
	}}
}

// A 64 KiB record that decompresses to gigabytes is refused after the bound,
// not read whole (it made one console page allocate 4.4 GiB).
func TestGzipBombRecordIsRefused(t *testing.T) {
	var bomb bytes.Buffer
	w, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range MaxRevisionBytes>>20 + 8 {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	if bomb.Len() > 64<<10 {
		t.Fatalf("the bomb is %d bytes", bomb.Len())
	}
	if _, err := gunzipRecord(bomb.Bytes()); err == nil || !strings.Contains(err.Error(), "more than 32 MiB of manifests") {
		t.Fatalf("got %v", err)
	}
	var ok bytes.Buffer
	w = gzip.NewWriter(&ok)
	_, _ = w.Write([]byte("---\nkind: ConfigMap\n"))
	_ = w.Close()
	if data, err := gunzipRecord(ok.Bytes()); err != nil || string(data) != "---\nkind: ConfigMap\n" {
		t.Fatalf("an ordinary record: %q, %v", data, err)
	}
}
