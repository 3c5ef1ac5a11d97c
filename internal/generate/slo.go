package generate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/alerts"
	"github.com/kube-idp/kube/internal/slo"
	"github.com/kube-idp/kube/internal/spec"
)

var sloKind = spec.Kind{Key: "slo", Doc: "Service level objectives: per objective, the SLI's error ratio recorded over the burn-rate windows, the error budget left, and multiwindow burn-rate alerts (page and ticket) routed like the app's other alerts. docs/slo.md.",
	New: func() spec.GeneratorSpec { return &SLOGen{} }}

// SLOGen writes the app's SLO rules as a PrometheusRule.
type SLOGen struct {
	spec.Common `yaml:",inline"`
	Objectives  []SLOObjective          `yaml:"objectives" required:"true" doc:"The objectives."`
	BurnRates   *SLOBurnRates           `yaml:"burnRates" doc:"Factors of the burn-rate alerts. Default: the SRE workbook's for 30 days (14.4, 6, 3, 1)."`
	Policy      spec.PerCluster[string] `yaml:"policy" doc:"Error budget policy: freeze (kube deploy refuses while an objective's budget for the calendar month is spent, unless --override-budget) or none. Per cluster. Default: none."`
	Loc         spec.Loc
}

// SLOObjective is one SLO.
type SLOObjective struct {
	Name      string                  `yaml:"name" required:"true" doc:"Name, e.g. availability; a label of the rules and alerts."`
	Objective spec.PerCluster[string] `yaml:"objective" required:"true" doc:"Share of good events in percent, e.g. 99.95 (kept exact). Per cluster."`
	Window    string                  `yaml:"window" doc:"Rolling window of the objective and the alerts' budget, e.g. 28d. Default: 30d."`
	SLI       *SLOIndicator           `yaml:"sli" doc:"What counts as an error. Default: availability of the file's servicex web process."`
	Loc       spec.Loc
}

// SLOIndicator is one of the three SLIs.
type SLOIndicator struct {
	Availability *SLOProcess `yaml:"availability" doc:"Share of a servicex web process's requests answered without a 5xx."`
	Latency      *SLOLatency `yaml:"latency" doc:"Share of a servicex web process's requests answered within a threshold."`
	Ratio        *SLORatio   `yaml:"ratio" doc:"A custom ratio: errors/total or good/total, PromQL with {{.window}} for the range."`
	Loc          spec.Loc
}

// SLOProcess names a servicex web process.
type SLOProcess struct {
	Process string `yaml:"process" doc:"The web entry's name. Default: the file's only servicex web process."`
	Loc     spec.Loc
}

// SLOLatency is a latency SLI.
type SLOLatency struct {
	Process   string `yaml:"process" doc:"The web entry's name. Default: the file's only servicex web process."`
	Threshold string `yaml:"threshold" required:"true" doc:"A bucket bound of servicex's histogram: 5ms, 10ms, 25ms, 50ms, 75ms, 100ms, 250ms, 500ms, 750ms, 1s, 2500ms, 5s, 7500ms or 10s."`
	Loc       spec.Loc
}

// SLORatio is a custom SLI.
type SLORatio struct {
	Errors string `yaml:"errors" doc:"PromQL counting bad events over {{.window}}, e.g. sum(rate(payments_total{result=\"failed\"}[{{.window}}]))."`
	Good   string `yaml:"good" doc:"PromQL counting good events over {{.window}} (instead of errors)."`
	Total  string `yaml:"total" required:"true" doc:"PromQL counting all events over {{.window}}."`
	Loc    spec.Loc
}

// SLOBurnRates are the alerts' factors, exact decimals.
type SLOBurnRates struct {
	Page       string `yaml:"page" doc:"Over 1h and 5m. Default: 14.4 (2% of a 30-day budget in an hour)."`
	PageSlow   string `yaml:"pageSlow" doc:"Over 6h and 30m. Default: 6."`
	Ticket     string `yaml:"ticket" doc:"Over 1d and 2h. Default: 3."`
	TicketSlow string `yaml:"ticketSlow" doc:"Over 3d and 6h. Default: 1."`
	Loc        spec.Loc
}

