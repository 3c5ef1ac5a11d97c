package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/yamlout"
)

// Action is what a deploy does to one object.
type Action string

const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Adopt     Action = "adopt" // exists, not managed by any kube inventory: taken over, and said so
	Delete    Action = "delete"
	// Keep: left the manifests but is not deleted (a CRD or a Namespace, without
	// --delete-crds-and-namespaces); it leaves the app's inventory.
	Keep Action = "keep"
)

// Every applied object carries the hash of what kube applied
// (contract.AnnotationApplied): with it, an object whose live state still holds
// every applied value is known unchanged without a dry-run.

// Change is the plan for one object, with a unified diff from the live object to
// what the API server says it would become (server-side dry-run).
type Change struct {
	ID     ID     `json:"id"`
	Action Action `json:"action"`
	Diff   string `json:"diff,omitempty"`
	// Note explains an action one might not expect.
	Note string `json:"note,omitempty"`

	desired, live *unstructured.Unstructured
	hash          string
	// force takes .spec.replicas back from kube scale.
	force bool
	// handOver: the replicas kube applied before an autoscaler came, handed to
	// another field manager before kube stops applying them, so that the
	// workload keeps its count instead of falling to the default of 1.
	handOver *int64
	// refresh: unchanged, but applied without kube's hash (an older kube did);
	// applied when the deploy applies anything else, so that the next plan is fast.
	refresh bool
	// gone: a Job the API server deleted after it completed (ttlSecondsAfterFinished).
	gone bool
	wave int
}

// Plan is everything a deploy would do.
type Plan struct {
	App string `json:"app"`
	// Cause is "deploy" or "rollback to revision N", for messages.
	Cause     string     `json:"cause"`
	Inventory *Inventory `json:"-"`
	Changes   []Change   `json:"changes"`
	// ContentHash identifies the desired set; a revision records it.
	ContentHash string `json:"-"`
	// namespaceMissing: the inventory's namespace does not exist yet.
	namespaceMissing bool
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
		e.ID.Short(), contract.LabelPartOf, e.Owner)
}

// PlanOptions describe what to plan.
type PlanOptions struct {
	App string
	// Namespace holds the inventory and revisions; namespaced objects without a
	// namespace go there.
	Namespace string
	Objects   []*unstructured.Unstructured
	ApplyOptions
	// Validate dry-runs new objects too (kube diff): their diff shows the API
	// server's defaults, and one it would reject fails the plan.
	Validate bool
	// FullDiffs keeps every diff whole; by default a long one is cut, with a note.
	FullDiffs bool
}

// maxDiffLines is how much of one object's diff a plan shows by default (adopting
// a big CRD would otherwise print megabytes).
const maxDiffLines = 300

