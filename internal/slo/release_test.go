package slo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// fakePrometheus answers Statuses' four queries for one SLO of app shop.
type fakePrometheus struct {
	consumed float64 // the month's sum of 5-minute error ratios (one a minute)
	err      error
}

func (f fakePrometheus) Query(_ context.Context, expr string, _ time.Time) (model.Vector, error) {
	if f.err != nil {
		return nil, f.err
	}
	m := model.Metric{LabelApp: "shop", LabelSLO: "availability", "namespace": "shop", LabelWindow: "30d"}
	switch {
	case strings.HasPrefix(expr, RecordObjective):
		return model.Vector{{Metric: m, Value: 0.999}}, nil
	case strings.HasPrefix(expr, "sum_over_time("):
		return model.Vector{{Metric: m, Value: model.SampleValue(f.consumed)}}, nil
	case strings.HasPrefix(expr, "count_over_time("):
		return model.Vector{{Metric: m, Value: 60 * 24 * 3}}, nil
	}
	return nil, nil
}

// The freeze policy refuses a release on a spent budget unless overridden (the
// reason is in the cause); monitoring that cannot answer, or has no data yet,
// is a warning and never a refusal; without frozen objectives nothing is asked.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	r := Release{Namespace: "shop", App: "shop", Frozen: []string{"availability"}, Now: now}
	if d := Decide(context.Background(), fakePrometheus{consumed: 1}, r); d.Refused || d.Cause != "deploy" || d.Spent != "" {
		t.Errorf("budget left: %+v", d)
	}
	d := Decide(context.Background(), fakePrometheus{consumed: 500}, r)
	if !d.Refused || !strings.HasPrefix(d.Spent, "availability (500.0 of 44.6 minutes consumed in 2026-12)") {
		t.Errorf("spent: %+v", d)
	}
	r.Override = "hotfix for INC-42"
	if d := Decide(context.Background(), fakePrometheus{consumed: 500}, r); d.Refused || d.Cause != "deploy, overriding the spent error budget of availability: hotfix for INC-42" {
		t.Errorf("override: %+v", d)
	}
	r.Override = ""
	if d := Decide(context.Background(), fakePrometheus{err: errors.New("connection refused")}, r); d.Refused || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "connection refused") {
		t.Errorf("Prometheus down: %+v", d)
	}
	r.Frozen = []string{"latency"}
	if d := Decide(context.Background(), fakePrometheus{consumed: 500}, r); d.Refused || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "no data of SLO latency") {
		t.Errorf("no data: %+v", d)
	}
	r.Frozen = nil
	if d := Decide(context.Background(), fakePrometheus{err: errors.New("asked")}, r); d.Refused || len(d.Warnings) != 0 {
		t.Errorf("no policy: %+v", d)
	}
}
