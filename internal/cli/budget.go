package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/monitoring"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/slo"
)

// budgetPolicy applies the app's error budget policy to a deploy
// (slo.Decide) and returns the revision's cause; --override-budget gives the
// reason to deploy on a spent budget, which the revision records.
func (o *DeployOptions) budgetPolicy(ctx context.Context, a *app.App, now time.Time) (string, error) {
	reason := strings.TrimSpace(o.OverrideBudget)
	if reason != "" && secrets.InText(reason) {
		return "", usageError{fmt.Errorf("--override-budget looks like it holds a credential; the reason is recorded in the revision, so write why, not a secret")}
	}
	r := slo.Release{Namespace: a.Namespace, App: a.Name, Override: reason, Now: now}
	if a.Spec != nil {
		r.Frozen = generate.FrozenObjectives(a.Spec, a.SpecCluster)
	}
	api := &monitoring.API{}
	if e := a.Cluster.Entry; e != nil {
		api.Prometheus = e.Prometheus
	}
	d := slo.Decide(ctx, api, r)
	for _, w := range d.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
	}
	switch {
	case d.Refused:
		fmt.Fprintf(o.IO.ErrOut, "Release frozen: the error budget of %s is spent, and kube-generate.yaml's policy on this cluster is freeze.\n"+
			"  kube slo -c %s shows the budget; kube rollback is allowed; fix reliability first, or deploy with\n"+
			"  --override-budget \"why\" (recorded in the revision).\n", d.Spent, a.Cluster.Name)
		return "", exitCode(exitFailure)
	case d.Spent != "":
		fmt.Fprintf(o.IO.ErrOut, "The error budget of %s is spent; deploying on override: %s\n", d.Spent, reason)
	}
	return d.Cause, nil
}
