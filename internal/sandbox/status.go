package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// State of a sandbox.
const (
	StateRunning = "running" // every component runs and the API server is ready
	StateStopped = "stopped" // nothing of it exists
	StateBroken  = "broken"  // files exist but a component is not running or not ready
	// StateOutdated is a running sandbox started by another version of kube
	// (other components or kwok stages); `up` restarts it.
	StateOutdated = "outdated"
)

// Status is what `kube sandbox status` reports.
type Status struct {
	Name       string            `json:"name"`
	State      string            `json:"state"`
	Server     string            `json:"server,omitempty"`
	Kubeconfig string            `json:"kubeconfig,omitempty"`
	Version    string            `json:"version,omitempty"`
	Components []ComponentStatus `json:"components,omitempty"`
	Nodes      []NodeStatus      `json:"nodes,omitempty"`
	// Problems explain a broken state, with log excerpts and log paths.
	Problems []string `json:"problems,omitempty"`
}

// ComponentStatus is one process of the sandbox.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Log     string `json:"log"`
}

// NodeStatus is one (fake) node.
type NodeStatus struct {
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Version string `json:"version"`
}

// Status inspects the sandbox's processes and asks its API server whether it is
// ready. It is fast (a few file reads and one HTTP request) and never fails: what
// goes wrong is reported in Problems.
func (s *Sandbox) Status(ctx context.Context) Status {
	st := Status{Name: s.Name, State: StateStopped}
	if _, err := os.Stat(s.Dir); err != nil {
		return st
	}
	st.State = StateBroken
	st.Components = s.components()
	st.Problems = s.deadComponentReports(st.Components)
	if len(st.Components) == 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("no component is running (the start did not finish or was interrupted); see %s", filepath.Join(s.Dir, "kwokctl.log")))
	}
	if _, err := os.Stat(s.KubeconfigPath()); err == nil {
		st.Kubeconfig = s.KubeconfigPath()
	}
	if len(st.Problems) > 0 || st.Kubeconfig == "" {
		return st
	}
	cfg, err := s.RESTConfig()
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
		return st
	}
	st.Server = cfg.Host
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := checkReady(ctx, cfg); err != nil {
		st.Problems = append(st.Problems, fmt.Sprintf("the API server at %s is not ready: %v; log: %s", cfg.Host, err, filepath.Join(s.LogDir(), "kube-apiserver.log")))
		return st
	}
	st.State = StateRunning
	st.Version, st.Nodes = describe(ctx, cfg)
	if stamp, _ := os.ReadFile(s.stampPath()); string(stamp) != configStamp() {
		st.State = StateOutdated
		st.Problems = append(st.Problems, "this sandbox was started by another version of kube: `kube sandbox up` restarts it with the current components and settings")
	}
	return st
}

// RESTConfig is the admin client configuration of a running sandbox.
// Kubeconfig is the path of the admin kubeconfig of the running sandbox.
func (s *Sandbox) Kubeconfig() (string, error) {
	if _, err := os.Stat(s.KubeconfigPath()); err != nil {
		return "", fmt.Errorf("sandbox %q is not running (no %s): start it with `kube sandbox up`", s.Name, s.KubeconfigPath())
	}
	return s.KubeconfigPath(), nil
}

func (s *Sandbox) RESTConfig() (*rest.Config, error) {
	if _, err := s.Kubeconfig(); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.KubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("reading the sandbox kubeconfig %s: %w", s.KubeconfigPath(), err)
	}
	// Inline the certificates: client-go caches TLS transports by file path, and a
	// restarted sandbox has new certificates at the same paths.
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, fmt.Errorf("reading the sandbox certificates: %w", err)
	}
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = "", "", ""
	return cfg, nil
}

func checkReady(ctx context.Context, cfg *rest.Config) error {
	c, err := rest.UnversionedRESTClientFor(withTimeout(cfg, 3*time.Second))
	if err != nil {
		return err
	}
	body, err := c.Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) != "ok" {
		return errors.New(string(body))
	}
	return nil
}

func withTimeout(cfg *rest.Config, d time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = d
	if c.NegotiatedSerializer == nil {
		c.NegotiatedSerializer = clientsetCodecs
	}
	return c
}

// components reads kwokctl's pid files.
func (s *Sandbox) components() []ComponentStatus {
	files, _ := filepath.Glob(filepath.Join(s.clusterDir(), "pids", "*.pid"))
	sort.Strings(files)
	var out []ComponentStatus
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		out = append(out, ComponentStatus{
			Name:    name,
			PID:     pid,
			Running: pid > 0 && processAlive(pid),
			Log:     filepath.Join(s.LogDir(), name+".log"),
		})
	}
	return out
}

// deadComponentReports explains each component that exited: the last lines of its
// log and where the full log is.
func (s *Sandbox) deadComponentReports(comps []ComponentStatus) []string {
	var out []string
	for _, c := range comps {
		if c.Running {
			continue
		}
		out = append(out, fmt.Sprintf("%s (pid %d) is not running; last lines of its log:\n%s\nfull log: %s",
			c.Name, c.PID, indent(tailFile(c.Log, 15)), c.Log))
	}
	return out
}

// withDiagnosis adds the reports of exited components to a failure.
func (s *Sandbox) withDiagnosis(err error) error {
	if err == nil {
		return nil
	}
	reports := s.deadComponentReports(s.components())
	if len(reports) == 0 {
		return fmt.Errorf("%w\ncomponent logs: %s\nrun `kube sandbox down` to remove this sandbox", err, s.LogDir())
	}
	return fmt.Errorf("%w\n%s\nrun `kube sandbox down` to remove this sandbox", err, strings.Join(reports, "\n"))
}
