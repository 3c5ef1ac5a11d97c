package forkconnect

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Transports of the port-forward.
const (
	// TransportAuto tries WebSocket first and falls back to SPDY, as kubectl.
	TransportAuto      = ""
	TransportWebSocket = "websocket"
	TransportSPDY      = "spdy"
)

// forwarded is one stream to a pod's port through the API server's
// pods/portforward, as kubectl port-forward opens per connection, but with
// no local listener: nothing else on the developer's machine can reach it.
type forwarded struct {
	conn httpstream.Connection
	data httpstream.Stream
	once sync.Once
	errc chan error
}

// dialPod opens a stream to port of pod through the API server. Proxy
// settings and exec credential plugins of the kubeconfig apply, as in
// client-go.
func dialPod(cfg *rest.Config, kube kubernetes.Interface, pod *corev1.Pod, port int32, transport string) (*forwarded, error) {
	u := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	if transport != TransportSPDY {
		ws, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
		if err != nil {
			return nil, err
		}
		switch transport {
		case TransportWebSocket:
			dialer = ws
		default:
			dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
				return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
			})
		}
	}
	conn, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, portForwardError(pod, err)
	}
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(int(port)))
	headers.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := conn.CreateStream(headers)
	if err != nil {
		conn.Close()
		return nil, err
	}
	errStream.Close() // nothing to write on it
	f := &forwarded{conn: conn, errc: make(chan error, 1)}
	go func() {
		msg, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			f.errc <- err
		case len(msg) > 0:
			f.errc <- fmt.Errorf("port-forward to %s port %d: %s", pod.Name, port, msg)
		}
		close(f.errc)
	}()
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	if f.data, err = conn.CreateStream(headers); err != nil {
		conn.Close()
		return nil, err
	}
	return f, nil
}

func (f *forwarded) Read(p []byte) (int, error)  { return f.data.Read(p) }
func (f *forwarded) Write(p []byte) (int, error) { return f.data.Write(p) }

func (f *forwarded) Close() error {
	f.once.Do(func() { f.data.Close(); f.conn.Close() })
	return nil
}

// portForwardError says what to do when the API server refuses the forward.
func portForwardError(pod *corev1.Pod, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "forbidden") || strings.Contains(msg, "Forbidden") {
		return &PermissionError{What: fmt.Sprintf("create pods/portforward in namespace %s (to reach the agent of pod %s)", pod.Namespace, pod.Name), Err: err}
	}
	return fmt.Errorf("port-forward to pod %s: %w", pod.Name, err)
}

// PermissionError is something the developer's RBAC does not allow.
type PermissionError struct {
	What string
	Err  error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("you may not %s: ask the platform team for that permission (%v)", e.What, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }
