package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/slo"
)

// budgetPolicy applies the spec's error budget policy to a deploy and
// returns the revision's cause. With policy freeze, a deploy to a cluster
// whose objective has spent its calendar month's budget is refused, unless
// --override-budget gives a reason, which the revision records. A rollback
// is never refused (kube rollback does not come here). A Prometheus that
// cannot answer is reported and does not block: an outage of monitoring
// must not stop the fix of an outage (docs/slo.md).
func (o *DeployOptions) budgetPolicy(ctx context.Context, a *app.App, now time.Time) (string, error) {
	const cause = "deploy"
	reason := strings.TrimSpace(o.OverrideBudget)
	if reason != "" && secrets.InText(reason) {
		return "", usageError{fmt.Errorf("--override-budget looks like it holds a credential; the reason is recorded in the revision, so write why, not a secret")}
	}
	// Only kubernetes/<cluster>/ of the app's own spec is under its policy.
	if a.Spec == nil || a.Dir == "" || filepath.Base(filepath.Dir(a.Dir)) != generate.OutputDir {
		return cause, nil
	}
	frozen := generate.FrozenObjectives(a.Spec, filepath.Base(a.Dir))
	if len(frozen) == 0 {
		return cause, nil
	}
	api := &alerts.API{}
	if e := a.Cluster.Entry; e != nil {
		api.Prometheus = e.Prometheus
	}
	statuses, err := slo.Statuses(ctx, api, a.Namespace, a.Name, now)
	if err != nil {
		fmt.Fprintf(o.IO.ErrOut, "Warning: the error budget policy (freeze) was not checked, deploying anyway: %v\n", err)
		return cause, nil
	}
	var spent, names []string
	for _, name := range frozen {
		i := slices.IndexFunc(statuses, func(s slo.Status) bool { return s.SLO == name })
		switch {
		case i < 0:
			fmt.Fprintf(o.IO.ErrOut, "Warning: Prometheus has no data of SLO %s yet; its budget was not checked.\n", name)
		case statuses[i].Spent():
			s := statuses[i]
			spent = append(spent, fmt.Sprintf("%s (%.1f of %.1f minutes consumed in %s)", s.SLO, s.ConsumedMinutes, s.BudgetMinutes, s.Month))
			names = append(names, s.SLO)
		}
	}
	if len(spent) == 0 {
		return cause, nil
	}
	what := strings.Join(spent, ", ")
	if reason == "" {
		fmt.Fprintf(o.IO.ErrOut, "Release frozen: the error budget of %s is spent, and kube-generate.yaml's policy on this cluster is freeze.\n"+
			"  kube slo -c %s shows the budget; kube rollback is allowed; fix reliability first, or deploy with\n"+
			"  --override-budget \"why\" (recorded in the revision).\n", what, a.Cluster.Name)
		return "", exitCode(exitFailure)
	}
	fmt.Fprintf(o.IO.ErrOut, "The error budget of %s is spent; deploying on override: %s\n", what, reason)
	return fmt.Sprintf("%s, overriding the spent error budget of %s: %s", cause, strings.Join(names, ", "), reason), nil
}
