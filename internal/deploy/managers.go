package deploy

import (
	"context"
	"encoding/json"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// DropFieldManagers removes the given field managers' entries from the
// objects' managedFields, leaving kube the only owner of what it applies: the
// ownership transfer the server-side apply documentation describes, used when
// kube takes objects over from another tool (Helm). Fields only they owned stay
// as they are, unowned. It returns how many objects it changed.
func (c *Client) DropFieldManagers(ctx context.Context, ids []ID, managers ...string) (int, error) {
	n := 0
	for _, id := range ids {
		ri, err := c.resource(id)
		if err != nil {
			return n, err
		}
		live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		all := live.GetManagedFields()
		kept := slices.DeleteFunc(slices.Clone(all), func(m metav1.ManagedFieldsEntry) bool { return slices.Contains(managers, m.Manager) })
		if len(kept) == len(all) || len(kept) == 0 {
			continue // nothing to drop; or nothing left, which the API reads as "no change"
		}
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
			{"op": "replace", "path": "/metadata/managedFields", "value": kept},
		})
		if err != nil {
			return n, err
		}
		if _, err := ri.Patch(ctx, id.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			return n, applyError(id, err)
		}
		n++
	}
	return n, nil
}