// MakePlan compares the desired objects with the cluster. Live state is read with
// one list per kind and namespace where that is cheaper than a get each; an
// object kube applied before and whose live state still holds every applied
// value is unchanged without further requests; the others are dry-run applied
// for an exact diff. Objects in the inventory but no longer desired are deleted
// (CRDs and Namespaces only with DeleteCRDsAndNamespaces).
func (c *Client) MakePlan(ctx context.Context, o PlanOptions) (*Plan, error) {
	inv, err := c.readInventory(ctx, o.App, o.Namespace)
	if err != nil {
		return nil, err
	}
	plan := &Plan{App: o.App, Inventory: inv}
	desired := prepare(o.Objects, inv, o.Namespace, c.namespaced)
	ids := make([]ID, 0, len(desired))
	for _, d := range desired {
		ids = append(ids, IDOf(d))
	}
	live, err := c.liveObjects(ctx, append(ids, ID{Kind: "Namespace", Name: o.Namespace}))
	if err != nil {
		return nil, err
	}
	plan.namespaceMissing = live[ID{Kind: "Namespace", Name: o.Namespace}] == nil
	creating := map[string]bool{} // namespaces this deploy creates
	for _, d := range desired {
		if id := IDOf(d); id.Kind == "Namespace" && id.Group == "" && live[id] == nil {
			creating[id.Name] = true
		}
	}
	crdKinds := DefinedKinds(desired)
	scaled := autoscaled(desired, o.Namespace)
	changes := make([]Change, len(desired))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(workers)
	for i, d := range desired {
		eg.Go(func() error {
			ch, err := c.planOne(ectx, inv, d, live[IDOf(d)], scaled[IDOf(d)], crdKinds, creating, o)
			changes[i] = ch
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(changes, func(a, b Change) int { return compareApplyOrder(a, b) })
	want := map[ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var gone []ID
	for _, id := range inv.Objects {
		if !want[id] {
			gone = append(gone, id)
		}
	}
	sortForDelete(gone)
	for _, id := range gone {
		if neverPruned(id.GroupKind()) && !o.DeleteCRDsAndNamespaces {
			plan.Changes = append(plan.Changes, Change{ID: id, Action: Keep,
				Note: "no longer in the manifests; deleting a " + id.Kind + " deletes everything in it, so kube keeps it (--delete-crds-and-namespaces deletes it)"})
		}
	}
	plan.Changes = append(changes, plan.Changes...)
	for _, id := range gone {
		if !neverPruned(id.GroupKind()) || o.DeleteCRDsAndNamespaces {
			plan.Changes = append(plan.Changes, Change{ID: id, Action: Delete})
		}
	}
	plan.ContentHash = contentHash(plan)
	return plan, nil
}

// prepare copies the desired objects as kube applies them: namespaced objects
// without a namespace get the app's, every object carries the inventory's
// part-of label and the hash of its applied form, and a workload that an
// autoscaler of the app scales has no replicas (the autoscaler owns them).
func prepare(objs []*unstructured.Unstructured, inv *Inventory, namespace string, namespaced func(schema.GroupKind, bool) bool) []*unstructured.Unstructured {
	scaled := autoscaled(objs, namespace)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetNamespace() == "" && namespaced(o.GroupVersionKind().GroupKind(), false) {
			o.SetNamespace(namespace)
		}
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[contract.LabelPartOf] = inv.ID
		o.SetLabels(labels)
		if scaled[IDOf(o)] {
			unstructured.RemoveNestedField(o.Object, "spec", "replicas")
		}
		ann := o.GetAnnotations()
		delete(ann, contract.AnnotationApplied)
		if len(ann) == 0 {
			ann = nil
		}
		o.SetAnnotations(ann)
		h := objectHash(o)
		if ann == nil {
			ann = map[string]string{}
		}
		ann[contract.AnnotationApplied] = h
		o.SetAnnotations(ann)
		out = append(out, o)
	}
	return out
}

// appliedReplicas are a workload's replicas when kube's apply owns them.
func appliedReplicas(live *unstructured.Unstructured) *int64 {
	n, found, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if !found {
		return nil
	}
	for _, m := range live.GetManagedFields() {
		if m.Manager != contract.FieldManager || m.Operation != metav1.ManagedFieldsOperationApply || m.Subresource != "" || m.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(m.FieldsV1.Raw, &fields) == nil && fields.Spec["f:replicas"] != nil {
			return &n
		}
	}
	return nil
}

// autoscaled are the workloads that a HorizontalPodAutoscaler of objs targets.
func autoscaled(objs []*unstructured.Unstructured, namespace string) map[ID]bool {
	out := map[ID]bool{}
	for _, o := range objs {
		if o.GetKind() != "HorizontalPodAutoscaler" {
			continue
		}
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "kind")
		name, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
		apiVersion, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "apiVersion")
		ns := o.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		gv, _ := schema.ParseGroupVersion(apiVersion)
		out[ID{Group: gv.Group, Kind: kind, Namespace: ns, Name: name}] = true
	}
	return out
}

// objectHash identifies an object's content (JSON sorts map keys).
func objectHash(o *unstructured.Unstructured) string {
	data, _ := json.Marshal(o.Object)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// contentHash identifies the desired set of a plan.
func contentHash(p *Plan) string {
	h := sha256.New()
	for _, ch := range p.Changes {
		if ch.desired != nil {
			fmt.Fprintln(h, ch.ID.String(), ch.hash)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func compareApplyOrder(a, b Change) int {
	if a.wave != b.wave {
		return a.wave - b.wave
	}
	if ra, rb := rank(a.ID.GroupKind()), rank(b.ID.GroupKind()); ra != rb {
		return ra - rb
	}
	return strings.Compare(a.ID.String(), b.ID.String())
}

func (c *Client) planOne(ctx context.Context, inv *Inventory, o, live *unstructured.Unstructured, scaled bool, crdKinds map[schema.GroupKind]bool, creating map[string]bool, opts PlanOptions) (Change, error) {
	id := IDOf(o)
	ch := Change{ID: id, desired: o, live: live, hash: o.GetAnnotations()[contract.AnnotationApplied], wave: wave(o)}
	ri, err := c.resource(id)
	if err != nil {
		if !crdKinds[id.GroupKind()] {
			return ch, fmt.Errorf("%s: %w", id.Short(), err)
		}
		// A custom resource whose CRD is in this same deploy: it will be created.
		ch.Action = Create
		ch.Diff = cutDiff(diffObjects(id, nil, o), opts.FullDiffs)
		return ch, nil
	}
	if live == nil {
		if id.Kind == "Job" && id.Group == "batch" && inv.Applied[id] == ch.hash && hasTTL(o) {
			ch.Action, ch.gone = Unchanged, true
			ch.Note = "completed and deleted by its ttlSecondsAfterFinished: not created again"
			return ch, nil
		}
		ch.Action = Create
		predicted := o
		if opts.Validate && !creating[id.Namespace] {
			if predicted, err = c.dryRun(ctx, ri, &ch, opts.ForceConflicts); err != nil {
				return ch, err
			}
		}
		ch.Diff = cutDiff(diffObjects(id, nil, predicted), opts.FullDiffs)
		return ch, nil
	}
	if owner := live.GetLabels()[contract.LabelPartOf]; owner != "" && owner != inv.ID {
		return ch, &OwnershipError{ID: id, Owner: owner}
	}
	if live.GetAnnotations()[contract.AnnotationApplied] == ch.hash && contains(live.Object, o.Object) {
		ch.Action = Unchanged
		return ch, nil
	}
	if scaled {
		ch.handOver = appliedReplicas(live)
	}
	predicted, err := c.dryRun(ctx, ri, &ch, opts.ForceConflicts)
	if err != nil {
		return ch, err
	}
	ch.Diff = cutDiff(diffObjects(id, live, predicted), opts.FullDiffs)
	switch {
	case live.GetLabels()[contract.LabelPartOf] == "":
		ch.Action = Adopt
	case ch.Diff != "":
		ch.Action = Update
	default:
		ch.Action = Unchanged
		ch.refresh = live.GetAnnotations()[contract.AnnotationApplied] != ch.hash
	}
	return ch, nil
}

// dryRun applies the change with a server-side dry run. A conflict only on the
// replicas that kube scale set is resolved in favour of the manifests (the
// documented promise of kube scale), and remembered for the real apply.
func (c *Client) dryRun(ctx context.Context, ri interface {
	Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
}, ch *Change, force bool) (*unstructured.Unstructured, error) {
	desired := ch.desired
	if ch.handOver != nil {
		// The apply keeps the count (see Change.handOver): predict that.
		desired = desired.DeepCopy()
		_ = unstructured.SetNestedField(desired.Object, *ch.handOver, "spec", "replicas")
	}
	body, err := desired.MarshalJSON()
	if err != nil {
		return nil, err
	}
	for {
		f := force || ch.force
		predicted, err := ri.Patch(ctx, ch.ID.Name, types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: contract.FieldManager, Force: &f, DryRun: []string{metav1.DryRunAll},
		})
		switch {
		case err == nil:
			return predicted, nil
		case !f && scaleConflict(err):
			ch.force = true
		case apierrors.IsNotFound(err) && ch.live == nil:
			return ch.desired, nil // its namespace does not exist yet
		default:
			return nil, applyError(ch.ID, err)
		}
	}
}

func hasTTL(o *unstructured.Unstructured) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "ttlSecondsAfterFinished")
	return found
}

// contains tells whether live holds every value of want: maps key by key, lists
// element by element and of the same length, numbers by value.
func contains(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok && wv != nil {
				return false
			}
			if ok && !contains(lv, wv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !contains(l[i], w[i]) {
				return false
			}
		}
		return true
	case nil:
		return live == nil
	case int64, float64, int, int32:
		return number(live) == number(want) && number(live) != nil
	default:
		return live == want
	}
}

func number(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case int32:
		return float64(n)
	case float64:
		return n
	}
	return nil
}

