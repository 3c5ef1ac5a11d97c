package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-idp/kube/internal/testsupport"
)

// A console with your cluster access never listens beyond this machine.
func TestConsoleListensLocallyOnly(t *testing.T) {
	isolate(t)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	testsupport.WriteFile(t, kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
	code, _, errOut := run(t, "console", "--kubeconfig", kubeconfig, "--listen", "0.0.0.0:0")
	if code != exitUsage || !strings.Contains(errOut, "listens on this machine only") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	code, _, errOut = run(t, "console", "--in-cluster")
	if code != exitUsage || !strings.Contains(errOut, "--in-cluster needs --cluster-name") {
		t.Errorf("--in-cluster without a name: exit %d: %s", code, errOut)
	}
}
