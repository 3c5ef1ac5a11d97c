// Package forkconnect is kube fork connect: a process on the developer's
// machine stands in for one workload of their fork. It marks the workload
// local (kube-controller then runs the fork agent in the copy's pod), holds the
// fork's Lease, opens a tunnel to the agent through the API server's
// port-forward, passes the copy's connections to local ports, and offers the
// process a proxy into the cluster that keeps its calls in the fork.
package forkconnect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/util/podutils"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
	"github.com/kube-idp/kube/internal/exitstatus"
	"github.com/kube-idp/kube/internal/forks"
	"github.com/kube-idp/kube/internal/tunnel"
)

// AnnotationSession on the Fork names who holds its Lease; changing it makes
// the controller look at the Lease (it watches none).
const AnnotationSession = "fork.kube-idp.dev/local-session"

// Options are one connection's.
type Options struct {
	Config              *rest.Config
	Namespace, Fork     string
	Workload, Container string
	// Ports maps a container port to the local port its connections go to
	// (default: the same number).
	Ports map[int32]int32
	// Takeover takes the fork's Lease from another session.
	Takeover bool
	// Holder names this session in the Lease and the fork's status.
	Holder string
	// Owner and TTL are the fork's when connect creates it.
	Owner string
	TTL   time.Duration
	// Transport is TransportAuto, TransportWebSocket or TransportSPDY.
	Transport string
	// Progress hears what happens (nil: nothing).
	Progress func(format string, a ...any)
	// LeaseDuration is how long a Lease lasts unrenewed (default 15 s).
	LeaseDuration time.Duration
}

// Session is a running connection.
type Session struct {
	o       Options
	kube    kubernetes.Interface
	forks   *forks.Client
	fork    *forkv1.Fork
	created bool // the fork did not exist: Close deletes it
	added   bool // the workload was not in the fork: Close removes it
	lease   *lease
	// container is the original container: its environment is the process's.
	container *corev1.Container

	mu     sync.Mutex
	tunnel *yamux.Session
	pod    string
}

// Start prepares the connection: it checks the workload and the ports,
// takes the Lease, marks the workload local and waits until the agent
// answers through the tunnel. Nothing is left changed when it fails.
func Start(ctx context.Context, o Options) (_ *Session, err error) {
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	kube, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return nil, err
	}
	fc, err := forks.NewClient(o.Config)
	if err != nil {
		return nil, err
	}
	s := &Session{o: o, kube: kube, forks: fc}
	if s.o.Ports, err = s.checkWorkload(ctx); err != nil {
		return nil, err
	}
	s.lease = &lease{kube: kube, namespace: o.Namespace, name: o.Fork + "-local", fork: o.Fork, holder: o.Holder, duration: o.LeaseDuration}
	if err := s.lease.acquire(ctx, o.Takeover); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Close(cctx, false)
		}
	}()
	if err := s.markLocal(ctx); err != nil {
		return nil, err
	}
	o.Progress("waiting for kube-controller to run the agent in the copy of %s", o.Workload)
	if s.fork, err = fc.WaitHandled(ctx, o.Namespace, o.Fork); err != nil {
		return nil, err
	}
	// The agent answering through the tunnel is what counts: until then the
	// pod may be starting (or its image being pulled).
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last error
	err = wait.PollUntilContextCancel(wctx, time.Second, true, func(ctx context.Context) (bool, error) {
		last = s.connect(ctx)
		if perm := (*PermissionError)(nil); errors.As(last, &perm) {
			return false, last // waiting cannot fix it
		}
		return last == nil, nil
	})
	if err != nil {
		if last != nil {
			return nil, last
		}
		return nil, err
	}
	return s, nil
}

// Fork is the fork as it was when the session started.
func (s *Session) Fork() *forkv1.Fork { return s.fork }

// Ports maps the container's ports to local ones.
func (s *Session) Ports() map[int32]int32 { return s.o.Ports }

// checkWorkload reads the Deployment with the developer's rights and maps
// its container's TCP ports.
func (s *Session) checkWorkload(ctx context.Context) (map[int32]int32, error) {
	d, err := s.kube.AppsV1().Deployments(s.o.Namespace).Get(ctx, s.o.Workload, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, exitstatus.Input(fmt.Errorf("no Deployment %s in namespace %s: --workload names a Deployment of the shared namespace", s.o.Workload, s.o.Namespace))
	}
	if err != nil {
		return nil, err
	}
	c, err := container(d, s.o.Container)
	if err != nil {
		return nil, err
	}
	s.container = c
	ports := map[int32]int32{}
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			ports[p.ContainerPort] = p.ContainerPort
		}
	}
	if len(ports) == 0 {
		return nil, exitstatus.Input(fmt.Errorf("container %s of Deployment %s declares no TCP port: nothing would reach your process", c.Name, d.Name))
	}
	for remote, local := range s.o.Ports {
		if _, ok := ports[remote]; !ok {
			return nil, exitstatus.Input(fmt.Errorf("--port %d=%d: container %s of Deployment %s has no port %d (it has %s)", remote, local, c.Name, d.Name, remote, portList(ports)))
		}
		ports[remote] = local
	}
	return ports, nil
}