// scaleConflict tells whether an apply conflicts only on .spec.replicas with the
// field manager of kube scale (or the old kube scale, manager kube on the scale
// subresource), or with the hand-over to an autoscaler the manifests no longer have.
func scaleConflict(err error) bool {
	st, ok := err.(apierrors.APIStatus)
	if !ok || !apierrors.IsConflict(err) || st.Status().Details == nil || len(st.Status().Details.Causes) == 0 {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Field != ".spec.replicas" || !(strings.Contains(c.Message, `"`+contract.FieldManagerScale+`"`) ||
			strings.Contains(c.Message, `"`+contract.FieldManagerHandOver+`"`) || strings.Contains(c.Message, `"kube" with subresource "scale"`)) {
			return false
		}
	}
	return true
}

// DefinedKinds are the kinds defined by the CRDs among objs.
func DefinedKinds(objs []*unstructured.Unstructured) map[schema.GroupKind]bool {
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
// server maintains; "" when equal. Secret values are masked.
func diffObjects(id ID, live, predicted *unstructured.Unstructured) string {
	return diffYAML(id, live, predicted, " (live)", " (after deploy)")
}

// diffYAML is the unified diff from a to b (either may be nil), with the
// server's fields left out and Secret values masked.
func diffYAML(id ID, a, b *unstructured.Unstructured, fromLabel, toLabel string) string {
	a, b = maskSecrets(a, b)
	ya, yb := clean(a), clean(b)
	if ya == yb {
		return ""
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(ya), B: difflib.SplitLines(yb),
		FromFile: id.Short() + fromLabel, ToFile: id.Short() + toLabel, Context: 3,
	})
	return d
}

// cutDiff keeps the first maxDiffLines lines of a long diff.
func cutDiff(d string, full bool) string {
	if full {
		return d
	}
	lines := strings.SplitAfter(d, "\n")
	if len(lines) <= maxDiffLines {
		return d
	}
	return strings.Join(lines[:maxDiffLines], "") +
		fmt.Sprintf("... %d more lines (%d KiB in all) not shown: kube diff --full-diff shows them\n", len(lines)-maxDiffLines, len(d)/1024)
}

func clean(o *unstructured.Unstructured) string {
	if o == nil {
		return ""
	}
	c := o.DeepCopy()
	for _, f := range [][]string{
		{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
		{"metadata", "uid"}, {"metadata", "creationTimestamp"}, {"status"},
		{"metadata", "annotations", contract.AnnotationApplied},
	} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	if ann, found, _ := unstructured.NestedMap(c.Object, "metadata", "annotations"); found && len(ann) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	data, _ := yamlout.Marshal(c.Object)
	return string(data)
}
