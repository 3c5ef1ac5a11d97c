package slo

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Status is one SLO's error budget, as kube slo shows it. The budget is the
// calendar month's (UTC), as the report and the release policy use it; the
// alerts burn the rolling window's.
type Status struct {
	Namespace string `json:"namespace,omitempty"`
	App       string `json:"app"`
	SLO       string `json:"slo"`
	// Objective in percent, exact (99.95).
	Objective string `json:"objective"`
	// Window is the rolling window of the alerts.
	Window string `json:"window"`
	// Month is the calendar month of the budget, e.g. 2026-11.
	Month string `json:"month"`
	// SLI is the month's share of good events so far, in percent; nil
	// without data.
	SLI *float64 `json:"sli,omitempty"`
	// WindowSLI is the same over the rolling window, which the alerts use.
	WindowSLI *float64 `json:"windowSli,omitempty"`
	// BudgetMinutes is (1 - objective) x the month's length.
	BudgetMinutes    float64 `json:"budgetMinutes"`
	ConsumedMinutes  float64 `json:"consumedMinutes"`
	RemainingMinutes float64 `json:"remainingMinutes"`
	// RemainingShare is RemainingMinutes / BudgetMinutes (negative when
	// overspent).
	RemainingShare float64 `json:"remainingShare"`
	// BurnRates per window: the error ratio over the budget's ratio; 1 spends
	// exactly the budget over the window.
	BurnRates map[string]float64 `json:"burnRates"`
	// ExhaustedIn is when the month's budget runs out at the last hour's
	// rate; nil when nothing burns or nothing is left.
	ExhaustedIn *time.Duration `json:"exhaustedIn,omitempty"`
}

// Spent tells whether the month's budget is gone.
func (s Status) Spent() bool { return s.RemainingMinutes <= 0 }

// Querier runs instant PromQL queries (monitoring.API does, over Prometheus's
// HTTP API).
type Querier interface {
	Query(ctx context.Context, expr string, at time.Time) (model.Vector, error)
}

// Statuses reads from Prometheus the SLOs of an app (of every app when app
// is ""), through the series their rules record.
func Statuses(ctx context.Context, q Querier, namespace, app string, now time.Time) ([]Status, error) {
	now = now.UTC()
	sel := selector(namespace, app)
	objectives, err := q.Query(ctx, RecordObjective+sel, now)
	if err != nil {
		return nil, err
	}
	ratios, err := q.Query(ctx, fmt.Sprintf(`{__name__=~%q, %s}`, regexp.QuoteMeta(RecordErrorRatio)+".+", strings.Trim(sel, "{}")), now)
	if err != nil {
		return nil, err
	}
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	elapsed := max(model.Duration(now.Sub(start).Truncate(time.Minute)), model.Duration(time.Minute))
	consumed, err := q.Query(ctx, fmt.Sprintf(`sum_over_time(%s5m%s[%s])`, RecordErrorRatio, sel, elapsed), now)
	if err != nil {
		return nil, err
	}
	counted, err := q.Query(ctx, fmt.Sprintf(`count_over_time(%s5m%s[%s])`, RecordErrorRatio, sel, elapsed), now)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, o := range objectives {
		key := func(m model.Metric) bool {
			return m[LabelApp] == o.Metric[LabelApp] && m[LabelSLO] == o.Metric[LabelSLO] && m["namespace"] == o.Metric["namespace"]
		}
		in := Inputs{Objective: float64(o.Value), Window: string(o.Metric[LabelWindow]), Ratios: map[string]float64{}, Now: now}
		for _, r := range ratios {
			if key(r.Metric) {
				in.Ratios[strings.TrimPrefix(string(r.Metric[model.MetricNameLabel]), RecordErrorRatio)] = float64(r.Value)
			}
		}
		for _, c := range consumed {
			if key(c.Metric) {
				in.ConsumedSum, in.HasData = float64(c.Value), true
			}
		}
		for _, c := range counted {
			if key(c.Metric) {
				in.Samples = float64(c.Value)
			}
		}
		st, err := Compute(in)
		if err != nil {
			return nil, err
		}
		st.Namespace, st.App, st.SLO = string(o.Metric["namespace"]), string(o.Metric[LabelApp]), string(o.Metric[LabelSLO])
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int {
		return strings.Compare(a.Namespace+"/"+a.App+"/"+a.SLO, b.Namespace+"/"+b.App+"/"+b.SLO)
	})
	return out, nil
}

// selector matches an app's recorded series; the namespace label is there
// when prometheus-operator enforces it, and absent otherwise.
func selector(namespace, app string) string {
	var m []string
	if namespace != "" {
		m = append(m, fmt.Sprintf(`namespace=~%q`, regexp.QuoteMeta(namespace)+"|"))
	}
	if app != "" {
		m = append(m, fmt.Sprintf(`%s=%q`, LabelApp, app))
	} else {
		m = append(m, fmt.Sprintf(`%s!=""`, LabelApp))
	}
	return "{" + strings.Join(m, ", ") + "}"
}

// Inputs are what Prometheus says of one SLO.
type Inputs struct {
	Objective float64 // the recorded ratio, 0.9995
	Window    string
	// Ratios are the error ratios by window (5m, 1h, ..., 30d).
	Ratios map[string]float64
	// ConsumedSum is the month's sum of the 5m error ratio, one sample per
	// EvaluationInterval; Samples how many there are.
	ConsumedSum, Samples float64
	HasData              bool
	Now                  time.Time
}

// Compute is the budget arithmetic of docs/slo.md: the month's budget is
// (1 - objective) x its length; each evaluation consumes the 5m error ratio
// times the interval.
func Compute(in Inputs) (Status, error) {
	// Prometheus sends the objective as the shortest float that reads back
	// the same, which is the decimal the rule holds (0.9995).
	ratio, err := ParseDecimal(strconv.FormatFloat(in.Objective, 'f', -1, 64))
	if err != nil {
		return Status{}, fmt.Errorf("objective %v: %w", in.Objective, err)
	}
	objective := Decimal(new(big.Rat).Mul(ratio, big.NewRat(100, 1)))
	budget, err := ErrorBudget(objective)
	if err != nil {
		return Status{}, err
	}
	now := in.Now.UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	month := model.Duration(start.AddDate(0, 1, 0).Sub(start))
	budgetMinutes, _ := BudgetMinutes(objective, month)
	b, _ := budgetMinutes.Float64()
	budgetRatio, _ := budget.Float64()
	st := Status{Objective: objective, Window: in.Window, Month: start.Format("2006-01"), BudgetMinutes: b, BurnRates: map[string]float64{}}
	st.ConsumedMinutes = in.ConsumedSum * time.Duration(EvaluationInterval).Minutes()
	st.RemainingMinutes = b - st.ConsumedMinutes
	st.RemainingShare = st.RemainingMinutes / b
	if in.HasData && in.Samples > 0 {
		sli := 100 * (1 - in.ConsumedSum/in.Samples)
		st.SLI = &sli
	}
	if r, ok := in.Ratios[in.Window]; ok && !math.IsNaN(r) {
		sli := 100 * (1 - r)
		st.WindowSLI = &sli
	}
	for w, r := range in.Ratios {
		if !math.IsNaN(r) {
			st.BurnRates[w] = r / budgetRatio
		}
	}
	if r, ok := in.Ratios["1h"]; ok && r > 0 && !math.IsNaN(r) && st.RemainingMinutes > 0 {
		// At the last hour's error ratio, each minute consumes r minutes.
		d := time.Duration(st.RemainingMinutes / r * float64(time.Minute))
		st.ExhaustedIn = &d
	}
	return st, nil
}