func container(d *appsv1.Deployment, name string) (*corev1.Container, error) {
	cs := d.Spec.Template.Spec.Containers
	if name == "" && len(cs) > 0 {
		return &cs[0], nil
	}
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i], nil
		}
	}
	return nil, exitstatus.Input(fmt.Errorf("Deployment %s has no container %q", d.Name, name))
}

func portList(ports map[int32]int32) string {
	var ns []int
	for p := range ports {
		ns = append(ns, int(p))
	}
	slices.Sort(ns)
	out := ""
	for i, p := range ns {
		if i > 0 {
			out += ", "
		}
		out += strconv.Itoa(p)
	}
	return out
}

// markLocal creates the fork with the workload local, or marks the
// workload local in the existing fork.
func (s *Session) markLocal(ctx context.Context) error {
	local := &forkv1.LocalWorkload{Container: s.o.Container}
	_, err := s.forks.Get(ctx, s.o.Namespace, s.o.Fork)
	var nf *forks.NotFoundError
	if errors.As(err, &nf) {
		f, err := forks.Build(forks.CreateOptions{ID: s.o.Fork, Namespace: s.o.Namespace, Owner: s.o.Owner, Deployments: []string{s.o.Workload}, TTL: s.o.TTL, TTLFrom: forkv1.TTLFromCreation})
		if err != nil {
			return exitstatus.Input(err)
		}
		f.Spec.Workloads[0].Local = local
		f.Annotations = map[string]string{AnnotationSession: s.o.Holder}
		if _, err := s.forks.Apply(ctx, f); err != nil {
			return err
		}
		s.created = true
		s.o.Progress("created fork %s with %s local", s.o.Fork, s.o.Workload)
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.forks.Mutate(ctx, s.o.Namespace, s.o.Fork, func(f *forkv1.Fork) {
		i := slices.IndexFunc(f.Spec.Workloads, func(w forkv1.Workload) bool {
			return w.Name == s.o.Workload && w.KindOrDefault() == forkv1.KindDeployment
		})
		if i < 0 {
			f.Spec.Workloads = append(f.Spec.Workloads, forkv1.Workload{Name: s.o.Workload})
			i = len(f.Spec.Workloads) - 1
			s.added = true
		}
		f.Spec.Workloads[i].Local = local
		f.Spec.Workloads[i].Replicas = nil
		metav1.SetMetaDataAnnotation(&f.ObjectMeta, AnnotationSession, s.o.Holder)
	})
	return err
}

// connect finds the copy's ready pod and opens the tunnel to its agent.
func (s *Session) connect(ctx context.Context) error {
	sel := labels.SelectorFromSet(labels.Set{forkv1.LabelIdentifier: s.fork.ID(), forkv1.LabelWorkload: s.o.Workload})
	pods, err := s.kube.CoreV1().Pods(s.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return err
	}
	// A ready agent pod if there is one, else a running one: the readiness
	// probe only says the agent listens, and the ping below says it too.
	var pod *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Annotations[forkv1.AnnotationAgentControlPort] == "" {
			continue
		}
		if pod == nil || (podutils.IsPodReady(p) && !podutils.IsPodReady(pod)) {
			pod = p
		}
	}
	if pod == nil {
		return fmt.Errorf("no running agent pod of the copy of %s (kube fork status %s)", s.o.Workload, s.o.Fork)
	}
	port, err := strconv.ParseInt(pod.Annotations[forkv1.AnnotationAgentControlPort], 10, 32)
	if err != nil {
		return fmt.Errorf("pod %s: annotation %s: %v", pod.Name, forkv1.AnnotationAgentControlPort, err)
	}
	conn, err := dialPod(s.o.Config, s.kube, pod, int32(port), s.o.Transport)
	if err != nil {
		return err
	}
	t, err := tunnel.Client(conn)
	if err != nil {
		conn.Close()
		return err
	}
	// The first stream proves the agent answers: a port-forward to a port
	// nothing listens on fails only when used.
	if _, err := t.Ping(); err != nil {
		t.Close()
		select {
		case ferr := <-conn.errc:
			if ferr != nil {
				return ferr
			}
		default:
		}
		return fmt.Errorf("the agent in pod %s does not answer on port %d: %w", pod.Name, port, err)
	}
	s.mu.Lock()
	s.tunnel, s.pod = t, pod.Name
	s.mu.Unlock()
	return nil
}

