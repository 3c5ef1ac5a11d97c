package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/testcluster"
	"github.com/kube-idp/kube/internal/testsupport"
)

// helperChild is the COMMAND of kube fork connect in TestForkConnect: the test
// binary, started again by kube, acts as the developer's process.
const helperChild = "KUBE_E2E_FORK_CHILD"

// forkChild calls the "orders" service through the environment kube gave it
// and prints what it saw; it exits 7 so that the test sees kube pass the code on.
func forkChild() {
	resp, err := http.Get(os.Getenv("ORDERS_URL"))
	if err != nil {
		fmt.Println("call failed:", err)
		os.Exit(3)
	}
	var r reply
	_ = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	fmt.Printf("orders=%s fork=%s id=%s token=%q\n", r.Backend, r.Fork, os.Getenv("KUBE_FORK_IDENTIFIER"), os.Getenv("TOKEN"))
	// The fork's traffic reaches this process's session again (NO_PROXY
	// keeps this call to the Gateway on 127.0.0.1 direct).
	code, body := viaGateway(atoi(os.Getenv("KUBE_E2E_GATEWAY")), "alice.preview.test")
	fmt.Printf("fork host: %d %s\n", code, strings.TrimSpace(body))
	os.Exit(7)
}

// session is a kube fork connect running in the background.
type session struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

func (s *session) log() string { s.mu.Lock(); defer s.mu.Unlock(); return s.stderr.String() }

func connectInBackground(t *testing.T, args ...string) *session {
	t.Helper()
	s := &session{cmd: exec.Command(kubeBin, args...), done: make(chan struct{})}
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("kube %s:\n%s", strings.Join(args, " "), s.log())
		}
	})
	return s
}

