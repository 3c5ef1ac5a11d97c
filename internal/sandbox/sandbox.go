// Package sandbox runs a local Kubernetes cluster made of real components (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) with kwok fake nodes,
// built from the Go module proxy and started with kwokctl's binary runtime.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-idp/kube/config"
	"github.com/kube-idp/kube/internal/progress"
)

// DefaultName is the sandbox that `-c local` talks to.
const DefaultName = "local"

// DefaultNodes is how many fake nodes `up` registers.
const DefaultNodes = 2

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// Sandbox is one named local cluster and the directory holding all its files.
type Sandbox struct {
	Name string
	Dir  string // <state root>/sandbox/<name>; `down` removes it
}

// ErrInvalidName is a sandbox name that cannot be one (bad input).
var ErrInvalidName = errors.New("invalid sandbox name")

// Open resolves the directories of the named sandbox; it starts nothing.
func Open(name string) (*Sandbox, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("%w %q: use lowercase letters, digits and '-', at most 32 characters", ErrInvalidName, name)
	}
	root, err := StateRoot()
	if err != nil {
		return nil, err
	}
	return &Sandbox{Name: name, Dir: filepath.Join(root, "sandbox", name)}, nil
}

// KubeconfigPath is the admin kubeconfig of the sandbox (exists while it is up).
func (s *Sandbox) KubeconfigPath() string { return filepath.Join(s.Dir, "kubeconfig") }

// kwokDir is KWOK_WORKDIR for kwokctl, so that it keeps nothing under ~/.kwok.
func (s *Sandbox) kwokDir() string { return filepath.Join(s.Dir, "kwok") }

func (s *Sandbox) clusterDir() string { return filepath.Join(s.kwokDir(), "clusters", s.Name) }

func (s *Sandbox) lockPath() string { return s.Dir + ".lock" }

// LogDir holds one log file per component.
func (s *Sandbox) LogDir() string { return filepath.Join(s.clusterDir(), "logs") }

// UpOptions tunes `up`.
type UpOptions struct {
	// Port for the API server; 0 picks a free one.
	Port int
	// Nodes is the number of fake nodes; 0 means DefaultNodes.
	Nodes int
	// Progress receives what is happening; nil is silent.
	Progress *progress.Reporter
}

// Up starts the sandbox unless it is already running (then it returns true and
// changes nothing). On failure it leaves the files for diagnosis; Down removes them.
func (s *Sandbox) Up(ctx context.Context, opts UpOptions) (alreadyUp bool, err error) {
	p := opts.Progress
	if opts.Nodes == 0 {
		opts.Nodes = DefaultNodes
	}
	if why := supported(); why != "" {
		return false, errors.New(why)
	}
	if err := os.MkdirAll(filepath.Dir(s.Dir), 0o755); err != nil {
		return false, err
	}
	unlock, err := lockFile(ctx, s.lockPath())
	if err != nil {
		return false, err
	}
	defer unlock()

	st := s.Status(ctx)
	if st.State == StateRunning {
		return true, nil
	}
	if opts.Port != 0 {
		if err := checkPortFree(opts.Port); err != nil {
			return false, err
		}
	}
	comps, err := EnsureComponents(ctx, p)
	if err != nil {
		return false, err
	}
	if st.State != StateStopped {
		p.Printf("Removing what is left of a previous sandbox %q (%s).", s.Name, st.State)
		if err := s.teardown(ctx, comps); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(s.kwokDir(), 0o755); err != nil {
		return false, err
	}
	defer func() {
		if err != nil && ctx.Err() != nil {
			// Interrupted: remove the half-started cluster rather than leave it behind.
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if terr := s.teardown(cctx, comps); terr != nil {
				err = fmt.Errorf("interrupted (%w); removing the partly started sandbox failed: %v", ctx.Err(), terr)
			} else {
				err = fmt.Errorf("interrupted (%w); removed the partly started sandbox", ctx.Err())
			}
		}
	}()
	p.Printf("Starting sandbox %q (Kubernetes %s) in %s.", s.Name, KubernetesVersion, s.Dir)
	err = p.Step("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok", func() error {
		return s.create(ctx, comps, opts.Port)
	})
	if err != nil {
		return false, err
	}
	c, err := s.clients()
	if err != nil {
		return false, err
	}
	// kwokctl reports ready from its own probe; make sure our client is answered too.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return checkReady(ctx, c.cfg) == nil, nil
	}); err != nil {
		return false, s.withDiagnosis(fmt.Errorf("the API server did not become ready: %w", err))
	}
	err = p.Step(fmt.Sprintf("registering %d fake nodes and waiting until they are Ready", opts.Nodes), func() error {
		return c.registerNodes(ctx, opts.Nodes)
	})
	if err != nil {
		return false, s.withDiagnosis(err)
	}
	err = p.Step("installing the CRDs of kube, Gateway API, Istio and prometheus-operator", func() error {
		return c.installCRDs(ctx, config.CRDs(), os.DirFS(comps.CRDDir()))
	})
	if err != nil {
		return false, s.withDiagnosis(err)
	}
	err = p.Step("waiting for the default service account", func() error {
		return c.waitDefaultServiceAccount(ctx)
	})
	return false, s.withDiagnosis(err)
}

