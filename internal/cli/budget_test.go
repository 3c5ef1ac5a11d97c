package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/generate"
)

// Without a Prometheus to ask, the freeze policy says so and lets the deploy
// through; an override reason that looks like a credential is refused; a
// cluster without the policy asks nothing.
func TestBudgetPolicyWithoutPrometheus(t *testing.T) {
	f, err := generate.LoadSpec("../generate/testdata/generators/slo/kube-generate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := func(specCluster, reason string) (string, string, error) {
		var errOut bytes.Buffer
		o := &DeployOptions{OverrideBudget: reason}
		o.IO = &IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}
		a := &app.App{Name: "shop", Namespace: "shop", Spec: f, SpecCluster: specCluster, Cluster: &cluster.Target{Name: specCluster, Entry: &cluster.Cluster{Name: specCluster}}}
		cause, err := o.budgetPolicy(context.Background(), a, time.Now())
		return cause, errOut.String(), err
	}
	cause, errOut, err := run("prod", "")
	if err != nil || cause != "deploy" || !strings.Contains(errOut, "Warning: the error budget policy (freeze) was not checked, deploying anyway") {
		t.Errorf("prod without Prometheus: %q, %v\n%s", cause, err, errOut)
	}
	if _, errOut, err := run("qa", ""); err != nil || errOut != "" {
		t.Errorf("qa has no policy: %v %s", err, errOut)
	}
	if _, _, err := run("prod", "password=hunter2hunter2"); err == nil || !strings.Contains(err.Error(), "credential") {
		t.Errorf("a credential as the reason: %v", err)
	}
}
