// Package slo turns service level objectives into Prometheus rules: the SLI's
// error ratio recorded over the burn-rate windows and the SLO's window, the
// error budget left, and multiwindow multi-burn-rate alerts after the Google
// SRE workbook (page: 14.4x over 1h and 5m, 6x over 6h and 30m; ticket: 3x
// over 1d and 2h, 1x over 3d and 6h). It is pure: an SLO in, a rule group out
// (golden files in testdata), with exact decimal arithmetic throughout.
package slo

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kube-idp/kube/internal/alerts"
	sxc "github.com/kube-idp/kube/servicex/contract"
)

// SLO is one objective of an app on one cluster.
type SLO struct {
	Name      string
	App       string
	Namespace string
	// Objective is the share of good events in percent, as written (99.95):
	// it is never a float, so that no rounding reaches a rule.
	Objective string
	// Window is the rolling window of the objective and of the alerting
	// budget (default 30d).
	Window model.Duration
	SLI    SLI
	Burn   BurnRates
}

// SLI says what counts as an error; exactly one field is set.
type SLI struct {
	// Availability of a servicex process: the share of requests answered
	// without a 5xx.
	Availability *Availability
	// Latency of a servicex process: the share of requests answered within
	// a threshold, which must be one of the histogram's bucket bounds.
	Latency *Latency
	// Ratio is a custom SLI: two PromQL expressions over {{.window}}.
	Ratio *Ratio
}

// Availability selects a servicex web process.
type Availability struct{ Process string }

// Latency selects a servicex web process and a threshold.
type Latency struct {
	Process   string
	Threshold model.Duration
}

// Ratio is errors/total or good/total; Errors or Good is set, not both.
// Each holds {{.window}} where the range goes, as Sloth's specs do.
type Ratio struct{ Errors, Good, Total string }

// BurnRates are the four factors of the alerts, as exact decimals; empty
// fields take the workbook's values for a 30-day window.
type BurnRates struct{ Page, PageSlow, Ticket, TicketSlow string }

// DefaultBurnRates are the SRE workbook's: 2% of a 30-day budget in 1 hour,
// 5% in 6 hours (page); 10% in 1 day, 10% in 3 days (ticket).
var DefaultBurnRates = BurnRates{Page: "14.4", PageSlow: "6", Ticket: "3", TicketSlow: "1"}

// DefaultWindow is the objective's window when the spec names none; a window
// is at least the longest burn-rate window and at most about a year.
const (
	DefaultWindow = model.Duration(30 * 24 * time.Hour)
	MinWindow     = 3 * 24 * time.Hour
	MaxWindow     = 400 * 24 * time.Hour
)

// EvaluationInterval is the SLO groups' own: kube slo counts the budget
// consumed as the sum of the recorded 5m error ratios times this interval.
const EvaluationInterval = model.Duration(time.Minute)

// Windows are the burn-rate windows the alerts read, shortest first.
var Windows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// Metric names of the recorded series, after Sloth's.
const (
	RecordObjective       = "slo:objective:ratio"      // labelled with the window, for kube slo
	RecordErrorRatio      = "slo:sli_error:ratio_rate" // + window
	RecordBudgetRemaining = "slo:error_budget_remaining:ratio"
	RecordBudgetMinutes   = "slo:error_budget_remaining:minutes"
	LabelSLO              = "slo"
	LabelApp              = "app"
	LabelWindow           = "window"
	AlertPage             = "SLOErrorBudgetBurnPage"
	AlertTicket           = "SLOErrorBudgetBurnTicket"
	RunbookBase           = "https://github.com/kube-idp/kube/blob/main/docs/slo.md#"
)

var decimalRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// ParseDecimal reads an exact decimal such as 99.95.
func ParseDecimal(s string) (*big.Rat, error) {
	if !decimalRE.MatchString(s) {
		return nil, fmt.Errorf("%q is not a decimal number such as 99.95", s)
	}
	r, _ := new(big.Rat).SetString(s)
	return r, nil
}

// Decimal writes r exactly in decimal notation; r's denominator must be a
// product of 2s and 5s, as every ratio of decimals here is.
func Decimal(r *big.Rat) string {
	// The decimals needed are the larger power of 2 or 5 in the denominator.
	den := new(big.Int).Set(r.Denom())
	digits := 0
	for _, p := range []int64{2, 5} {
		n, q, m := 0, new(big.Int), new(big.Int)
		for d := new(big.Int).Set(den); ; n++ {
			if q.QuoRem(d, big.NewInt(p), m); m.Sign() != 0 {
				break
			}
			d.Set(q)
		}
		digits = max(digits, n)
	}
	return r.FloatString(digits)
}

