package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/progress"
)

// ApplyOptions tune applying a plan.
type ApplyOptions struct {
	// ForceConflicts takes over fields owned by other field managers.
	ForceConflicts bool
	// DeleteCRDsAndNamespaces prunes CRDs and Namespaces that left the manifests
	// (deleting one deletes everything in it, for everyone).
	DeleteCRDsAndNamespaces bool
	// WaveTimeout bounds the wait for one sync wave before the next (default 5m).
	WaveTimeout time.Duration
	// Progress receives a line per step; nil is silent.
	Progress *progress.Reporter
}

// Apply carries out a plan so that an interruption at any moment never loses
// track of an object: the inventory first grows to the union of the old and new
// sets, then objects are applied wave by wave and, in a wave, rank by rank in
// dependency order, then the objects no longer wanted are deleted (only if they
// still carry this inventory's label), and only then the inventory shrinks to
// the new set. Both inventory writes are optimistic: a concurrent change of the
// set stops the deploy.
func (c *Client) Apply(ctx context.Context, plan *Plan, opts ApplyOptions) error {
	inv := plan.Inventory
	var desired []ID
	applied := map[ID]string{}
	for id, h := range inv.Applied {
		applied[id] = h
	}
	for _, ch := range plan.Changes {
		if ch.desired != nil {
			desired = append(desired, ch.ID)
		}
	}
	// The inventory lives in the app's namespace, which this deploy may create.
	created, err := c.ensureNamespace(ctx, plan, opts)
	if err != nil {
		return err
	}
	if err := c.writeInventory(ctx, inv, append(append([]ID{}, inv.Objects...), desired...), applied); err != nil {
		return err
	}
	// Waves in order; in a wave, rank by rank (CRDs, namespaces, RBAC and
	// config, services, workloads, what refers to workloads), each rank in parallel.
	type step struct{ wave, rank int }
	var steps []step
	byStep := map[step][]Change{}
	waveObjects := map[int][]Change{}
	for _, ch := range plan.Changes {
		if ch.desired == nil {
			continue
		}
		waveObjects[ch.wave] = append(waveObjects[ch.wave], ch)
		if ch.ID == created || (ch.Action == Unchanged && !ch.refresh) {
			continue
		}
		s := step{ch.wave, rank(ch.ID.GroupKind())}
		if _, ok := byStep[s]; !ok {
			steps = append(steps, s)
		}
		byStep[s] = append(byStep[s], ch)
	}
	for i, s := range steps {
		changes := byStep[s]
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(workers)
		for _, ch := range changes {
			eg.Go(func() error { return c.applyOne(ectx, ch, opts) })
		}
		if err := eg.Wait(); err != nil {
			return err
		}
		if s.rank == 0 {
			if err := c.waitCRDs(ctx, changes); err != nil {
				return err
			}
		}
		// The last step of a wave with later waves: wait until the wave is ready.
		if i+1 < len(steps) && steps[i+1].wave != s.wave {
			if err := c.waitWave(ctx, s.wave, waveObjects[s.wave], opts); err != nil {
				return err
			}
		}
	}
	if testHookBeforePrune != nil {
		if err := testHookBeforePrune(); err != nil {
			return err
		}
	}
	var remaining []ID
	for _, ch := range plan.Changes {
		switch ch.Action {
		case Delete:
			if err := c.prune(ctx, inv, ch.ID, opts); err != nil {
				return err
			}
		case Keep:
			if err := c.release(ctx, inv, ch.ID, opts); err != nil {
				return err
			}
		default:
			remaining = append(remaining, ch.ID)
			if ch.hash != "" {
				applied[ch.ID] = ch.hash
			}
		}
	}
	for id := range applied {
		if !slices.Contains(remaining, id) {
			delete(applied, id)
		}
	}
	return c.writeInventory(ctx, inv, remaining, applied)
}

// waitWave waits until a sync wave's objects are ready, before the next wave.
func (c *Client) waitWave(ctx context.Context, w int, changes []Change, opts ApplyOptions) error {
	timeout := opts.WaveTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	var ids []ID
	gone := map[ID]bool{}
	for _, ch := range changes {
		ids = append(ids, ch.ID)
		gone[ch.ID] = ch.gone || hasTTL(ch.desired)
	}
	return opts.Progress.Phase(fmt.Sprintf("waiting until sync wave %d (%d objects) is ready before the next", w, len(ids)), func() error {
		return c.Wait(ctx, WaitOptions{IDs: ids, Timeout: timeout, Progress: opts.Progress, GoneIsDone: gone})
	})
}

