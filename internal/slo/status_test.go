package slo

import (
	"math"
	"testing"
	"time"
)

// The worked example of docs/slo.md: 99.95% in November (30 days) allows
// 21.6 minutes; 5.4 bad minutes leave 16.2 (75%); at the last hour's 0.5%
// errors (10x) they last 54 hours.
func TestComputeBudget(t *testing.T) {
	st, err := Compute(Inputs{
		Objective: 0.9995, Window: "30d",
		Ratios:      map[string]float64{"5m": 0.01, "1h": 0.005, "30d": 0.0001},
		ConsumedSum: 5.4, Samples: 1000, HasData: true,
		Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if st.Objective != "99.95" || st.Month != "2026-11" || !near(st.BudgetMinutes, 21.6) || !near(st.ConsumedMinutes, 5.4) ||
		!near(st.RemainingMinutes, 16.2) || !near(st.RemainingShare, 0.75) || st.Spent() {
		t.Errorf("budget: %+v", st)
	}
	if st.SLI == nil || !near(*st.SLI, 99.46) {
		t.Errorf("SLI = %v, want 99.46", st.SLI)
	}
	if st.WindowSLI == nil || !near(*st.WindowSLI, 99.99) {
		t.Errorf("window SLI = %v, want 99.99", st.WindowSLI)
	}
	if !near(st.BurnRates["1h"], 10) || !near(st.BurnRates["5m"], 20) || !near(st.BurnRates["30d"], 0.2) {
		t.Errorf("burn rates = %v", st.BurnRates)
	}
	if st.ExhaustedIn == nil || *st.ExhaustedIn != 54*time.Hour {
		t.Errorf("exhausted in %v, want 54h", st.ExhaustedIn)
	}

	// February 2027 has 28 days: 99.9% allows 40.32 minutes; 50 are spent.
	st, _ = Compute(Inputs{Objective: 0.999, ConsumedSum: 50, Samples: 60, HasData: true, Ratios: map[string]float64{"1h": 0},
		Now: time.Date(2027, 2, 3, 0, 0, 0, 0, time.UTC)})
	if !near(st.BudgetMinutes, 40.32) || !st.Spent() || st.ExhaustedIn != nil {
		t.Errorf("spent budget: %+v", st)
	}
}
