// Package testcluster gives tests a real Kubernetes API server:
//
//   - Sandbox: the full local sandbox (control plane, controllers, scheduler, kwok
//     nodes), started once per test process or reused when already running. Use it
//     for anything that needs pods to run.
//   - APIServer: etcd + kube-apiserver only (controller-runtime's envtest), for
//     controller tests that need no nodes. The package's TestMain must call Main.
//
// Both use the same cached binaries as `kube sandbox up`. Each call returns clients
// and a fresh namespace that is deleted when the test ends.
package testcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
)

// Env is a real API server as seen by one test.
type Env struct {
	Config    *rest.Config
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Client    client.Client // controller-runtime client with Scheme
	Namespace string        // fresh, deleted after the test
}

// Scheme knows the built-in types and CRDs; tests add their own types to it
// before the first call.
var Scheme = runtime.NewScheme()

func init() {
	_ = clientgoscheme.AddToScheme(Scheme)
	_ = apiextensionsv1.AddToScheme(Scheme)
}

// SandboxName is the sandbox the tests use: the developer's own "local" one, so
// that a running sandbox is reused.
const SandboxName = sandbox.DefaultName

var sandboxOnce struct {
	sync.Once
	cfg *rest.Config
	err error
}

// Sandbox returns the local sandbox, starting it if it is not running (building
// its components first if needed, with progress on stderr).
func Sandbox(t testing.TB) *Env {
	t.Helper()
	NeedsCluster(t)
	sandboxOnce.Do(func() {
		sb, err := sandbox.Open(SandboxName)
		if err != nil {
			sandboxOnce.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
		defer cancel()
		_, err = sb.Up(ctx, sandbox.UpOptions{Progress: &progress.Reporter{Out: os.Stderr}})
		if err != nil {
			sandboxOnce.err = fmt.Errorf("starting the sandbox: %w", err)
			return
		}
		sandboxOnce.cfg, sandboxOnce.err = sb.RESTConfig()
	})
	if sandboxOnce.err != nil {
		t.Fatal(sandboxOnce.err)
	}
	return newEnv(t, sandboxOnce.cfg)
}

var apiServer struct {
	sync.Mutex
	mainCalled bool
	env        *envtest.Environment
	cfg        *rest.Config
	err        error
}

// Main runs the package's tests and then stops the API server started by
// APIServer. Call it from TestMain: os.Exit(testcluster.Main(m)) is done for you.
func Main(m *testing.M) {
	apiServer.Lock()
	apiServer.mainCalled = true
	apiServer.Unlock()
	code := m.Run()
	apiServer.Lock()
	if apiServer.env != nil {
		if err := apiServer.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: stopping the API server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	apiServer.Unlock()
	os.Exit(code)
}

// APIServer returns an etcd + kube-apiserver pair (no controllers, no nodes),
// started once per test process.
func APIServer(t testing.TB) *Env {
	t.Helper()
	NeedsCluster(t)
	apiServer.Lock()
	defer apiServer.Unlock()
	if !apiServer.mainCalled {
		t.Fatal("testcluster.APIServer needs func TestMain(m *testing.M) { testcluster.Main(m) } in this package, so that the API server is stopped")
	}
	if apiServer.env == nil && apiServer.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
		defer cancel()
		comps, err := sandbox.EnsureComponents(ctx, &progress.Reporter{Out: os.Stderr})
		if err != nil {
			apiServer.err = err
		} else {
			env := &envtest.Environment{
				BinaryAssetsDirectory:    comps.BinDir(),
				ControlPlaneStartTimeout: time.Minute,
				ControlPlaneStopTimeout:  time.Minute,
			}
			apiServer.cfg, apiServer.err = env.Start()
			if apiServer.err == nil {
				apiServer.env = env
			}
		}
	}
	if apiServer.err != nil {
		t.Fatalf("starting the API server: %v", apiServer.err)
	}
	return newEnv(t, apiServer.cfg)
}

func newEnv(t testing.TB, cfg *rest.Config) *Env {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   NamespaceName(t.Name()),
		Labels: map[string]string{"kube-idp.test/created-by": "testcluster"},
	}}
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating test namespace: %v", err)
	}
	t.Cleanup(func() {
		// Without a namespace controller (APIServer) the namespace stays Terminating; that is harmless.
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return &Env{Config: cfg, Kube: kube, Dynamic: dyn, Client: c, Namespace: ns.Name}
}

// NeedsCluster skips a test that needs a cluster (or starts one) under go test
// -short (make unit); make test runs it.
func NeedsCluster(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real API server: make test runs it")
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// NamespaceName derives a unique, valid namespace name from a test name.
func NamespaceName(testName string) string {
	base := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	if base == "" {
		base = "test"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "t-" + base + "-" + hex.EncodeToString(b)
}