// ensureNamespace creates the inventory's namespace from the plan when it does
// not exist yet, and returns the identity of what it applied.
func (c *Client) ensureNamespace(ctx context.Context, plan *Plan, opts ApplyOptions) (ID, error) {
	ns := plan.Inventory.Namespace
	if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		return ID{}, nil
	} else if !apierrors.IsNotFound(err) {
		return ID{}, err
	}
	for _, ch := range plan.Changes {
		if ch.ID.Kind == "Namespace" && ch.ID.Group == "" && ch.ID.Name == ns && ch.desired != nil {
			// Applied before the inventory is written; it carries the inventory's
			// label, so it is found again even if we stop right after this.
			return ch.ID, c.applyOne(ctx, ch, opts)
		}
	}
	return ID{}, fmt.Errorf("namespace %q does not exist: add a Namespace object to the manifests (kube generate's namespace generator), create it, or pick another with -n", ns)
}

func (c *Client) applyOne(ctx context.Context, ch Change, opts ApplyOptions) error {
	ri, err := c.resource(ch.ID)
	if err != nil {
		return err
	}
	body, err := ch.desired.MarshalJSON()
	if err != nil {
		return err
	}
	if ch.handOver != nil {
		// Another manager takes the replicas over first (the transfer the API's
		// server-side apply documentation describes); a conflict means someone
		// else owns them already, which is as good.
		handOver := fmt.Appendf(nil, `{"apiVersion":%q,"kind":%q,"metadata":{"name":%q,"namespace":%q},"spec":{"replicas":%d}}`,
			ch.desired.GetAPIVersion(), ch.desired.GetKind(), ch.ID.Name, ch.ID.Namespace, *ch.handOver)
		no := false
		if _, err := ri.Patch(ctx, ch.ID.Name, types.ApplyPatchType, handOver, metav1.PatchOptions{FieldManager: contract.FieldManagerHandOver, Force: &no}); err != nil && !apierrors.IsConflict(err) {
			return applyError(ch.ID, err)
		}
	}
	force := opts.ForceConflicts || ch.force
	_, err = ri.Patch(ctx, ch.ID.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: contract.FieldManager, Force: &force})
	if err != nil && !force && scaleConflict(err) {
		// kube scale changed the replicas since the plan: the manifests win.
		force = true
		_, err = ri.Patch(ctx, ch.ID.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: contract.FieldManager, Force: &force})
	}
	if err != nil {
		return applyError(ch.ID, err)
	}
	opts.Progress.Printf("  %-9s %s", ch.Action, ch.ID.Short())
	return nil
}

// waitCRDs waits until the CRDs just applied are established, so that their
// custom resources can be applied next.
func (c *Client) waitCRDs(ctx context.Context, changes []Change) error {
	for _, ch := range changes {
		if ch.ID.Kind != "CustomResourceDefinition" {
			continue
		}
		ri, err := c.resource(ch.ID)
		if err != nil {
			return err
		}
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			u, err := ri.Get(ctx, ch.ID.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &crd); err != nil {
				return false, err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s was not established: %w", ch.ID.Name, err)
		}
	}
	c.mapper.Reset()
	return nil
}

// prune deletes an object that left the app, but only if it still carries this
// inventory's label: an object taken over by someone else is left alone.
func (c *Client) prune(ctx context.Context, inv *Inventory, id ID, opts ApplyOptions) error {
	ri, err := c.resource(id)
	if err != nil {
		opts.Progress.Printf("  skip      %s: %v", id.Short(), err)
		return nil
	}
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s before pruning it: %w", id.Short(), err)
	}
	if live.GetLabels()[contract.LabelPartOf] != inv.ID {
		opts.Progress.Printf("  keep      %s: no longer labelled as part of %s, so not pruned", id.Short(), inv.App)
		return nil
	}
	uid := live.GetUID()
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, id.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("pruning %s: %w", id.Short(), err)
	}
	opts.Progress.Printf("  delete    %s", id.Short())
	return nil
}

// release lets an object go without deleting it: it loses the inventory's
// label (a JSON patch that tests the label first, so that nothing else is
// touched) and leaves the inventory.
func (c *Client) release(ctx context.Context, inv *Inventory, id ID, opts ApplyOptions) error {
	ri, err := c.resource(id)
	if err != nil {
		return nil
	}
	live, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", id.Short(), err)
	}
	if live.GetLabels()[contract.LabelPartOf] == inv.ID {
		path := "/metadata/labels/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(contract.LabelPartOf)
		patch, _ := json.Marshal([]map[string]any{{"op": "test", "path": path, "value": inv.ID}, {"op": "remove", "path": path}})
		if _, err := ri.Patch(ctx, id.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: contract.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("releasing %s: %w", id.Short(), err)
		}
	}
	opts.Progress.Printf("  keep      %s: left in the cluster, no longer part of %s", id.Short(), inv.App)
	return nil
}

// testHookBeforePrune lets a test stop a deploy between apply and prune, as a
// killed process would.
var testHookBeforePrune func() error

// desiredObjects are the objects a plan applies (its revision records them).
func (p *Plan) desiredObjects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, ch := range p.Changes {
		if ch.desired != nil {
			out = append(out, ch.desired)
		}
	}
	return out
}