func (s *SLOGen) Base() *spec.Common   { return &s.Common }
func (s *SLOGen) Describe() string     { return "slo" }
func (s *SLOGen) Default(f *spec.File) {}

// PolicyFreeze stops releases while a budget is spent.
const PolicyFreeze = "freeze"

// FrozenObjectives are the objectives whose spent budget stops a release
// to the spec cluster (the kubernetes/<cluster>/ directory deployed).
func FrozenObjectives(f *spec.File, cluster string) []string {
	var out []string
	for _, g := range f.Generates {
		s, ok := g.Spec.(*SLOGen)
		if !ok || !slices.Contains(s.Clusters, cluster) || s.Policy.For(cluster) != PolicyFreeze {
			continue
		}
		for _, o := range s.Objectives {
			out = append(out, o.Name)
		}
	}
	return out
}

// sloObjectName names the PrometheusRule of an app's SLOs.
const sloObjectName = "slo"

func (s *SLOGen) Validate(v *spec.Validator) {
	f := v.File()
	v.Common(v.Entry(), &s.Common, "slo", "PrometheusRule", f.App+"-"+sloObjectName)
	if len(s.Objectives) == 0 {
		v.Errorf(s.Loc.At("objectives"), "slo: list at least one objective")
	}
	v.PerCluster(s.Policy.Loc)
	for _, cl := range s.Clusters {
		if p := s.Policy.For(cl); p != "" && p != PolicyFreeze && p != "none" {
			v.Errorf(s.Policy.Loc.At(cl), "policy %q must be freeze or none", p)
			break
		}
	}
	if b := s.BurnRates; b != nil {
		for key, val := range map[string]string{"page": b.Page, "pageSlow": b.PageSlow, "ticket": b.Ticket, "ticketSlow": b.TicketSlow} {
			if val == "" {
				continue
			}
			if r, err := slo.ParseDecimal(val); err != nil || r.Sign() == 0 {
				v.Errorf(b.Loc.At(key), "burn rate %q must be a positive decimal such as 14.4", val)
			}
		}
	}
	names := map[string]bool{}
	for i := range s.Objectives {
		o := &s.Objectives[i]
		v.Name(o.Loc, "name", o.Name)
		if names[o.Name] {
			v.Errorf(o.Loc.At("name"), "objective %q is defined twice: give one another name", o.Name)
		}
		names[o.Name] = true
		v.PerCluster(o.Objective.Loc)
		for _, cl := range s.Clusters {
			if _, err := slo.ErrorBudget(o.Objective.For(cl)); err != nil {
				if len(o.Objective.Clusters) > 0 {
					err = fmt.Errorf("%s: %w", spec.ClusterLabel(cl), err)
				}
				v.Errorf(o.Objective.Loc.At(cl), "objective: %v", err)
				break
			}
		}
		if o.Window != "" {
			w, err := model.ParseDuration(o.Window)
			if err != nil || w < model.Duration(slo.MinWindow) || w > model.Duration(slo.MaxWindow) {
				v.Errorf(o.Loc.At("window"), "window %q must be a duration from 3d to 400d, such as 30d or 28d", o.Window)
			}
		}
		s.validateSLI(v, f, o)
	}
}