// ErrorBudget is 1 - objective/100 as an exact ratio: 99.95 gives 0.0005.
func ErrorBudget(objective string) (*big.Rat, error) {
	o, err := ParseDecimal(objective)
	if err != nil {
		return nil, err
	}
	if o.Sign() <= 0 || o.Cmp(big.NewRat(100, 1)) >= 0 {
		return nil, fmt.Errorf("the objective %s%% must be above 0 and below 100", objective)
	}
	return new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Quo(o, big.NewRat(100, 1))), nil
}

// BudgetMinutes is the error budget over a window in minutes: (1 -
// objective) x window; 99.95% over 30 days gives 21.6.
func BudgetMinutes(objective string, window model.Duration) (*big.Rat, error) {
	b, err := ErrorBudget(objective)
	if err != nil {
		return nil, err
	}
	minutes := new(big.Rat).SetFrac64(int64(time.Duration(window)/time.Second), 60)
	return minutes.Mul(minutes, b), nil
}

// Selector is the label matchers of the SLO's recorded series.
func (s SLO) Selector() string {
	return fmt.Sprintf(`{%s=%q, %s=%q}`, LabelApp, s.App, LabelSLO, s.Name)
}

func (s SLO) labels() map[string]string {
	return map[string]string{LabelApp: s.App, LabelSLO: s.Name}
}

// ErrorRatio is the SLI's error ratio over a window, as PromQL.
func (s SLO) ErrorRatio(window string) (string, error) {
	switch {
	case s.SLI.Availability != nil:
		sel := s.processSelector(s.SLI.Availability.Process)
		return fmt.Sprintf(`sum(rate(%s_count{%s, http_response_status_code=~"5.."}[%s])) / sum(rate(%s_count{%s}[%s]))`,
			sxc.HTTPServerDuration, sel, window, sxc.HTTPServerDuration, sel, window), nil
	case s.SLI.Latency != nil:
		sel := s.processSelector(s.SLI.Latency.Process)
		le, err := bucketMatcher(s.SLI.Latency.Threshold)
		if err != nil {
			return "", err
		}
		total := fmt.Sprintf(`sum(rate(%s_count{%s}[%s]))`, sxc.HTTPServerDuration, sel, window)
		return fmt.Sprintf(`(%s - sum(rate(%s_bucket{%s, %s}[%s]))) / %s`, total, sxc.HTTPServerDuration, sel, le, window, total), nil
	case s.SLI.Ratio != nil:
		r := s.SLI.Ratio
		total := expandWindow(r.Total, window)
		if r.Good != "" {
			return fmt.Sprintf(`1 - ((%s) / (%s))`, expandWindow(r.Good, window), total), nil
		}
		return fmt.Sprintf(`(%s) / (%s)`, expandWindow(r.Errors, window), total), nil
	}
	return "", fmt.Errorf("SLO %s has no SLI", s.Name)
}

// processSelector selects a servicex process's series: prometheus-operator
// names a PodMonitor's job <namespace>/<name>, and kube generate names the
// PodMonitor after the process.
func (s SLO) processSelector(process string) string {
	return fmt.Sprintf(`namespace=%q, job=%q`, s.Namespace, s.Namespace+"/"+process)
}

// WindowPlaceholder is where a custom SLI's range goes.
const WindowPlaceholder = "{{.window}}"

func expandWindow(expr, window string) string {
	return strings.ReplaceAll(expr, WindowPlaceholder, window)
}

// bucketMatcher matches the histogram bucket whose upper bound is the
// threshold. Prometheus 3 writes whole bounds as "1.0" where older versions
// and other exporters write "1", so whole numbers match both.
func bucketMatcher(threshold model.Duration) (string, error) {
	seconds := time.Duration(threshold).Seconds()
	for _, b := range sxc.DurationBuckets {
		if b != seconds {
			continue
		}
		v := strconv.FormatFloat(b, 'f', -1, 64)
		if !strings.Contains(v, ".") {
			return fmt.Sprintf(`le=~"%s(\\.0)?"`, v), nil
		}
		return fmt.Sprintf(`le=%q`, v), nil
	}
	return "", fmt.Errorf("the latency threshold %s is not a bucket bound of servicex's histogram; use one of %s", threshold, BucketList())
}

// BucketList names the latency thresholds an SLO may use.
func BucketList() string {
	var out []string
	for _, b := range sxc.DurationBuckets {
		if b > 1 && b != math.Trunc(b) { // 2500ms, not 2s500ms
			out = append(out, strconv.FormatFloat(b*1000, 'f', -1, 64)+"ms")
		} else {
			out = append(out, model.Duration(time.Duration(b*float64(time.Second))).String())
		}
	}
	return strings.Join(out, ", ")
}

