// Command forkconnect measures kube fork connect on the local sandbox, next
// to kubectl port-forward to the same target in the same run: the latency a
// request gains through the tunnel (p50, p99) and the throughput of a 100 MB
// transfer. Both go through the API server's pods/portforward once (kwok
// sends the pod's ports to this machine): kubectl straight to the server,
// kube through the agent, the yamux session and the CLI.
//
//	forkconnect -kube bin/kube -controller bin/kube-controller -sandbox-kubeconfig PATH [-requests 1000] [-mb 100]
//
// kube reaches the sandbox as -c local.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/sandbox"
	"github.com/kube-idp/kube/internal/testcluster"
)

func main() {
	kubeBin := flag.String("kube", "bin/kube", "kube binary")
	controllerBin := flag.String("controller", "bin/kube-controller", "kube-controller binary")
	kubeconfig := flag.String("sandbox-kubeconfig", "", "the sandbox's kubeconfig")
	requests := flag.Int("requests", 1000, "sequential requests per path")
	mb := flag.Int("mb", 100, "size of the bulk transfer, MB")
	flag.Parse()
	defer stopAll() // the agent, the controller, kubectl and kube stop with the run
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	check(err)
	_ = forkv1.AddToScheme(testcluster.Scheme)
	c, err := client.New(cfg, client.Options{Scheme: testcluster.Scheme})
	check(err)
	ns := fmt.Sprintf("bench-connect-%d", time.Now().Unix())
	check(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	defer c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	// The target: a local server; the app's container port is a free port,
	// where the agent listens on this machine.
	server := serve(*mb)
	appPort := freePort()
	check(c.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example.com/web:v1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(appPort)}}}}}},
	}}))
	start(exec.Command(*controllerBin, "--kubeconfig", *kubeconfig, "--namespace", ns, "--metrics-bind-address", "0", "--health-probe-bind-address", "0"))
	check(c.Create(ctx, &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: ns}, Spec: forkv1.ForkSpec{
		Workloads: []forkv1.Workload{{Name: "web", Local: &forkv1.LocalWorkload{}}}}}))
	pod := waitPod(ctx, c, ns)

	// The agent runs here with the pod's arguments; kwok sends the pod's
	// control port to it, and the pod's app port straight to the server
	// (kubectl's path).
	control := freePort()
	var args []string
	for _, a := range pod.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--control=") {
			a = "--control=127.0.0.1:" + strconv.Itoa(control)
		}
		args = append(args, a)
	}
	start(exec.Command(*controllerBin, args...))
	podControl, _ := strconv.ParseInt(pod.Annotations[forkv1.AnnotationAgentControlPort], 10, 32)
	check(testcluster.ForwardPod(ctx, c, pod, map[int32]int{int32(podControl): control, int32(appPort): server}))

	comps, ok, err := sandbox.CachedComponents()
	if err != nil || !ok {
		log.Fatalf("sandbox components are not built: %v", err)
	}
	kubectlPort := freePort()
	pf := exec.Command(comps.Bin("kubectl"), "--kubeconfig", *kubeconfig, "port-forward", "-n", ns, "pod/"+pod.Name, fmt.Sprintf("%d:%d", kubectlPort, appPort))
	waitLine(pf, "Forwarding from")
	connect := exec.Command(*kubeBin, "-c", "local", "fork", "connect", "bench", "-n", ns, "--workload", "web", "--port", fmt.Sprintf("%d=%d", appPort, server))
	waitLine(connect, "Connected:")

	paths := []struct{ name, url string }{
		{"kubectl port-forward", fmt.Sprintf("http://127.0.0.1:%d", kubectlPort)},
		{"kube fork connect", fmt.Sprintf("http://127.0.0.1:%d", appPort)},
	}
	var p50, p99, mbps [2]float64
	for i, p := range paths {
		p50[i], p99[i] = latency(p.url+"/small", *requests)
		mbps[i] = throughput(p.url+"/big", *mb)
		fmt.Printf("%-22s p50 %.2f ms  p99 %.2f ms  %d MB at %.0f MB/s\n", p.name, p50[i], p99[i], *mb, mbps[i])
	}
	fmt.Printf("added by kube fork connect: p50 %+.2f ms (goal within 1 ms), p99 %+.2f ms; throughput %.0f%% of kubectl port-forward's (goal at least 80%%)\n",
		p50[1]-p50[0], p99[1]-p99[0], 100*mbps[1]/mbps[0])
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

var started []*exec.Cmd

func start(cmd *exec.Cmd) {
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	check(cmd.Start())
	started = append(started, cmd)
}

func init() {
	// The processes this run starts stop with it, whatever happens.
	log.SetFlags(0)
	log.SetOutput(stopper{os.Stderr})
}

type stopper struct{ w io.Writer }

func (s stopper) Write(p []byte) (int, error) {
	stopAll()
	return s.w.Write(p)
}

func stopAll() {
	for _, c := range started {
		_ = c.Process.Kill()
	}
}

// waitLine starts cmd and waits for a line of its stderr or stdout to contain s.
func waitLine(cmd *exec.Cmd, s string) {
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	check(cmd.Start())
	started = append(started, cmd)
	sc := bufio.NewScanner(r)
	found := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), s) {
				found <- true
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			log.Fatalf("%s ended before saying %q", cmd.Path, s)
		}
	case <-time.After(2 * time.Minute):
		log.Fatalf("%s did not say %q in 2 minutes", cmd.Path, s)
	}
}

func serve(mb int) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	chunk := make([]byte, 1<<20)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			for range mb {
				_, _ = w.Write(chunk)
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	return l.Addr().(*net.TCPAddr).Port
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPod(ctx context.Context, c client.Client, ns string) *corev1.Pod {
	var pod *corev1.Pod
	check(wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{forkv1.LabelIdentifier: "bench"}); err != nil {
			return false, nil
		}
		for i := range pods.Items {
			if pods.Items[i].Status.Phase == corev1.PodRunning {
				pod = &pods.Items[i]
				return true, nil
			}
		}
		return false, nil
	}))
	return pod
}

// latency is the p50 and p99, in ms, of n sequential requests on one
// kept-alive connection, after 50 to warm up.
func latency(url string, n int) (float64, float64) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var ds []float64
	for i := range n + 50 {
		t := time.Now()
		resp, err := c.Get(url)
		check(err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i >= 50 {
			ds = append(ds, float64(time.Since(t).Microseconds())/1000)
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}

// throughput is MB/s of one transfer of mb MB.
func throughput(url string, mb int) float64 {
	t := time.Now()
	resp, err := http.Get(url)
	check(err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	check(err)
	if n != int64(mb)<<20 {
		log.Fatalf("%s: %d bytes, want %d", url, n, int64(mb)<<20)
	}
	return float64(mb) / time.Since(t).Seconds()
}