func (s *SLOGen) validateSLI(v *spec.Validator, f *spec.File, o *SLOObjective) {
	sli := o.SLI
	if sli == nil {
		if _, ok := servicexProcess(f, ""); !ok {
			v.Errorf(o.Loc.Pos, "objective %s: no sli, and the file has not exactly one web process with servicex: true to measure; set sli:", o.Name)
		}
		return
	}
	set := 0
	for _, p := range []bool{sli.Availability != nil, sli.Latency != nil, sli.Ratio != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		v.Errorf(sli.Loc.Pos, "sli: set exactly one of availability, latency and ratio")
		return
	}
	process := func(l spec.Loc, name string) {
		if _, ok := servicexProcess(f, name); !ok && name == "" {
			v.Errorf(l.Pos, "the file has not exactly one web process with servicex: true: name the process")
		} else if !ok {
			v.Errorf(l.At("process"), "%q is not a web process of this file with servicex: true (its metrics are the SLI)", name)
		}
	}
	switch {
	case sli.Availability != nil:
		process(sli.Availability.Loc, sli.Availability.Process)
	case sli.Latency != nil:
		l := sli.Latency
		process(l.Loc, l.Process)
		d, err := model.ParseDuration(l.Threshold)
		if err != nil {
			v.Errorf(l.Loc.At("threshold"), "threshold %q is not a duration such as 250ms", l.Threshold)
		} else if _, err := (slo.SLO{SLI: slo.SLI{Latency: &slo.Latency{Threshold: d}}}).ErrorRatio("5m"); err != nil {
			v.Errorf(l.Loc.At("threshold"), "%v", err)
		}
	case sli.Ratio != nil:
		r := sli.Ratio
		if (r.Errors == "") == (r.Good == "") {
			v.Errorf(r.Loc.Pos, "ratio: set errors or good (not both), and total")
		}
		for key, expr := range map[string]string{"errors": r.Errors, "good": r.Good, "total": r.Total} {
			if expr == "" {
				continue
			}
			if !strings.Contains(expr, slo.WindowPlaceholder) {
				v.Errorf(r.Loc.At(key), "%s must use %s for its range, e.g. sum(rate(requests_total[%s])): each burn-rate window fills it in", key, slo.WindowPlaceholder, slo.WindowPlaceholder)
				continue
			}
			e, err := alerts.Parser.ParseExpr(strings.ReplaceAll(expr, slo.WindowPlaceholder, "5m"))
			if err != nil {
				v.Errorf(r.Loc.At(key), "%s does not parse: %v", key, err)
			} else if e.Type() != parser.ValueTypeVector {
				v.Errorf(r.Loc.At(key), "%s must return an instant vector, not a %s", key, e.Type())
			}
		}
	}
}

// servicexProcess finds the servicex web process named name, or the only
// one when name is empty.
func servicexProcess(f *spec.File, name string) (string, bool) {
	var found []string
	for _, g := range f.Generates {
		w, ok := g.Spec.(*WebGen)
		if !ok || !w.Servicex {
			continue
		}
		n := w.Name
		if n == "" {
			n = f.App
		}
		if name == "" || n == name {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// core is the objective resolved for one cluster.
func (s *SLOGen) core(f *spec.File, o *SLOObjective, cluster string) slo.SLO {
	out := slo.SLO{Name: o.Name, App: f.App, Namespace: f.Namespace, Objective: o.Objective.For(cluster)}
	if o.Window != "" {
		out.Window, _ = model.ParseDuration(o.Window)
	}
	if b := s.BurnRates; b != nil {
		out.Burn = slo.BurnRates{Page: b.Page, PageSlow: b.PageSlow, Ticket: b.Ticket, TicketSlow: b.TicketSlow}
	}
	process := func(name string) string { p, _ := servicexProcess(f, name); return p }
	switch sli := o.SLI; {
	case sli == nil:
		out.SLI.Availability = &slo.Availability{Process: process("")}
	case sli.Availability != nil:
		out.SLI.Availability = &slo.Availability{Process: process(sli.Availability.Process)}
	case sli.Latency != nil:
		d, _ := model.ParseDuration(sli.Latency.Threshold)
		out.SLI.Latency = &slo.Latency{Process: process(sli.Latency.Process), Threshold: d}
	case sli.Ratio != nil:
		out.SLI.Ratio = &slo.Ratio{Errors: sli.Ratio.Errors, Good: sli.Ratio.Good, Total: sli.Ratio.Total}
	}
	return out
}

func (s *SLOGen) Objects(b *builder) ([]runtime.Object, error) {
	f := b.f
	var groups []alerts.Group
	for i := range s.Objectives {
		g, err := s.core(f, &s.Objectives[i], b.cluster).Rules()
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	m := b.meta(f.App+"-"+sloObjectName, "slo")
	m.Labels[alerts.LabelRuleSelector] = "true"
	return []runtime.Object{alerts.PrometheusRule(m, groups)}, nil
}
