package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Options describe one deploy.
type Options struct {
	App string
	// Namespace holds the inventory and revisions; objects without a namespace go there.
	Namespace string
	Objects   []*unstructured.Unstructured
	ApplyOptions
	// AllowEmpty permits deploying no objects (which prunes everything).
	AllowEmpty bool
	// Timeout of the readiness wait; 0 skips waiting.
	Timeout time.Duration
	// Confirm is asked after the plan is shown, when it has changes; nil proceeds.
	Confirm func(*Plan) (bool, error)
	// ShowPlan prints the plan; nil prints nothing.
	ShowPlan func(*Plan)
	Revision RevisionInfo
	Keep     int
}

// Result of a deploy.
type Result struct {
	Plan     *Plan `json:"plan"`
	Revision int   `json:"revision,omitempty"` // 0 when nothing changed
	Declined bool  `json:"declined,omitempty"` // the user said no
}

// ErrEmpty refuses an empty set, which would prune the whole app.
var ErrEmpty = errors.New("no objects to deploy: this would delete everything the app has; pass --allow-empty if that is what you want")

// Deploy plans, confirms, applies, waits and records a revision. When nothing
// changed it does not write anything and records no revision.
func (c *Client) Deploy(ctx context.Context, o Options) (*Result, error) {
	if len(o.Objects) == 0 && !o.AllowEmpty {
		return nil, ErrEmpty
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	p := o.Progress
	plan, err := c.MakePlan(ctx, o.App, o.Namespace, o.Objects, o.ApplyOptions)
	if err != nil {
		return nil, err
	}
	plan.Cause = o.Revision.Cause
	res := &Result{Plan: plan}
	if o.ShowPlan != nil {
		o.ShowPlan(plan)
	}
	if !plan.HasChanges() {
		return res, nil
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
	err = p.Phase(fmt.Sprintf("applying %s", summary(plan)), func() error {
		return c.Apply(ctx, plan, o.ApplyOptions)
	})
	if err != nil {
		return nil, err
	}
	applied := plan.desiredObjects()
	if o.Timeout > 0 {
		var ids []ID
		for _, ch := range plan.Changes {
			if ch.Action != Delete {
				ids = append(ids, ch.ID)
			}
		}
		err = p.Phase(fmt.Sprintf("waiting until %d objects are ready (timeout %s)", len(ids), o.Timeout), func() error {
			return c.Wait(ctx, ids, o.Timeout, p)
		})
	}
	// Record the revision even when the wait fails: the objects were applied, and
	// rollback must be able to return from exactly this state.
	n, rerr := c.record(ctx, plan.Inventory, applied, o.Revision, o.Keep)
	res.Revision = n
	return res, errors.Join(err, rerr)
}

func summary(p *Plan) string {
	n := p.Count()
	var parts []string
	for _, a := range []Action{Create, Update, Adopt, Delete} {
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
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
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
