package cli

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/monitoring"
	"github.com/kube-idp/kube/internal/slo"
	"github.com/kube-idp/kube/internal/spec"
)

// SLOOptions are kube slo's.
type SLOOptions struct {
	IO         *IOStreams
	App        app.Flags
	All        bool
	Output     string
	Prometheus string
	Now        func() time.Time
	// Resolve finds the app (and its cluster); ResolveCluster the cluster
	// alone, for --all.
	Resolve        func(app.Flags, app.Need) (*app.App, error)
	ResolveCluster func() (*cluster.Target, *spec.File, error)
}

func newSLOCmd(f *Factory, runF func(context.Context, *SLOOptions) error) *cobra.Command {
	o := &SLOOptions{IO: f.IO, Resolve: f.ResolveApp, ResolveCluster: f.ResolveCluster, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "slo",
		Short: "The app's SLOs and error budgets: SLI, budget consumed and left this month, burn rates",
		Long: `kube slo shows each SLO of the app on the cluster, from the series its rules
record in Prometheus (kube generate writes them from the slo entry of
kube-generate.yaml): the objective, the SLI this calendar month, the month's
error budget in minutes ((1 - objective) x the month), how much is consumed and
left, the burn rate over each alerting window (1 spends exactly the budget),
and when the budget runs out at the last hour's rate.

The report and the release policy use the calendar month (UTC); the burn-rate
alerts use the SLO's rolling window. See docs/slo.md.`,
		Example: `  kube slo -c prod
  kube slo -c prod --all
  kube slo --app shop -n shop -c prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return or(runF, runSLO)(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.App.Name, "app", "", "app name (default: app of "+spec.FileName+")")
	cmd.Flags().StringVarP(&o.App.Namespace, "namespace", "n", "", "the app's namespace (default: the spec's, else the app's name)")
	cmd.Flags().BoolVar(&o.All, "all", false, "every app's SLOs on the cluster")
	cmd.Flags().StringVar(&o.Prometheus, "prometheus", "", "Prometheus URL (default: the cluster registry's)")
	outputFlag(cmd, &o.Output)
	return cmd
}

func runSLO(ctx context.Context, o *SLOOptions) error {
	var (
		target          *cluster.Target
		namespace, name string
	)
	if o.All {
		t, _, err := o.ResolveCluster()
		if err != nil {
			return err
		}
		target = t
	} else {
		a, err := o.Resolve(o.App, app.NeedDeployed)
		if err != nil {
			return err
		}
		target, namespace, name = a.Cluster, a.Namespace, a.Name
	}
	api := &monitoring.API{Prometheus: o.Prometheus}
	if target.Entry != nil {
		api.Prometheus = cmp.Or(api.Prometheus, target.Entry.Prometheus)
	}
	statuses, err := slo.Statuses(ctx, api, namespace, name, o.Now())
	if err != nil {
		return err
	}
	if done, err := o.IO.structured(o.Output, statuses); done || err != nil {
		return err
	}
	if len(statuses) == 0 {
		what := "the cluster"
		if !o.All {
			what = fmt.Sprintf("app %s in namespace %s", name, namespace)
		}
		fmt.Fprintf(o.IO.Out, "No SLO of %s on %s: add an slo entry to %s and deploy its rules (docs/slo.md).\n", what, target.Name, spec.FileName)
		return nil
	}
	t := o.IO.newTable("APP", "SLO", "OBJECTIVE", "SLI MONTH / WINDOW", "BUDGET", "CONSUMED", "LEFT", "BURN 1h / 6h / 3d", "EXHAUSTED IN")
	for _, s := range statuses {
		percent := func(p *float64) string {
			if p == nil {
				return "no data"
			}
			return fmt.Sprintf("%.3f%%", *p)
		}
		sli := percent(s.SLI) + " / " + percent(s.WindowSLI)
		burn := make([]string, 0, 3)
		for _, win := range []string{"1h", "6h", "3d"} {
			if r, ok := s.BurnRates[win]; ok {
				burn = append(burn, fmt.Sprintf("%.2fx", r))
			} else {
				burn = append(burn, "-")
			}
		}
		left := fmt.Sprintf("%.1f min (%.0f%%)", s.RemainingMinutes, 100*s.RemainingShare)
		if s.Spent() {
			left = fmt.Sprintf("SPENT (%.1f min over)", -s.RemainingMinutes)
		}
		exhausted := "-"
		if s.ExhaustedIn != nil {
			exhausted = duration.HumanDuration(*s.ExhaustedIn)
		}
		t.row(s.App, s.SLO, s.Objective+"% / "+s.Window, sli, fmt.Sprintf("%.1f min", s.BudgetMinutes), fmt.Sprintf("%.1f min", s.ConsumedMinutes), left, strings.Join(burn, " / "), exhausted)
	}
	if err := t.print(); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "Budgets of %s (UTC calendar month); burn rates over rolling windows.\n", statuses[0].Month)
	return nil
}
