package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-idp/kube/internal/progress"
)

// ApplyOptions tune applying a plan.
type ApplyOptions struct {
	// ForceConflicts takes over fields owned by other field managers.
	ForceConflicts bool
	// Progress receives a line per step; nil is silent.
	Progress *progress.Reporter
}

// Apply carries out a plan so that an interruption at any moment never loses
// track of an object: the inventory first grows to the union of the old and new
// sets, then objects are applied in dependency order, then the objects no longer
// wanted are deleted (only if they still carry this inventory's label), and only
// then the inventory shrinks to the new set.
func (c *Client) Apply(ctx context.Context, plan *Plan, opts ApplyOptions) error {
	inv := plan.Inventory
	var desired []ID
	for _, ch := range plan.Changes {
		if ch.Action != Delete {
			desired = append(desired, ch.ID)
		}
	}
	// The inventory lives in the app's namespace, which this deploy may create.
	created, err := c.ensureNamespace(ctx, plan, opts)
	if err != nil {
		return err
	}
	if err := c.writeInventory(ctx, inv, append(append([]ID{}, inv.Objects...), desired...)); err != nil {
		return err
	}
	// Apply rank by rank (CRDs, namespaces, RBAC and config, services, the rest),
	// each rank in parallel.
	byRank := map[int][]Change{}
	maxRank := 0
	for _, ch := range plan.Changes {
		if ch.Action == Delete || ch.Action == Unchanged || ch.ID == created {
			continue
		}
		r := rank(ch.ID.GroupKind())
		byRank[r] = append(byRank[r], ch)
		maxRank = max(maxRank, r)
	}
	for r := 0; r <= maxRank; r++ {
		changes := byRank[r]
		err := parallel(ctx, len(changes), func(i int) error {
			return c.applyOne(ctx, changes[i], opts)
		})
		if err != nil {
			return err
		}
		if r == 0 && len(changes) > 0 {
			if err := c.waitCRDs(ctx, changes); err != nil {
				return err
			}
		}
	}
	if testHookBeforePrune != nil {
		if err := testHookBeforePrune(); err != nil {
			return err
		}
	}
	for _, ch := range plan.Changes {
		if ch.Action == Delete {
			if err := c.prune(ctx, inv, ch.ID, opts); err != nil {
				return err
			}
		}
	}
	return c.writeInventory(ctx, inv, desired)
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
		if ch.ID.Kind == "Namespace" && ch.ID.Group == "" && ch.ID.Name == ns && ch.Action != Delete {
			// Applied before the inventory is written; it carries the inventory's
			// label, so it is found again even if we stop right after this.
			return ch.ID, c.applyOne(ctx, ch, opts)
		}
	}
	return ID{}, fmt.Errorf("namespace %q does not exist: add a Namespace object to the manifests (kube generate's namespace generator) or create it", ns)
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
	force := opts.ForceConflicts
	if _, err := ri.Patch(ctx, ch.ID.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
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
	if live.GetLabels()[LabelPartOf] != inv.ID {
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

// testHookBeforePrune lets a test stop a deploy between apply and prune, as a
// killed process would.
var testHookBeforePrune func() error

// parallel runs fn(0..n-1) with a few workers and returns the first error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	const workers = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

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
