package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Options describe one deploy.
type Options struct {
	App string
	// Namespace holds the inventory, the revisions and the deploy lock;
	// namespaced objects without a namespace go there.
	Namespace string
	Objects   []*unstructured.Unstructured
	ApplyOptions
	// AllowEmpty permits deploying no objects (which prunes everything).
	AllowEmpty bool
	// Timeout of the readiness wait; 0 skips waiting.
	Timeout time.Duration
	// Lock says what to do when another deploy of the app runs.
	Lock LockOptions
	// Confirm is asked after the plan is shown, when it has changes; nil proceeds.
	Confirm func(*Plan) (bool, error)
	// ShowPlan prints the plan; nil prints nothing.
	ShowPlan func(*Plan)
	Revision RevisionInfo
	Keep     int
	// FullDiffs keeps every diff of the plan whole.
	FullDiffs bool
}

// Result of a deploy.
type Result struct {
	Plan *Plan `json:"plan"`
	// Revision is the revision recorded by this deploy (0: none, nothing changed).
	Revision int  `json:"revision,omitempty"`
	Declined bool `json:"declined,omitempty"` // the user said no
	// Recorded is true when a deploy without changes recorded what runs, because
	// the last revision did not describe it (an earlier deploy was interrupted).
	Recorded bool `json:"recorded,omitempty"`
}

// ErrEmpty refuses an empty set, which would prune the whole app.
var ErrEmpty = errors.New("no objects to deploy: this would delete everything the app has; pass --allow-empty if that is what you want")

// recordTimeout bounds writing a revision after the objects were applied: it
// runs even when the deploy is being interrupted (Ctrl-C), since history must
// describe what was applied.
const recordTimeout = 30 * time.Second

