package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Action is what a deploy does to one object.
type Action string

const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Adopt     Action = "adopt" // exists, not managed by any kube inventory: taken over, and said so
	Delete    Action = "delete"
)

// Change is the plan for one object, with a unified diff from the live object to
// what the API server says it would become (server-side dry-run).
type Change struct {
	ID     ID     `json:"id"`
	Action Action `json:"action"`
	Diff   string `json:"diff,omitempty"`

	desired *unstructured.Unstructured
}

// Plan is everything a deploy would do.
type Plan struct {
	App string `json:"app"`
	// Cause is "deploy" or "rollback to revision N", for messages.
	Cause     string     `json:"cause"`
	Inventory *Inventory `json:"-"`
	Changes   []Change   `json:"changes"`
}

// HasChanges is false when a deploy would do nothing.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != Unchanged {
			return true
		}
	}
	return false
}

// Count returns how many objects get each action.
func (p *Plan) Count() map[Action]int {
	n := map[Action]int{}
	for _, c := range p.Changes {
		n[c.Action]++
	}
	return n
}

// OwnershipError is returned when an object belongs to another app's inventory.
type OwnershipError struct {
	ID    ID
	Owner string
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("%s belongs to another kube inventory (%s=%s): kube never takes over or prunes another app's objects; rename it or remove it from the other app first",
		e.ID.Short(), LabelPartOf, e.Owner)
}

// MakePlan compares the desired objects with the cluster: each is read and
// dry-run applied; objects in the inventory but no longer desired are deleted.
func (c *Client) MakePlan(ctx context.Context, app, namespace string, objs []*unstructured.Unstructured, opts ApplyOptions) (*Plan, error) {
	inv, err := c.readInventory(ctx, app, namespace)
	if err != nil {
		return nil, err
	}
	plan := &Plan{App: app, Inventory: inv}
	desired := map[ID]bool{}
	ids := make([]ID, 0, len(objs))
	byID := map[ID]*unstructured.Unstructured{}
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetNamespace() == "" && c.namespaced(o.GroupVersionKind().GroupKind(), false) {
			o.SetNamespace(namespace)
		}
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelPartOf] = inv.ID
		o.SetLabels(labels)
		id := IDOf(o)
		desired[id], byID[id] = true, o
		ids = append(ids, id)
	}
	sortForApply(ids)
	crdKinds := definedKinds(objs)
	results := make([]Change, len(ids))
	err = parallel(ctx, len(ids), func(i int) error {
		ch, err := c.planOne(ctx, inv, byID[ids[i]], crdKinds, opts)
		results[i] = ch
		return err
	})
	if err != nil {
		return nil, err
	}
	plan.Changes = results
	var gone []ID
	for _, id := range inv.Objects {
		if !desired[id] {
			gone = append(gone, id)
		}
	}
	sortForDelete(gone)
	for _, id := range gone {
		plan.Changes = append(plan.Changes, Change{ID: id, Action: Delete})
	}
	return plan, nil
}

func (c *Client) planOne(ctx context.Context, inv *Inventory, o *unstructured.Unstructured, crdKinds map[schema.GroupKind]bool, opts ApplyOptions) (Change, error) {
	id := IDOf(o)
	ch := Change{ID: id, desired: o}
	ri, err := c.resource(id)
	if err != nil {
		if !crdKinds[id.GroupKind()] {
			return ch, fmt.Errorf("%s: %w", id.Short(), err)
		}
		// A custom resource whose CRD is in this same deploy: it will be created.
		ch.Action = Create
		ch.Diff = diffObjects(id, nil, o)
		return ch, nil
	}
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return ch, fmt.Errorf("reading %s: %w", id.Short(), err)
	}
	if live != nil {
		if owner := live.GetLabels()[LabelPartOf]; owner != "" && owner != inv.ID {
			return ch, &OwnershipError{ID: id, Owner: owner}
		}
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return ch, err
	}
	force := opts.ForceConflicts
	predicted, err := ri.Patch(ctx, id.Name, types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager: FieldManager, Force: &force, DryRun: []string{metav1.DryRunAll},
	})
	switch {
	case err != nil && live == nil && apierrors.IsNotFound(err):
		// Its namespace is created by this deploy: no dry-run possible yet.
		predicted = o
	case err != nil:
		return ch, applyError(id, err)
	}
	switch {
	case live == nil:
		ch.Action = Create
	case live.GetLabels()[LabelPartOf] == "":
		ch.Action = Adopt
	}
	ch.Diff = diffObjects(id, live, predicted)
	if ch.Action == "" {
		ch.Action = Update
		if ch.Diff == "" {
			ch.Action = Unchanged
		}
	}
	return ch, nil
}

// definedKinds are the kinds defined by the CRDs among objs.
func definedKinds(objs []*unstructured.Unstructured) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		out[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	return out
}

// applyError explains a failed apply; field manager conflicts list each field
// and who owns it.
func applyError(id ID, err error) error {
	if apierrors.IsConflict(err) {
		var fields []string
		if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
			for _, c := range st.Status().Details.Causes {
				fields = append(fields, "  "+c.Field+": "+c.Message)
			}
		}
		return fmt.Errorf("%s: fields are owned by another manager:\n%s\nchange them through their owner, or take them over with --force-conflicts",
			id.Short(), strings.Join(fields, "\n"))
	}
	return fmt.Errorf("%s: %w", id.Short(), err)
}

// diffObjects is a unified diff of the YAML of two objects without the fields the
// server maintains; "" when equal.
// Secret values are masked.
func diffObjects(id ID, live, predicted *unstructured.Unstructured) string {
	live, predicted = maskSecrets(live, predicted)
	a, b := "", clean(predicted)
	if live != nil {
		a = clean(live)
	}
	if a == b {
		return ""
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: id.Short() + " (live)", ToFile: id.Short() + " (after deploy)", Context: 3,
	})
	return d
}

func clean(o *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	c := o.DeepCopy()
	for _, f := range [][]string{
		{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
		{"metadata", "uid"}, {"metadata", "creationTimestamp"}, {"status"},
	} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	data, _ := yaml.Marshal(c.Object)
	return string(data)
}