// Rules are the SLO's recording rules and alerts, as one group: the error
// ratio over every burn-rate window and over the SLO's window (averaged from
// the 5m ratio, as Sloth does, so that a 30-day range of raw counters is never
// read), the budget left as a share and in minutes, and the page and ticket
// alerts.
func (s SLO) Rules() (alerts.Group, error) {
	budget, err := ErrorBudget(s.Objective)
	if err != nil {
		return alerts.Group{}, err
	}
	window := s.Window
	if window == 0 {
		window = DefaultWindow
	}
	if time.Duration(window) < MinWindow || time.Duration(window) > MaxWindow {
		return alerts.Group{}, fmt.Errorf("the window %s must be from 3d to 400d", window)
	}
	g := alerts.Group{Name: fmt.Sprintf("slo.%s.%s", s.App, s.Name), Interval: EvaluationInterval.String()}
	for _, w := range Windows {
		expr, err := s.ErrorRatio(w)
		if err != nil {
			return alerts.Group{}, err
		}
		g.Records = append(g.Records, alerts.Record{Record: RecordErrorRatio + w, Expr: expr, Labels: s.labels()})
	}
	sel, period := s.Selector(), window.String()
	objective, _ := ParseDecimal(s.Objective)
	g.Records = append(g.Records,
		alerts.Record{Record: RecordObjective, Expr: fmt.Sprintf("vector(%s)", Decimal(objective.Quo(objective, big.NewRat(100, 1)))),
			Labels: map[string]string{LabelApp: s.App, LabelSLO: s.Name, LabelWindow: period}},
		alerts.Record{Record: RecordErrorRatio + period, Labels: s.labels(),
			Expr: fmt.Sprintf(`sum_over_time(%s5m%s[%s]) / count_over_time(%s5m%s[%s])`, RecordErrorRatio, sel, period, RecordErrorRatio, sel, period)},
		alerts.Record{Record: RecordBudgetRemaining, Labels: s.labels(),
			Expr: fmt.Sprintf(`1 - %s%s%s / %s`, RecordErrorRatio, period, sel, Decimal(budget))},
	)
	minutes, _ := BudgetMinutes(s.Objective, window)
	g.Records = append(g.Records, alerts.Record{Record: RecordBudgetMinutes, Labels: s.labels(),
		Expr: fmt.Sprintf(`%s%s * %s`, RecordBudgetRemaining, sel, Decimal(minutes))})

	burn := s.Burn.withDefaults()
	page, err := s.burnExpr(budget, burn.Page, "1h", "5m", burn.PageSlow, "6h", "30m")
	if err != nil {
		return alerts.Group{}, err
	}
	ticket, err := s.burnExpr(budget, burn.Ticket, "1d", "2h", burn.TicketSlow, "3d", "6h")
	if err != nil {
		return alerts.Group{}, err
	}
	what := fmt.Sprintf("SLO %s of %s (%s%% over %s)", s.Name, s.App, s.Objective, period)
	g.Rules = []alerts.Rule{
		{Alert: AlertPage, Expr: page, Severity: "critical", Labels: s.labels(), Runbook: RunbookBase + "when-an-slo-alert-fires",
			Summary: what + ` burns its error budget fast: at this rate it is gone within days`,
			Description: fmt.Sprintf(`The error ratio is above %sx the budget over 1h and 5m, or %sx over 6h and 30m. `, burn.Page, burn.PageSlow) +
				fmt.Sprintf(`kube slo --app %s shows the budget left.`, s.App)},
		{Alert: AlertTicket, Expr: ticket, Severity: "warning", Labels: s.labels(), Runbook: RunbookBase + "when-an-slo-alert-fires",
			Summary: what + ` burns its error budget faster than the window allows`,
			Description: fmt.Sprintf(`The error ratio is above %sx the budget over 1d and 2h, or %sx over 3d and 6h. `, burn.Ticket, burn.TicketSlow) +
				fmt.Sprintf(`kube slo --app %s shows the budget left.`, s.App)},
	}
	return g, nil
}

// burnExpr is the workbook's multiwindow condition: the long window proves
// the burn is significant, the short one that it is still happening (so the
// alert resolves soon after a recovery).
func (s SLO) burnExpr(budget *big.Rat, fast, fastLong, fastShort, slow, slowLong, slowShort string) (string, error) {
	cond := func(factor, long, short string) (string, error) {
		f, err := ParseDecimal(factor)
		if err != nil {
			return "", fmt.Errorf("burn rate: %w", err)
		}
		threshold := Decimal(new(big.Rat).Mul(f, budget))
		return fmt.Sprintf(`(%s%s%s > %s and %s%s%s > %s)`,
			RecordErrorRatio, long, s.Selector(), threshold, RecordErrorRatio, short, s.Selector(), threshold), nil
	}
	a, err := cond(fast, fastLong, fastShort)
	if err != nil {
		return "", err
	}
	b, err := cond(slow, slowLong, slowShort)
	if err != nil {
		return "", err
	}
	return a + " or " + b, nil
}

func (b BurnRates) withDefaults() BurnRates {
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	return BurnRates{or(b.Page, DefaultBurnRates.Page), or(b.PageSlow, DefaultBurnRates.PageSlow),
		or(b.Ticket, DefaultBurnRates.Ticket), or(b.TicketSlow, DefaultBurnRates.TicketSlow)}
}