// The whole path of kube fork connect on the sandbox: kube-controller makes
// the agent's pod; the agent (kube-controller agent, run here with the
// pod's own arguments, since the sandbox's pods are fake) is reached through
// the API server's real port-forward (kwok maps the pod's control port to it);
// the copy's connections reach a server on this machine with the fork's
// identifier while the shared service keeps its own backend; the developer's
// process calls into the cluster through kube's proxy and stays in the fork.
func TestForkConnect(t *testing.T) {
	env := testcluster.Sandbox(t)
	ns, ctx := env.Namespace, context.Background()
	hostIP := hostAddress(t)
	shared, orders := backend(t, hostIP, "shared"), backend(t, hostIP, "orders")
	appPort := int32(testsupport.FreePort(t)) // the container's port: the agent listens on it on this machine

	create(t, env, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](0),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example.com/web:v1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
			Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}, Key: "token"}}},
				{Name: "ORDERS_URL", Value: fmt.Sprintf("http://%s:%d/", hostIP, orders)}},
		}}}},
	}})
	create(t, env, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, StringData: map[string]string{"token": "s3cret"}})
	create(t, env, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}})
	endpoints(t, env, "web", hostIP, shared)
	gateway := traefikGateway(t, env)
	create(t, env, &forkv1.ForkProfile{ObjectMeta: metav1.ObjectMeta{Name: forkv1.DefaultProfileName, Namespace: ns}, Spec: forkv1.ForkProfileSpec{
		Preview: previewProfile, Local: &forkv1.LocalProfile{AllowedDestinations: []string{hostIP + "/32"}}}})
	runController(t, ns)

	// The fork exists before anyone connects (kube fork create, then a
	// ForkProfile-allowed local mark); the agent's pod appears.
	create(t, env, &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: ns}, Spec: forkv1.ForkSpec{
		TTL: &metav1.Duration{Duration: time.Hour}, Workloads: []forkv1.Workload{{Name: "web", Local: &forkv1.LocalWorkload{}}}}})
	pod := waitPod(t, env, "alice", "web")
	// The copy's Service reaches the agent, which listens on the container's
	// port here; the fake pod's own address is taken out of the Service's
	// endpoints by marking the pod not ready (nothing listens there).
	endpoints(t, env, "web-fork-alice", hostIP, int(appPort))
	notReady(t, env, pod)
	control := startAgent(t, env, pod)
	podPort, _ := strconv.ParseInt(pod.Annotations[forkv1.AnnotationAgentControlPort], 10, 32)
	if err := testcluster.ForwardPod(ctx, env.Client, pod, map[int32]int{int32(podPort): control}); err != nil {
		t.Fatalf("kwok PortForward: %v", err)
	}

	// Requests go through the real Gateway: the fork's preview host, and the team's.
	get := func(host string) (int, string) { return viaGateway(gateway, host) }
	eventually(t, "the fork's host to answer with the agent's 503", func() bool {
		code, body := get("alice.preview.test")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "kube fork connect alice --workload web -n "+ns)
	})
	if code, body := get("shop.preview.test"); code != http.StatusOK || !strings.Contains(body, `"Backend":"shared","Fork":""`) {
		t.Fatalf("the team's host: %d %q", code, body)
	}

	// A session over WebSocket, to a server on this machine.
	local := backend(t, "127.0.0.1", "laptop")
	s1 := connectInBackground(t, "-c", "local", "fork", "connect", "alice", "-n", ns, "--workload", "web",
		"--port", fmt.Sprintf("%d=%d", appPort, local), "--transport", "websocket")
	eventually(t, "the first session to connect", func() bool { return strings.Contains(s1.log(), "Connected: fork alice") })
	if code, body := get("alice.preview.test"); code != http.StatusOK || !strings.Contains(body, `"Backend":"laptop","Fork":"alice"`) {
		t.Fatalf("the fork's request: %d %q", code, body)
	}
	if code, body := get("shop.preview.test"); code != http.StatusOK || !strings.Contains(body, `"Backend":"shared","Fork":""`) {
		t.Fatalf("the team's host while connected: %d %q", code, body)
	}
	if r := kube(t, nil, "-c", "local", "fork", "status", "alice", "-n", ns); !strings.Contains(r.stdout, "LocalConnected True") {
		eventually(t, "the fork's status to show the connection", func() bool {
			return strings.Contains(kube(t, nil, "-c", "local", "fork", "status", "alice", "-n", ns).stdout, "LocalConnected True")
		})
	}

	// One session per fork.
	r := kube(t, nil, "-c", "local", "fork", "connect", "alice", "-n", ns, "--workload", "web", "--port", fmt.Sprintf("%d=%d", appPort, local))
	if r.code != 1 || !strings.Contains(r.stderr, "is connected to fork alice since") || !strings.Contains(r.stderr, "--takeover") {
		t.Fatalf("a second session: exit %d %s", r.code, r.stderr)
	}
	if r := kube(t, nil, "-c", "local", "fork", "connect", "alice", "-n", ns, "--workload", "web", "--port", "1=2"); r.code != 2 || !strings.Contains(r.stderr, "has no port 1") {
		t.Fatalf("a port the container lacks: exit %d %s", r.code, r.stderr)
	}

	// The CLI dies: the fork's requests get 503, never the shared service.
	_ = s1.cmd.Process.Kill()
	<-s1.done
	eventually(t, "503 once the session is gone", func() bool { code, _ := get("alice.preview.test"); return code == http.StatusServiceUnavailable })

	// A new session over SPDY takes over (the dead one's Lease has not expired
	// yet) and runs the developer's process, which calls orders through the proxy.
	cmd := exec.Command(kubeBin, "-c", "local", "fork", "connect", "alice", "-n", ns, "--workload", "web", "--takeover", "--transport", "spdy",
		"--port", fmt.Sprintf("%d=%d", appPort, local), "--", os.Args[0])
	cmd.Env = append(os.Environ(), helperChild+"=1", "KUBE_E2E_GATEWAY="+strconv.Itoa(gateway))
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		err = nil
	}
	if err != nil || code != 7 || !strings.Contains(string(out), `orders=orders fork=alice id=alice token="s3cret"`) ||
		!strings.Contains(string(out), `fork host: 200 {"Backend":"laptop","Fork":"alice"}`) {
		t.Fatalf("the process under kube fork connect: exit %d, %v\n%s", code, err, out)
	}
	// The session ended without --keep: the workload runs the image again.
	notLocal := func(when string) {
		t.Helper()
		var f forkv1.Fork
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alice"}, &f); err != nil || f.Spec.Workloads[0].Local != nil {
			t.Fatalf("%s: %v %+v", when, err, f.Spec.Workloads)
		}
	}
	notLocal("after the session")

	// A developer's own rights: without pods/portforward, connect says which
	// permission is missing and leaves the fork as it was.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "developer", Namespace: ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update", "delete"}},
		{APIGroups: []string{forkv1.GroupVersion.Group}, Resources: []string{"forks"}, Verbs: []string{"get", "update", "create", "delete"}},
	}}
	create(t, env, role)
	create(t, env, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "developer", Namespace: ns},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "developer"}, Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "dev@example.com"}}})
	dev := impersonating(t, "dev@example.com")
	r = kube(t, nil, "--kubeconfig", dev, "fork", "connect", "alice", "-n", ns, "--workload", "web", "--port", fmt.Sprintf("%d=%d", appPort, local))
	if r.code != 1 || !strings.Contains(r.stderr, "you may not create pods/portforward in namespace "+ns) {
		t.Fatalf("without pods/portforward: exit %d %s", r.code, r.stderr)
	}
	notLocal("after a refused session")

	// With it, the process runs; the Secret it may not read is named, not fetched.
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create", "get"}})
	if err := env.Client.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go forwardNewPods(env, control, stop)
	cmd = exec.Command(kubeBin, "--kubeconfig", dev, "fork", "connect", "alice", "-n", ns, "--workload", "web",
		"--port", fmt.Sprintf("%d=%d", appPort, local), "--", os.Args[0])
	cmd.Env = append(os.Environ(), helperChild+"=1", "KUBE_E2E_GATEWAY="+strconv.Itoa(gateway))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 || !strings.Contains(string(out), `token=""`) ||
		!strings.Contains(stderr.String(), "Not in the environment: TOKEN: you may not get Secret web") {
		t.Fatalf("with the developer's rights: %v\n%s%s", err, out, stderr.String())
	}
}

