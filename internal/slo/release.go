package slo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Release is one deploy under the error budget policy.
type Release struct {
	Namespace, App string
	// Frozen are the app's objectives whose policy on this cluster is freeze
	// (from its kube-generate.yaml).
	Frozen []string
	// Override is the reason given to deploy anyway ("" for none).
	Override string
	Now      time.Time
}

// Decision is the policy's answer to a release.
type Decision struct {
	// Cause is what the revision records (the override's reason included).
	Cause string
	// Refused: a budget under freeze is spent and no override was given.
	Refused bool
	// Spent names the spent budgets, with their figures.
	Spent string
	// Warnings say what could not be checked (the deploy goes on).
	Warnings []string
}

// Decide applies the freeze policy: a release whose frozen objectives have
// spent their calendar month's budget is refused, unless overridden (the
// reason is recorded). A Prometheus that cannot answer is a warning, never a
// refusal: an outage of monitoring must not stop the fix of an outage
// (docs/slo.md). Rollbacks never come here.
func Decide(ctx context.Context, q Querier, r Release) Decision {
	d := Decision{Cause: "deploy"}
	if len(r.Frozen) == 0 {
		return d
	}
	statuses, err := Statuses(ctx, q, r.Namespace, r.App, r.Now)
	if err != nil {
		d.Warnings = append(d.Warnings, fmt.Sprintf("the error budget policy (freeze) was not checked, deploying anyway: %v", err))
		return d
	}
	var spent, names []string
	for _, name := range r.Frozen {
		i := slices.IndexFunc(statuses, func(s Status) bool { return s.SLO == name })
		switch {
		case i < 0:
			d.Warnings = append(d.Warnings, fmt.Sprintf("Prometheus has no data of SLO %s yet; its budget was not checked.", name))
		case statuses[i].Spent():
			s := statuses[i]
			spent = append(spent, fmt.Sprintf("%s (%.1f of %.1f minutes consumed in %s)", s.SLO, s.ConsumedMinutes, s.BudgetMinutes, s.Month))
			names = append(names, s.SLO)
		}
	}
	if len(spent) == 0 {
		return d
	}
	d.Spent = strings.Join(spent, ", ")
	if r.Override == "" {
		d.Refused = true
		return d
	}
	d.Cause = fmt.Sprintf("deploy, overriding the spent error budget of %s: %s", strings.Join(names, ", "), r.Override)
	return d
}