// Run passes the copy's connections to the local ports and renews the Lease
// until ctx ends or the Lease is taken; a dropped tunnel is opened again,
// with backoff.
func (s *Session) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if err := s.lease.keep(ctx); err != nil {
			cancel(err)
		}
	}()
	backoff := 500 * time.Millisecond
	for {
		s.mu.Lock()
		t := s.tunnel
		s.mu.Unlock()
		if t != nil {
			_ = tunnel.Serve(ctx, t, s.inbound)
			backoff = 500 * time.Millisecond
		}
		if ctx.Err() != nil {
			if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
		s.o.Progress("the tunnel to the agent dropped; connecting again")
		select {
		case <-ctx.Done():
			continue
		case <-time.After(backoff):
		}
		if err := s.connect(ctx); err != nil {
			s.o.Progress("  %v", err)
			s.mu.Lock()
			s.tunnel = nil
			s.mu.Unlock()
			backoff = min(2*backoff, 10*time.Second)
		}
	}
}

// inbound passes one connection to the copy to its local port.
func (s *Session) inbound(h tunnel.Header, c net.Conn) {
	remote, err := strconv.ParseInt(h.Target, 10, 32)
	local, ok := s.o.Ports[int32(remote)]
	if h.Kind != tunnel.Inbound || err != nil || !ok {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(local))), 5*time.Second)
	if err != nil {
		msg := fmt.Sprintf("kube fork connect: nothing listens on localhost:%d, where fork %s sends port %d of %s\n", local, s.o.Fork, remote, s.o.Workload)
		fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
		c.Close()
		return
	}
	tunnel.Pipe(c, up)
}

// dial opens a connection into the cluster through the agent.
func (s *Session) dial(target string) (net.Conn, error) {
	s.mu.Lock()
	t := s.tunnel
	s.mu.Unlock()
	if t == nil || t.IsClosed() {
		return nil, errors.New("the tunnel to the fork's agent is down; kube fork connect is connecting again")
	}
	return tunnel.Open(t, tunnel.Header{Kind: tunnel.Outbound, Target: target})
}

// Close ends the session: the tunnel, the Lease and, unless keep, the
// workload's local mark (the fork itself when connect created it).
func (s *Session) Close(ctx context.Context, keep bool) error {
	s.mu.Lock()
	if s.tunnel != nil {
		s.tunnel.Close()
	}
	s.mu.Unlock()
	var errs []error
	if err := s.lease.release(ctx); err != nil {
		errs = append(errs, err)
	}
	switch {
	case keep:
	case s.created:
		errs = append(errs, s.forks.Delete(ctx, s.o.Namespace, s.o.Fork, false))
	default:
		_, err := s.forks.Mutate(ctx, s.o.Namespace, s.o.Fork, func(f *forkv1.Fork) {
			delete(f.Annotations, AnnotationSession)
			i := slices.IndexFunc(f.Spec.Workloads, func(w forkv1.Workload) bool { return w.Name == s.o.Workload && w.Local != nil })
			switch {
			case i < 0:
			case s.added:
				f.Spec.Workloads = slices.Delete(f.Spec.Workloads, i, i+1)
			default:
				f.Spec.Workloads[i].Local = nil
			}
		})
		var nf *forks.NotFoundError
		if !errors.As(err, &nf) {
			errs = append(errs, err)
		}
	}
	if keep {
		// The fork keeps the agent; its status must not say someone is connected.
		_, _ = s.forks.Mutate(ctx, s.o.Namespace, s.o.Fork, func(f *forkv1.Fork) { delete(f.Annotations, AnnotationSession) })
	}
	return errors.Join(errs...)
}

// ParsePorts reads --port CONTAINER_PORT=LOCAL_PORT values.
func ParsePorts(specs []string) (map[int32]int32, error) {
	out := map[int32]int32{}
	for _, spec := range specs {
		r, l, ok := strings.Cut(spec, "=")
		remote, rerr := strconv.ParseUint(r, 10, 16)
		local, lerr := strconv.ParseUint(l, 10, 16)
		if !ok || rerr != nil || lerr != nil || remote == 0 || local == 0 {
			return nil, fmt.Errorf("--port %q: want CONTAINER_PORT=LOCAL_PORT, e.g. 8080=3000", spec)
		}
		out[int32(remote)] = int32(local)
	}
	return out, nil
}