// forwardNewPods points the control port of every agent pod of alice's copy
// made from now on (connect marking the workload local makes one) at the
// agent, as the test did for the first, until stop is closed.
func forwardNewPods(env *testcluster.Env, control int, stop <-chan struct{}) {
	done := map[string]bool{}
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		var pods corev1.PodList
		if err := env.Client.List(context.Background(), &pods, client.InNamespace(env.Namespace), client.MatchingLabels{forkv1.LabelIdentifier: "alice", forkv1.LabelWorkload: "web"}); err != nil {
			continue
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			port, err := strconv.ParseInt(p.Annotations[forkv1.AnnotationAgentControlPort], 10, 32)
			if done[p.Name] || err != nil {
				continue
			}
			if err := testcluster.ForwardPod(context.Background(), env.Client, p, map[int32]int{int32(port): control}); err == nil || apierrors.IsAlreadyExists(err) {
				done[p.Name] = true
			}
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) { return ok(), nil }); err != nil {
		t.Fatalf("%s: never happened", what)
	}
}

// waitPod waits for the ready pod of the fork's copy of workload.
func waitPod(t *testing.T, env *testcluster.Env, fork, workload string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, "the agent's pod", func() bool {
		var pods corev1.PodList
		if err := env.Client.List(context.Background(), &pods, client.InNamespace(env.Namespace), client.MatchingLabels{forkv1.LabelIdentifier: fork, forkv1.LabelWorkload: workload}); err != nil {
			return false
		}
		for i := range pods.Items {
			// Running and Ready with its address: kwok has finished with it, so
			// that notReady is not undone by kwok's own transition.
			if p := &pods.Items[i]; p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && podReady(p) {
				pod = p
				return true
			}
		}
		return false
	})
	return pod
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// startAgent runs kube-controller agent with the pod's arguments, its control
// port moved to a free one of this machine; it returns that port.
func startAgent(t *testing.T, env *testcluster.Env, pod *corev1.Pod) int {
	t.Helper()
	control := testsupport.FreePort(t)
	var args []string
	for _, a := range pod.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--control=") {
			a = "--control=127.0.0.1:" + strconv.Itoa(control)
		}
		args = append(args, a)
	}
	if len(args) == 0 || args[0] != "agent" {
		t.Fatalf("the agent pod's arguments: %q", args)
	}
	startLogged(t, exec.Command(controllerBin, args...), "agent", filepath.Join(t.TempDir(), "agent.log"))
	eventually(t, "the agent to listen", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(control))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return control
}

// notReady marks the fake pod not ready, so that its address (where nothing
// listens) leaves its Services' endpoints.
func notReady(t *testing.T, env *testcluster.Env, pod *corev1.Pod) {
	t.Helper()
	p := pod.DeepCopy()
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if err := env.Client.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// The gateway routes to ready endpoints only: wait until every
	// EndpointSlice has the pod's address not ready.
	eventually(t, "the pod's endpoint to be not ready", func() bool {
		var list discoveryv1.EndpointSliceList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(env.Namespace)); err != nil {
			return false
		}
		for _, sl := range list.Items {
			for _, ep := range sl.Endpoints {
				if slices.Contains(ep.Addresses, pod.Status.PodIP) && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
					return false
				}
			}
		}
		return true
	})
}
