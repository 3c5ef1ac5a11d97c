package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/upgrade"
)

// The upgrade check reads manifests without a cluster (--offline); a cluster
// that cannot be reached is exit 3, not "blocked"; a missing --to is bad input.
func TestUpgradeCheckOfflineAndUnreachable(t *testing.T) {
	dir := unreachableCluster(t, "")
	repo := filepath.Join(dir, "shop")
	manifests := filepath.Join(repo, "kubernetes", "qa")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(manifests, "psp.yaml"), []byte("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\n"), 0o644)
	t.Chdir(dir) // no clusters/<cluster>/addons.yaml here

	if code, out, errOut := run(t, "upgrade", "check", "-c", "qa", repo); code != 2 || out != "" || !strings.Contains(errOut, "--to is required") {
		t.Errorf("no --to: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut := run(t, "upgrade", "check", "-c", "qa", "--to", "1.25", "--offline", "-o", "json", repo)
	var rep upgrade.Report
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 1 || rep.Findings[0].Object != "PodSecurityPolicy/restricted" {
		t.Errorf("offline at 1.25: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "upgrade", "check", "-c", "qa", "--to", "1.24", "--offline", repo); code != 0 || !strings.Contains(out, "DEPRECATED") {
		t.Errorf("offline at 1.24: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, "upgrade", "check", "-c", "qa", "--to", "1.25", repo); code != 3 || !strings.Contains(errOut, "--offline") {
		t.Errorf("unreachable: exit %d %s", code, errOut)
	}
	// No cluster named: offline, over every cluster's manifests.
	prod := filepath.Join(repo, "kubernetes", "prod")
	_ = os.MkdirAll(prod, 0o755)
	_ = os.WriteFile(filepath.Join(prod, "hpa.yaml"), []byte("apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\n"), 0o644)
	t.Setenv("KUBE_CLUSTER", "")
	code, out, errOut = run(t, "upgrade", "check", "--to", "1.26", "-o", "json", repo)
	rep = upgrade.Report{}
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Findings) != 2 || !strings.Contains(strings.Join(rep.Notes, " "), "offline") {
		t.Errorf("no cluster named: exit %d\n%s%s", code, out, errOut)
	}
}
