package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-idp/kube/internal/contract"
)

// Secret values are never shown and never stored by kube: diffs and plans say
// which keys change, not to what (as kubectl diff does), and revisions record a
// Secret's keys without its values. A rollback therefore leaves every Secret's
// values as they are now (see docs/deploy.md).

const (
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	masked      = "***"
)

func isSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetKind() == "Secret" && o.GroupVersionKind().Group == ""
}

// maskSecrets returns copies of a Secret's two versions whose values are
// replaced: "***" where both sides agree, "*** (before)" and "*** (after)"
// where the value changes. Other objects are returned as they are.
func maskSecrets(live, predicted *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if !isSecret(live) && !isSecret(predicted) {
		return live, predicted
	}
	a, b := secretValues(live), secretValues(predicted)
	mask := func(o *unstructured.Unstructured, own, other map[string]any, changed string) *unstructured.Unstructured {
		if o == nil {
			return nil
		}
		o = o.DeepCopy()
		for _, field := range []string{"data", "stringData"} {
			m, _, _ := unstructured.NestedMap(o.Object, field)
			for k := range m {
				m[k] = masked
				if v, ok := other[k]; ok && v != own[k] {
					m[k] = masked + " " + changed
				}
			}
			if m != nil {
				_ = unstructured.SetNestedMap(o.Object, m, field)
			}
		}
		// Client-side apply keeps the whole Secret, values included, here.
		if ann := o.GetAnnotations(); ann[lastApplied] != "" {
			ann[lastApplied] = masked
			o.SetAnnotations(ann)
		}
		return o
	}
	return mask(live, a, b, "(before)"), mask(predicted, b, a, "(after)")
}

// secretValues are a Secret's values by key, stringData read as data would be.
func secretValues(o *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	if o == nil {
		return out
	}
	data, _, _ := unstructured.NestedMap(o.Object, "data")
	for k, v := range data {
		out[k] = v
	}
	str, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
	for k, v := range str {
		out[k] = "string:" + v
	}
	return out
}

// withoutSecretValues is the form of an object kept in a revision: a Secret
// loses its values and keeps the names of its keys.
func withoutSecretValues(o *unstructured.Unstructured) *unstructured.Unstructured {
	if !isSecret(o) {
		return o
	}
	o = o.DeepCopy()
	var keys []string
	for k := range secretValues(o) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	unstructured.RemoveNestedField(o.Object, "data")
	unstructured.RemoveNestedField(o.Object, "stringData")
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, lastApplied)
	ann[contract.AnnotationSecretKeys] = strings.Join(keys, ",")
	o.SetAnnotations(ann)
	return o
}

// SecretNotStoredError is returned when a rollback needs a Secret whose values
// kube never stored and which is no longer in the cluster.
type SecretNotStoredError struct {
	ID     ID
	Reason string
}

func (e *SecretNotStoredError) Error() string {
	return fmt.Sprintf("%s: %s; kube never stores Secret values in revisions, so it cannot bring them back: recreate the Secret (or deploy from the manifests) and roll back again", e.ID.Short(), e.Reason)
}

// restoreSecretValues gives the Secrets of a revision their current values from
// the cluster: rolling back changes everything but a Secret's values.
func (c *Client) restoreSecretValues(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		ann := o.GetAnnotations()
		keyList, recorded := ann[contract.AnnotationSecretKeys]
		if !isSecret(o) || !recorded {
			continue
		}
		delete(ann, contract.AnnotationSecretKeys)
		o.SetAnnotations(ann)
		id := IDOf(o)
		if keyList == "" {
			continue
		}
		live, err := c.Kube.CoreV1().Secrets(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return &SecretNotStoredError{ID: id, Reason: "it is no longer in the cluster"}
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", id.Short(), err)
		}
		data := map[string]any{}
		for _, k := range strings.Split(keyList, ",") {
			v, ok := live.Data[k]
			if !ok {
				return &SecretNotStoredError{ID: id, Reason: fmt.Sprintf("its key %q is no longer in the cluster", k)}
			}
			data[k] = base64.StdEncoding.EncodeToString(v) // as JSON carries them
		}
		if err := unstructured.SetNestedField(o.Object, data, "data"); err != nil {
			return err
		}
	}
	return nil
}