// create runs `kwokctl create cluster` with the cached binaries and the
// sandbox's kwok stages, then stamps the sandbox with its configuration.
func (s *Sandbox) create(ctx context.Context, comps Components, port int) error {
	podLogPath := filepath.Join(s.Dir, "pod.log")
	if err := os.WriteFile(podLogPath, []byte(podLog(time.Now())), 0o644); err != nil {
		return err
	}
	execDir := filepath.Join(s.Dir, "exec")
	if err := os.MkdirAll(execDir, 0o755); err != nil {
		return err
	}
	cfg, err := kwokConfig(podLogPath, execDir)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(s.Dir, "kwokctl-config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	args := []string{
		"create", "cluster",
		"--config", cfgPath,
		"--name", s.Name,
		"--runtime", "binary",
		"--etcd-binary", comps.Bin("etcd"),
		"--kube-apiserver-binary", comps.Bin("kube-apiserver"),
		"--kube-controller-manager-binary", comps.Bin("kube-controller-manager"),
		"--kube-scheduler-binary", comps.Bin("kube-scheduler"),
		"--kwok-controller-binary", comps.Bin("kwok"),
		"--kubeconfig", s.KubeconfigPath(),
		"--kube-authorization=true",
		"--wait", "2m",
	}
	if port != 0 {
		args = append(args, "--kube-apiserver-port", strconv.Itoa(port))
	}
	if err := s.kwokctl(ctx, comps, args...); err != nil {
		return s.withDiagnosis(err)
	}
	return os.WriteFile(s.stampPath(), []byte(configStamp()), 0o644)
}

func (s *Sandbox) stampPath() string { return filepath.Join(s.Dir, "stamp") }

// configStamp identifies everything that shapes a running sandbox: a sandbox
// started by another kube version is restarted by `up` rather than reused.
func configStamp() string {
	cfg, _ := kwokConfig("POD-LOG", "EXEC-DIR") // the paths differ per sandbox; the shape does not
	h := sha256.New()
	h.Write([]byte(CacheKey() + "\n" + cfg + "\nnode pods " + nodePods))
	// kube's own CRDs change with the code, not with the components.
	files, _ := fs.Glob(config.CRDs(), "*.yaml")
	for _, f := range files {
		data, _ := fs.ReadFile(config.CRDs(), f)
		h.Write(data)
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:8]) + "\n"
}

// kwokctl runs kwokctl confined to the sandbox directory, logging to kwokctl.log.
func (s *Sandbox) kwokctl(ctx context.Context, comps Components, args ...string) error {
	logPath := filepath.Join(s.Dir, "kwokctl.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n$ kwokctl %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, comps.Bin("kwokctl"), args...)
	// HOME too: kwokctl caches discovery in ~/.kube/cache, and the user's home is
	// not ours to write; everything stays in the sandbox directory.
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+s.kwokDir(), "HOME="+s.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("kwokctl %s %s failed: %w\n%s\nfull log: %s", args[0], args[1], err, indent(tailFile(logPath, 15)), logPath)
	}
	return nil
}

// Down stops every process of the sandbox and removes all its files. It returns
// false when there was nothing to stop.
func (s *Sandbox) Down(ctx context.Context) (bool, error) {
	if _, err := os.Stat(s.Dir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	unlock, err := lockFile(ctx, s.lockPath())
	if err != nil {
		return false, err
	}
	defer func() {
		unlock()
		_ = os.Remove(s.lockPath())
		// The parents only if empty: other sandboxes may live there.
		_ = os.Remove(filepath.Dir(s.Dir))
		_ = os.Remove(filepath.Dir(filepath.Dir(s.Dir)))
	}()
	comps, _, err := CachedComponents()
	if err != nil {
		return false, err
	}
	return true, s.teardown(ctx, comps)
}

// teardown asks kwokctl to delete the cluster, then ends any component still
// running (kwokctl may be gone or have failed), then removes the directory.
func (s *Sandbox) teardown(ctx context.Context, comps Components) error {
	if _, err := os.Stat(comps.Bin("kwokctl")); err == nil {
		if _, err := os.Stat(s.clusterDir()); err == nil {
			_ = s.kwokctl(ctx, comps, "delete", "cluster", "--name", s.Name)
		}
	}
	if err := s.stopProcesses(10 * time.Second); err != nil {
		return err
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return fmt.Errorf("removing %s: %w", s.Dir, err)
	}
	return nil
}

// Processes are the ids of the sandbox's components that run, from kwokctl's
// pid files (no /proc scan: the same on macOS as on Linux).
func (s *Sandbox) Processes() []int {
	var pids []int
	for _, c := range s.components() {
		if c.Running {
			pids = append(pids, c.PID)
		}
	}
	return pids
}

// stopProcesses asks the sandbox's components to stop, then kills those still
// running after grace.
func (s *Sandbox) stopProcesses(grace time.Duration) error {
	pids := s.Processes()
	for _, pid := range pids {
		terminate(pid)
	}
	deadline := time.Now().Add(grace)
	for len(pids) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		pids = s.Processes()
	}
	for _, pid := range pids {
		kill(pid)
	}
	time.Sleep(100 * time.Millisecond)
	if left := s.Processes(); len(left) > 0 {
		return fmt.Errorf("processes %v of the sandbox did not stop", left)
	}
	return nil
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is in use by another process (%v): stop it, or choose another port with --port (0 picks a free one)", port, err)
	}
	return l.Close()
}
