package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
	"github.com/kube-idp/kube/servicex"
)

func init() {
	_ = forkv1.AddToScheme(testcluster.Scheme)
	_ = gwv1.Install(testcluster.Scheme)
}

// TestForkPreviewRoutesThroughTraefik sends real HTTP requests through a real
// Gateway API implementation (Traefik, built from the module proxy, running
// outside the cluster and reading the sandbox's API server): the team's own
// host reaches the shared backend, <id>.<domain> reaches the fork's backend with
// the identifier added, and the fork's host stops answering once it is deleted.
//
// The sandbox's pods are fake, so the Services' endpoints are local processes,
// published through EndpointSlices made by hand (pod IPs cannot be reached).
// Mesh routes (HTTPRoutes attached to Services) need a service mesh, whose data
// planes (Envoy, linkerd2-proxy) are not Go programs; see docs/fork.md.
func TestForkPreviewRoutesThroughTraefik(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns := env.Namespace
	ctx := context.Background()
	hostIP := hostAddress(t)
	shared, forked := backend(t, hostIP, "shared"), backend(t, hostIP, "fork")

	// The shared system: web, whose only endpoint is the shared backend.
	create(t, env, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	if r := kube(t, withKubectl(t), "-c", "local", "kubectl", "create", "deployment", "web", "-n", ns, "--image", "registry.example.com/web:v1", "--replicas", "0"); r.code != 0 {
		t.Fatalf("kubectl create deployment: %s", r.stderr)
	}
	endpoints(t, env, "web", hostIP, shared)

	port := traefikGateway(t, env)
	create(t, env, &forkv1.ForkProfile{ObjectMeta: metav1.ObjectMeta{Name: forkv1.DefaultProfileName, Namespace: ns}, Spec: forkv1.ForkProfileSpec{
		Preview: previewProfile,
	}})
	runController(t, ns)

	get := func(host string) (int, reply) {
		code, body := viaGateway(port, host)
		var r reply
		_ = json.Unmarshal([]byte(body), &r)
		return code, r
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) { return ok(), nil }); err != nil {
			code, r := get("alice.preview.test")
			t.Fatalf("%s: never happened (alice.preview.test answers %d %+v)", what, code, r)
		}
	}
	eventually("the team's host reaches the shared backend", func() bool {
		code, r := get("shop.preview.test")
		return code == http.StatusOK && r.Backend == "shared" && r.Fork == ""
	})
	if code, _ := get("alice.preview.test"); code != http.StatusNotFound {
		t.Fatalf("before the fork, alice.preview.test answers %d", code)
	}

	// The developer's flow; the copy has no pods, its endpoint is the fork backend.
	r := kube(t, nil, "-c", "local", "fork", "create", "alice", "-n", ns, "--deployment", "web", "--replicas", "0", "--ttl", "1h")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "http://alice.preview.test/" {
		t.Fatalf("fork create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	endpoints(t, env, "web-fork-alice", hostIP, forked)

	eventually("the fork's host reaches the fork's backend with the identifier", func() bool {
		code, r := get("alice.preview.test")
		return code == http.StatusOK && r.Backend == "fork" && r.Fork == "alice"
	})
	for range 5 { // every time, not by chance of load balancing
		if code, r := get("shop.preview.test"); code != http.StatusOK || r.Backend != "shared" || r.Fork != "" {
			t.Fatalf("with the fork, the team's host answers %d %+v", code, r)
		}
		if code, r := get("alice.preview.test"); code != http.StatusOK || r.Backend != "fork" || r.Fork != "alice" {
			t.Fatalf("the fork's host answers %d %+v", code, r)
		}
	}
	if code, _ := get("bob.preview.test"); code != http.StatusNotFound {
		t.Fatalf("a fork that does not exist answers %d", code)
	}
	// Traefik accepted the fork's preview route on its Gateway.
	var route gwv1.HTTPRoute
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fork-alice-preview"}, &route); err != nil {
		t.Fatal(err)
	}
	if len(route.Status.Parents) == 0 || !meta.IsStatusConditionTrue(route.Status.Parents[0].Conditions, string(gwv1.RouteConditionAccepted)) ||
		!meta.IsStatusConditionTrue(route.Status.Parents[0].Conditions, string(gwv1.RouteConditionResolvedRefs)) {
		t.Fatalf("preview route status: %+v", route.Status.Parents)
	}

	if r := kube(t, nil, "-c", "local", "fork", "delete", "alice", "-n", ns); r.code != 0 {
		t.Fatalf("fork delete: exit %d %s", r.code, r.stderr)
	}
	eventually("the deleted fork's host stops answering", func() bool {
		code, _ := get("alice.preview.test")
		return code == http.StatusNotFound
	})
	if code, r := get("shop.preview.test"); code != http.StatusOK || r.Backend != "shared" {
		t.Fatalf("after the fork, the team's host answers %d %+v", code, r)
	}
}