// Deploy plans, confirms, applies, records a revision and waits. Deploys of one
// app are serialised by a lock; a deploy succeeds only when what it leaves
// running is ready, whether or not it changed anything. When nothing changed it
// writes nothing, except a revision when the last one does not describe what
// runs (an earlier deploy was interrupted after applying).
func (c *Client) Deploy(ctx context.Context, o Options) (res *Result, err error) {
	if len(o.Objects) == 0 && !o.AllowEmpty {
		return nil, ErrEmpty
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	p := o.Progress
	// The deploy stops if its lock is lost (not renewed in time: another deploy
	// may have taken it).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var lk *lock
	defer func() {
		if lk != nil {
			lk.release()
		}
	}()
	takeLock := func() error {
		var err error
		if lk, err = c.Lock(ctx, o.App, o.Namespace, o.Lock); err != nil {
			return err
		}
		go func(l *lock) {
			select {
			case <-l.lost:
				cancel(errLockLost)
			case <-ctx.Done():
			}
		}(lk)
		return nil
	}
	// Take the lock before planning when the namespace exists, so that the plan
	// shown is the one applied; for a first deploy, once the namespace exists.
	if exists, err := c.namespaceExists(ctx, o.Namespace); err != nil {
		return nil, err
	} else if exists {
		if err := takeLock(); err != nil {
			return nil, err
		}
	}
	plan, err := c.MakePlan(ctx, PlanOptions{App: o.App, Namespace: o.Namespace, Objects: o.Objects, ApplyOptions: o.ApplyOptions, FullDiffs: o.FullDiffs})
	if err != nil {
		return nil, err
	}
	plan.Cause = o.Revision.Cause
	res = &Result{Plan: plan}
	if o.ShowPlan != nil {
		o.ShowPlan(plan)
	}
	rec, err := makeRecord(o.App, plan.desiredObjects(), plan.ContentHash)
	if err != nil {
		return nil, err
	}
	if !plan.HasChanges() {
		// Nothing to apply; still, history must describe what runs, and it must be ready.
		if n, err := c.recordIfStale(ctx, plan, rec, o); err != nil || n > 0 {
			res.Revision, res.Recorded = n, n > 0
			if err != nil {
				return res, err
			}
		}
		return res, c.waitReady(ctx, plan, o, true)
	}
	if o.Confirm != nil {
		ok, err := o.Confirm(plan)
		if err != nil {
			return nil, err
		}
		if !ok {
			res.Declined = true
			return res, nil
		}
	}
	if lk == nil {
		// A first deploy: the namespace is created now, then the lock is taken,
		// and a deploy that got there first makes this one stop.
		if _, err := c.ensureNamespace(ctx, plan, o.ApplyOptions); err != nil {
			return nil, err
		}
		if err := takeLock(); err != nil {
			return nil, err
		}
		if inv, err := c.readInventory(ctx, o.App, o.Namespace); err != nil {
			return nil, err
		} else if inv.Exists != plan.Inventory.Exists || inv.resourceVersion != plan.Inventory.resourceVersion {
			return nil, ErrConcurrent
		}
	}
	applyErr := p.Phase(fmt.Sprintf("applying %s", summary(plan)), func() error {
		return c.Apply(ctx, plan, o.ApplyOptions)
	})
	if applyErr != nil && !errors.Is(applyErr, context.Canceled) {
		return nil, applyErr
	}
	// Record what was applied, also when interrupted: the objects are in the
	// cluster, and rollback must be able to return from exactly this state.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer rcancel()
	n, err := c.writeRecord(rctx, plan.Inventory, rec, o.Revision, o.Keep)
	res.Revision = n
	if err != nil || applyErr != nil {
		return res, errors.Join(applyErr, err)
	}
	return res, c.waitReady(ctx, plan, o, false)
}

// waitReady waits until every object of the plan is ready (a no-op deploy
// first looks at the state the plan read, and watches only if needed).
func (c *Client) waitReady(ctx context.Context, plan *Plan, o Options, noop bool) error {
	if o.Timeout <= 0 {
		return nil
	}
	w := WaitOptions{Timeout: o.Timeout, Progress: o.Progress, GoneIsDone: map[ID]bool{}}
	if noop {
		w.Live = map[ID]*unstructured.Unstructured{}
	}
	for _, ch := range plan.Changes {
		if ch.desired == nil {
			continue
		}
		w.IDs = append(w.IDs, ch.ID)
		w.GoneIsDone[ch.ID] = ch.gone || (ch.ID.Kind == "Job" && hasTTL(ch.desired))
		if noop && ch.live != nil {
			w.Live[ch.ID] = ch.live
		}
	}
	if noop && c.allReady(w) {
		return nil
	}
	return o.Progress.Phase(fmt.Sprintf("waiting until %d objects are ready (timeout %s)", len(w.IDs), o.Timeout), func() error {
		return c.Wait(ctx, w)
	})
}

// recordIfStale records a revision for a deploy without changes when the last
// revision does not describe what runs.
func (c *Client) recordIfStale(ctx context.Context, plan *Plan, rec *record, o Options) (int, error) {
	hist, err := c.History(ctx, o.App, o.Namespace)
	if err != nil {
		return 0, err
	}
	if len(hist) > 0 && hist[0].Content == plan.ContentHash {
		return 0, nil
	}
	if !plan.Inventory.Exists {
		return 0, nil // nothing was ever applied (an empty set)
	}
	info := o.Revision
	info.Cause = strings.TrimSpace(info.Cause + " (records what runs: the last revision did not describe it)")
	o.Progress.Printf("The last revision does not describe what runs (an earlier deploy was interrupted): recording it.")
	return c.writeRecord(ctx, plan.Inventory, rec, info, o.Keep)
}

func (c *Client) namespaceExists(ctx context.Context, ns string) (bool, error) {
	live, err := c.liveObjects(ctx, []ID{{Kind: "Namespace", Name: ns}})
	if err != nil {
		return false, err
	}
	return live[ID{Kind: "Namespace", Name: ns}] != nil, nil
}

var errLockLost = errors.New("the deploy lock was lost (its lease could not be renewed in time): stopped")

func summary(p *Plan) string {
	n := p.Count()
	var parts []string
	for _, a := range []Action{Create, Update, Adopt, Delete, Keep} {
		if n[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", n[a], a))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary describes a plan in one line, e.g. "2 to create, 1 to delete".
func Summary(p *Plan) string {
	if !p.HasChanges() {
		return "no changes"
	}
	return summary(p)
}

// OverrideImages replaces the images whose repository (without tag or digest) is
// a key of overrides; every key must match at least one container.
func OverrideImages(objs []*unstructured.Unstructured, overrides map[string]string) error {
	used := map[string]bool{}
	for _, o := range objs {
		for _, c := range containers(o) {
			im, _ := c["image"].(string)
			if ref, ok := overrides[repository(im)]; ok {
				c["image"] = ref
				used[repository(im)] = true
			}
		}
	}
	for name := range overrides {
		if !used[name] {
			return fmt.Errorf("--image %s matches no container image of the app", name)
		}
	}
	return nil
}

// repository strips the tag or digest from an image reference.
func repository(image string) string {
	if ref, err := reference.Parse(image); err == nil {
		if named, ok := ref.(reference.Named); ok {
			return named.Name()
		}
	}
	return image
}

// Rollback deploys the objects of an earlier revision (default: the one before
// the latest) with the same guarantees as Deploy, recording a new revision.
func (c *Client) Rollback(ctx context.Context, o Options, revision int) (*Result, int, error) {
	hist, err := c.History(ctx, o.App, o.Namespace)
	if err != nil {
		return nil, 0, err
	}
	if revision == 0 {
		if len(hist) < 2 {
			return nil, 0, fmt.Errorf("%s has %d revision(s) in namespace %s: nothing to roll back to", o.App, len(hist), o.Namespace)
		}
		revision = hist[1].Number
	}
	objs, err := c.RevisionObjects(ctx, o.App, o.Namespace, revision)
	if err != nil {
		return nil, 0, err
	}
	o.Objects = objs
	o.AllowEmpty = true // the revision was deployed as it is
	o.Revision.Cause = fmt.Sprintf("rollback to revision %d", revision)
	res, err := c.Deploy(ctx, o)
	return res, revision, err
}
