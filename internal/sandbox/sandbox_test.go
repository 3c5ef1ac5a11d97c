package sandbox

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requirement returns the version of module required in a go.mod file.
func requirement(t *testing.T, gomod, module string) string {
	t.Helper()
	data, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`)
	m := re.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("%s does not require %s", gomod, module)
	}
	return m[1]
}

func TestVersionsMatchToolModules(t *testing.T) {
	tools := filepath.Join("..", "..", "hack", "tools")
	cases := []struct{ gomod, module, want string }{
		{"go.mod", "k8s.io/kubernetes", KubernetesVersion},
		{"go.mod", "go.etcd.io/etcd/server/v3", EtcdVersion},
		{"kwok/go.mod", "sigs.k8s.io/kwok", KwokVersion},
		{"crds/go.mod", "sigs.k8s.io/gateway-api", GatewayAPIVersion},
		{"crds/go.mod", "istio.io/api", IstioAPIVersion},
		{"crds/go.mod", "github.com/prometheus-operator/prometheus-operator", PrometheusOperatorCRDVersion},
		{"traefik/go.mod", "github.com/traefik/traefik/v3", TraefikVersion},
		{"prometheus/go.mod", "github.com/prometheus/prometheus", PrometheusVersion},
		{"alertmanager/go.mod", "github.com/prometheus/alertmanager", AlertmanagerVersion},
		{"kube-state-metrics/go.mod", "k8s.io/kube-state-metrics/v2", KubeStateMetricsVersion},
		{"prometheus-operator/go.mod", "github.com/prometheus-operator/prometheus-operator", PrometheusOperatorVersion},
		{"actionlint/go.mod", "github.com/rhysd/actionlint", ActionlintVersion},
		// The kwok stages come from the main module's kwok: the same version as the binary.
		{"../../go.mod", "sigs.k8s.io/kwok", KwokVersion},
	}
	for _, c := range cases {
		if got := requirement(t, filepath.Join(tools, c.gomod), c.module); got != c.want {
			t.Errorf("hack/tools/%s requires %s %s, but components.go says %s", c.gomod, c.module, got, c.want)
		}
	}
	// The staging repositories must follow the Kubernetes version (v1.X.Y -> v0.X.Y).
	staging := "v0" + strings.TrimPrefix(KubernetesVersion, "v1")
	data, _ := os.ReadFile(filepath.Join(tools, "go.mod"))
	for _, m := range regexp.MustCompile(`(?m)^\s*(k8s\.io/\S+) => \S+ (v\S+)$`).FindAllStringSubmatch(string(data), -1) {
		if m[2] != staging {
			t.Errorf("replace %s => %s, want %s", m[1], m[2], staging)
		}
	}
}

func TestCacheKeyNamesKubernetesVersion(t *testing.T) {
	k := CacheKey()
	if !strings.HasPrefix(k, KubernetesVersion+"-") || k != CacheKey() {
		t.Fatalf("CacheKey() = %q, want a stable key starting with %s-", k, KubernetesVersion)
	}
}

func TestKubeLDFlagsStampVersion(t *testing.T) {
	f := kubeLDFlags()
	for _, want := range []string{
		"k8s.io/component-base/version.gitVersion=" + KubernetesVersion,
		"k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion,
		"k8s.io/component-base/version.gitMinor=" + strings.Split(KubernetesVersion, ".")[1],
	} {
		if !strings.Contains(f, want) {
			t.Errorf("kubeLDFlags() lacks %q: %s", want, f)
		}
	}
}

func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("KUBE_STATE_DIR", t.TempDir())
	t.Setenv("KUBE_CACHE_DIR", t.TempDir())
}

func TestOpenRejectsBadNames(t *testing.T) {
	isolate(t)
	for _, n := range []string{"", "Local", "a_b", "-a", strings.Repeat("a", 33)} {
		if _, err := Open(n); err == nil {
			t.Errorf("Open(%q) succeeded", n)
		}
	}
}

func TestStatusOfAbsentSandboxIsStopped(t *testing.T) {
	isolate(t)
	sb, err := Open("x")
	if err != nil {
		t.Fatal(err)
	}
	if st := sb.Status(context.Background()); st.State != StateStopped || len(st.Problems) != 0 {
		t.Fatalf("status = %+v", st)
	}
	if existed, err := sb.Down(context.Background()); err != nil || existed {
		t.Fatalf("Down() = %v, %v; want false, nil", existed, err)
	}
}

// A component that exited is reported with the end of its log and the log's path.
func TestStatusReportsExitedComponent(t *testing.T) {
	isolate(t)
	sb, _ := Open("x")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"pids", "logs"} {
		if err := os.MkdirAll(filepath.Join(sb.clusterDir(), d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(sb.clusterDir(), "pids", "kube-scheduler.pid"), strconv.Itoa(dead.Process.Pid))
	write(filepath.Join(sb.clusterDir(), "pids", "etcd.pid"), strconv.Itoa(os.Getpid()))
	var log strings.Builder
	for i := 1; i <= 30; i++ {
		log.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	write(filepath.Join(sb.LogDir(), "kube-scheduler.log"), log.String())

	st := sb.Status(context.Background())
	if st.State != StateBroken || len(st.Problems) != 1 {
		t.Fatalf("status = %+v", st)
	}
	p := st.Problems[0]
	for _, want := range []string{"kube-scheduler (pid", "not running", "line 30", "full log: " + filepath.Join(sb.LogDir(), "kube-scheduler.log")} {
		if !strings.Contains(p, want) {
			t.Errorf("problem lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "line 15\n") {
		t.Errorf("problem should show only the last 15 lines:\n%s", p)
	}
}

func TestUpRefusesPortInUse(t *testing.T) {
	isolate(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	sb, _ := Open("x")
	_, err = sb.Up(context.Background(), UpOptions{Port: port})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)+" is in use") || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("Up() error = %v, want a port-in-use error that suggests --port", err)
	}
}

func TestBuildWithoutGoSaysSo(t *testing.T) {
	isolate(t)
	t.Setenv("PATH", t.TempDir())
	_, err := EnsureComponents(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "Go is required") || !strings.Contains(err.Error(), "go.dev") {
		t.Fatalf("EnsureComponents() error = %v, want one that says Go is required and where to get it", err)
	}
}

// The sandbox knows its processes from kwokctl's pid files: running ones are
// listed, exited ones and stale files are not.
func TestProcessesComeFromPidFiles(t *testing.T) {
	isolate(t)
	sb, err := Open("pids")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(sb.clusterDir(), "pids")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range map[string]int{"etcd": cmd.Process.Pid, "kube-apiserver": done.Process.Pid} {
		if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := sb.Processes(); len(got) != 1 || got[0] != cmd.Process.Pid {
		t.Fatalf("Processes() = %v, want [%d]", got, cmd.Process.Pid)
	}
	if err := sb.stopProcesses(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := sb.Processes(); len(got) != 0 {
		t.Fatalf("after stopProcesses: %v", got)
	}
}

func TestTail(t *testing.T) {
	if got := tail([]byte("a\nb\nc\n"), 2); got != "b\nc" {
		t.Fatalf("tail = %q", got)
	}
	if got := tail([]byte("a"), 5); got != "a" {
		t.Fatalf("tail = %q", got)
	}
}

func TestKwokConfigHasEveryStage(t *testing.T) {
	cfg, err := kwokConfig("/x/pod.log", "/x/exec")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete", "pod-exit"} {
		if !strings.Contains(cfg, "name: "+name+"\n") {
			t.Errorf("stage %s missing", name)
		}
	}
	if !strings.Contains(cfg, "kind: ClusterExec") || !strings.Contains(cfg, "workDir: /x/exec") {
		t.Errorf("no ClusterExec:\n%s", cfg)
	}
	if !strings.Contains(cfg, "kind: ClusterLogs") || !strings.Contains(cfg, "logsFile: /x/pod.log") {
		t.Errorf("no ClusterLogs for the pod log:\n%s", cfg)
	}
	if strings.Count(cfg, AnnotationExitCode) < 3 {
		t.Errorf("pod-complete does not leave exit-code pods to pod-exit:\n%s", cfg)
	}
}
