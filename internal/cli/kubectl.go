package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-idp/kube/internal/cluster"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/spec"
)

// KubectlOptions are kube kubectl's.
type KubectlOptions struct {
	IO      *IOStreams
	Args    []string
	Resolve func() (*cluster.Target, *spec.File, error)
}

func newKubectlCmd(f *Factory, runF func(context.Context, *KubectlOptions) error) *cobra.Command {
	o := &KubectlOptions{IO: f.IO, Resolve: f.ResolveCluster}
	cmd := &cobra.Command{
		Use:     "kubectl [ARGS...]",
		Aliases: []string{"k"},
		Short:   "Run kubectl against the chosen cluster (everything kubectl can do, through kube)",
		Long: `Run your kubectl with a temporary kubeconfig for the chosen cluster: kube's flags
go before "kubectl", and everything from kubectl's verb on goes to kubectl unchanged
(so kubectl's own flags come after the verb: kube kubectl get pods -n billing), and kube exits
with kubectl's exit code (125-127 when kube itself failed: docs/exit-codes.md). The
temporary kubeconfig is private (mode 0600) and removed when kubectl ends, also on
Ctrl-C or any other signal. Your ~/.kube/config is neither read nor changed.
On a protected cluster, every command that is not a known read needs confirmation.`,
		Example: `  kube -c qa kubectl get pods -n billing
  kube -c local k describe node kwok-node-1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runKubectlCmd(o)
		},
	}
	// kube's flags stop at kubectl's verb; everything from there goes to kubectl.
	cmd.Flags().SetInterspersed(false)
	cmd.Annotations = map[string]string{passThrough: "kubectl"}
	return cmd
}

func runKubectlCmd(o *KubectlOptions) error {
	kubectl, err := findKubectl()
	if err != nil {
		return err
	}
	t, _, err := o.Resolve()
	if err != nil {
		return err
	}
	if !cluster.KubectlIsReadOnly(o.Args) {
		what, _ := cluster.KubectlCommand(o.Args)
		if err := o.IO.guard(t, false, cluster.Action{What: "run kubectl " + what, TerminalOnly: true}); err != nil {
			return err
		}
	}
	code, err := runKubectl(o.IO, kubectl, t, o.Args)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// findKubectl is the user's kubectl, else the one built with the sandbox.
func findKubectl() (string, error) {
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p, nil
	}
	if comps, ok, _ := sandbox.CachedComponents(); ok {
		return comps.Bin("kubectl"), nil
	}
	return "", childError{errors.New("kubectl is not installed or not on PATH: install it (https://kubernetes.io/docs/tasks/tools/), or run kube sandbox up once, which builds one, and run again"), exitNotFound}
}

// kubeconfigPattern names kube's temporary kubeconfigs; the first * is the
// process id of the kube that wrote it.
const kubeconfigPattern = "kube-kubeconfig-%d-*.yaml"

// runKubectl writes the cluster's kubeconfig to a private temporary file, runs
// kubectl with it, and removes it whatever happens.
func runKubectl(streams *IOStreams, kubectl string, t *cluster.Target, args []string) (int, error) {
	// kubectl gets the signals (a terminal sends Ctrl-C to both); kube waits for it
	// to end so that the file is removed only then, and passes on what it alone got:
	// every catchable signal, SIGQUIT included. Caught from before the file
	// exists, so no signal can skip the removal.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	removeStaleKubeconfigs()
	f, err := os.CreateTemp("", fmt.Sprintf(kubeconfigPattern, os.Getpid()))
	if err != nil {
		return 0, err
	}
	path := f.Name()
	defer os.Remove(path)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return 0, err
	}
	data, err := clientcmd.Write(*t.Kubeconfig)
	if err != nil {
		f.Close()
		return 0, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	c := exec.Command(kubectl, append([]string{"--kubeconfig", path}, args...)...)
	c.Stdin, c.Stdout, c.Stderr = streams.In, streams.Out, streams.ErrOut
	c.Env = append(os.Environ(), "KUBECONFIG="+path)
	c.SysProcAttr = childAttributes()
	if err := c.Start(); err != nil {
		return 0, childError{fmt.Errorf("starting kubectl: %w", err), exitCannotRun}
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	for {
		select {
		case s := <-sigs:
			if forwardable(s) {
				_ = c.Process.Signal(s)
			}
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ee.ExitCode(), nil
			}
			return 0, err
		}
	}
}

// removeStaleKubeconfigs removes the temporary kubeconfigs of kube processes
// that no longer exist (killed with SIGKILL, which no program can catch).
func removeStaleKubeconfigs() {
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), "kube-kubeconfig-*-*.yaml"))
	for _, f := range files {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(f), "kube-kubeconfig-%d-", &pid); err == nil && pid > 0 && pid != os.Getpid() && processGone(pid) {
			_ = os.Remove(f)
		}
	}
}