// traefikGateway runs Traefik (built from the module proxy, outside the
// cluster, reading the sandbox's API server) for a GatewayClass of the test's
// own and makes the Gateway "public" in the test's namespace; it returns the
// port of the Gateway's HTTP listener on 127.0.0.1.
func traefikGateway(t *testing.T, env *testcluster.Env) int {
	t.Helper()
	ns := env.Namespace
	traefik, err := sandbox.EnsureTestTool(context.Background(), &progress.Reporter{Out: os.Stderr}, "traefik")
	if err != nil {
		t.Fatal(err)
	}
	port := testsupport.FreePort(t)
	class := "kube-fork-e2e-" + ns
	create(t, env, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Spec: gwv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"}})
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: class}})
	})
	create(t, env, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: ns}, Spec: gwv1.GatewaySpec{
		GatewayClassName: gwv1.ObjectName(class),
		Listeners:        []gwv1.Listener{{Name: "http", Port: gwv1.PortNumber(port), Protocol: gwv1.HTTPProtocolType}},
	}})
	sb, err := sandbox.Open(testcluster.SandboxName)
	if err != nil {
		t.Fatal(err)
	}
	proxy := exec.Command(traefik, "--entryPoints.web.address="+net.JoinHostPort("127.0.0.1", fmt.Sprint(port)),
		"--providers.kubernetesgateway=true", "--providers.kubernetesgateway.namespaces="+ns,
		"--providers.kubernetesgateway.throttleDuration=0s", "--log.level=DEBUG")
	proxy.Env = append(os.Environ(), "KUBECONFIG="+sb.KubeconfigPath())
	startLogged(t, proxy, "traefik", filepath.Join(t.TempDir(), "traefik.log"))
	// The team's own route to its front door.
	create(t, env, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "public"}}},
		Hostnames:       []gwv1.Hostname{"shop.preview.test"},
		Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: ptr.To[gwv1.PortNumber](80)}}}}}},
	}})
	return port
}

// previewProfile puts forks at <id>.preview.test on the Gateway "public",
// entering through the Service web.
var previewProfile = &forkv1.Preview{Gateway: forkv1.GatewayRef{Name: "public"}, BaseDomain: "preview.test", Service: "web", Port: 80, Scheme: "http"}

// viaGateway sends GET / for host to the Gateway's port: the status and body.
func viaGateway(port int, host string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// reply is what a backend answers: who it is and the fork identifier it saw.
type reply struct{ Backend, Fork string }

// backend serves reply on ip, reading the identifier with servicex; it returns the port.
func backend(t *testing.T, ip, name string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: servicex.ForkMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := servicex.ForkFrom(r.Context())
		_ = json.NewEncoder(w).Encode(reply{Backend: name, Fork: id})
	}))}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// hostAddress is this machine's first IPv4 address that an EndpointSlice
// accepts (the API server refuses loopback and link-local ones).
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address besides loopback and link-local ones; the routing test needs one for its backends")
	return ""
}

// endpoints publishes ip:port as the ready endpoint of the Service's port "http".
func endpoints(t *testing.T, env *testcluster.Env, service, ip string, port int) {
	t.Helper()
	create(t, env, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: service + "-local", Namespace: env.Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "kube-e2e",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	})
}

func create(t *testing.T, env *testcluster.Env, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}
