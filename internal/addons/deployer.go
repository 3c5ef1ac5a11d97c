package addons

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/kube-idp/kube/internal/deploy"
)

// Deployer deploys rendered add-ons to one cluster, each as its own app of
// kube's deploy engine, adopting what Helm installed before.
type Deployer struct {
	Client *deploy.Client
	Helm   *HelmReleases
	// Options are one add-on's deploy options (the caller's confirmation,
	// guard and output), given its app name and the revision's cause.
	Options func(r *Rendered, app, cause string) deploy.Options
	// UI hears what happens; nil hears nothing.
	UI UI
	// FullDiffs keeps long diffs whole in plans.
	FullDiffs bool
}

// UI is told what the deployer does, as it does it.
type UI interface {
	// Note is a remark (an add-on planned later, say).
	Note(format string, a ...any)
	// Start: an add-on's deploy begins; helm is the Helm release it adopts.
	Start(r *Rendered, source string, helm *HelmRelease)
	// Done: its deploy ended (res may be nil); the error returned stops the
	// run.
	Done(r *Rendered, res *deploy.Result, err error) error
	// Adopted: Helm's release was taken over and its records deleted.
	Adopted(hr *HelmRelease, objects int)
}

// Result is one add-on's deploy.
type Result struct {
	Addon   string         `json:"addon"`
	Chart   string         `json:"chart,omitempty"`
	Version string         `json:"version,omitempty"`
	Result  *deploy.Result `json:"result"`
	Adopted *HelmRelease   `json:"adoptedFromHelm,omitempty"`
}

type silent struct{}

func (silent) Note(string, ...any)                                 {}
func (silent) Start(*Rendered, string, *HelmRelease)               {}
func (silent) Done(_ *Rendered, _ *deploy.Result, err error) error { return err }
func (silent) Adopted(*HelmRelease, int)                           {}

func (d *Deployer) ui() UI {
	if d.UI == nil {
		return silent{}
	}
	return d.UI
}

// Plan dry-runs every add-on before anything is applied, so that one the API
// server would reject stops the deploy before the first add-on changes. A
// custom resource whose CRD another add-on of this run brings cannot be
// dry-run yet: its add-on is planned when its turn comes.
func (d *Deployer) Plan(ctx context.Context, rendered []*Rendered) ([]*deploy.Plan, error) {
	var all []*deploy.Plan
	defined := map[string]bool{}
	for _, r := range rendered {
		for gk := range deploy.DefinedKinds(r.Objects) {
			defined[gk.String()] = true
		}
	}
	var errs []error
	for _, r := range rendered {
		p, err := d.Client.MakePlan(ctx, deploy.PlanOptions{App: App(r.Name), Namespace: r.Namespace, Objects: r.Objects, Validate: true, FullDiffs: d.FullDiffs,
			ApplyOptions: deploy.ApplyOptions{ForceConflicts: true}})
		var nomatch *meta.NoKindMatchError
		if errors.As(err, &nomatch) && defined[nomatch.GroupKind.String()] {
			d.ui().Note("note: add-on %s uses %s, which another add-on of this run defines: planned when its turn comes", r.Name, nomatch.GroupKind)
			continue
		}
		if err != nil {
			errs = append(errs, &Error{Addon: r.Name, Err: err})
			continue
		}
		all = append(all, p)
	}
	return all, errors.Join(errs...)
}

// Deploy plans them all, then deploys them in order. It stops at the first
// add-on that fails, naming those not deployed; the results are those
// attempted.
func (d *Deployer) Deploy(ctx context.Context, rendered []*Rendered) ([]Result, error) {
	if _, err := d.Plan(ctx, rendered); err != nil {
		return nil, fmt.Errorf("%w\nnothing was deployed", err)
	}
	var results []Result
	for i, r := range rendered {
		res, err := d.deployOne(ctx, r)
		if res != nil {
			results = append(results, *res)
		}
		if err != nil {
			var rest []string
			for _, n := range rendered[i+1:] {
				rest = append(rest, n.Name)
			}
			if len(rest) > 0 {
				err = fmt.Errorf("%w\nnot deployed: %s", err, strings.Join(rest, ", "))
			}
			return results, &Error{Addon: r.Name, Err: err}
		}
	}
	return results, nil
}

func (d *Deployer) deployOne(ctx context.Context, r *Rendered) (*Result, error) {
	hr, err := d.Helm.Find(ctx, r.Namespace, r.Name)
	if err != nil {
		return nil, err
	}
	source := r.Chart // a directory of the repository
	if r.Version != "" {
		source = r.Chart + "-" + r.Version
	}
	d.ui().Start(r, source, hr)
	opts := d.Options(r, App(r.Name), "addons deploy "+r.Name+" "+source)
	// The add-on file is the truth: fields another manager (a hand edit, Helm)
	// set are taken over, as Argo CD and Flux do.
	opts.ForceConflicts = true
	res, err := d.Client.Deploy(ctx, opts)
	out := &Result{Addon: r.Name, Chart: r.Chart, Version: r.Version, Result: res}
	if err := d.ui().Done(r, res, err); err != nil || res == nil || res.Declined {
		return out, err
	}
	if hr != nil {
		n, err := d.adopt(ctx, hr, res)
		if err != nil {
			return out, err
		}
		out.Adopted = hr
		d.ui().Adopted(hr, n)
	}
	return out, nil
}

// adopt finishes taking a release over from Helm: kube becomes the only field
// manager of its objects and Helm's records go (so that helm uninstall cannot
// delete what kube manages now). It returns the objects taken over in place.
func (d *Deployer) adopt(ctx context.Context, hr *HelmRelease, res *deploy.Result) (int, error) {
	var ids []deploy.ID
	adopted := 0
	for _, ch := range res.Plan.Changes {
		if ch.Action != deploy.Delete && ch.Action != deploy.Keep {
			ids = append(ids, ch.ID)
		}
		if ch.Action == deploy.Adopt {
			adopted++
		}
	}
	if _, err := d.Client.DropFieldManagers(ctx, ids, HelmManagers...); err != nil {
		return 0, fmt.Errorf("dropping Helm's field ownership: %w", err)
	}
	if err := d.Helm.Forget(ctx, hr); err != nil {
		return 0, err
	}
	return adopted, nil
}
