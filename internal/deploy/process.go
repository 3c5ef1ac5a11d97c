package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
)

// Process is one long-running workload of an app (a Deployment), as `kube ps`
// shows it.
type Process struct {
	Name     string      `json:"name"`
	Desired  int32       `json:"desired"`
	Ready    int32       `json:"ready"`
	Images   []string    `json:"images"`
	Pods     []PodStatus `json:"pods"`
	selector labels.Selector
}

// Processes lists the app's Deployments with their pods, sorted by name.
func (c *Client) Processes(ctx context.Context, app, namespace string) ([]Process, error) {
	inv, err := c.readInventory(ctx, app, namespace)
	if err != nil {
		return nil, err
	}
	if !inv.Exists {
		return nil, fmt.Errorf("%s has never been deployed to namespace %s of this cluster", app, namespace)
	}
	var out []Process
	for _, id := range inv.Objects {
		if id.Kind != "Deployment" || id.Group != "apps" {
			continue
		}
		d, err := c.Kube.AppsV1().Deployments(id.Namespace).Get(ctx, id.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		out = append(out, c.describeProcess(ctx, id, d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (c *Client) describeProcess(ctx context.Context, id ID, d *appsv1.Deployment) Process {
	p := Process{Name: d.Name, Ready: d.Status.ReadyReplicas}
	if d.Spec.Replicas != nil {
		p.Desired = *d.Spec.Replicas
	}
	for _, ct := range d.Spec.Template.Spec.Containers {
		p.Images = append(p.Images, ct.Image)
	}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		p.selector = sel
		p.Pods = c.pods(ctx, id, sel)
	}
	return p
}

// findProcesses returns the named process, or all of them when name is "".
func (c *Client) findProcesses(ctx context.Context, app, namespace, name string) ([]Process, error) {
	all, err := c.Processes(ctx, app, namespace)
	if err != nil || name == "" {
		return all, err
	}
	var names []string
	for _, p := range all {
		if p.Name == name {
			return []Process{p}, nil
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("%s has no process %q; its processes: %s", app, name, strings.Join(names, ", "))
}

// Scale sets the replicas of a process; it returns the previous count. A
// process that a HorizontalPodAutoscaler scales is refused: the autoscaler
// would undo it.
func (c *Client) Scale(ctx context.Context, app, namespace, name string, replicas int32) (int32, error) {
	procs, err := c.findProcesses(ctx, app, namespace, name)
	if err != nil {
		return 0, err
	}
	if len(procs) != 1 {
		return 0, fmt.Errorf("name the process to scale")
	}
	hpas, err := c.Kube.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	for _, h := range hpas.Items {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name {
			return 0, fmt.Errorf("%s is scaled by HorizontalPodAutoscaler %s (%d to %d replicas): change its minimum or maximum in the manifests instead",
				name, h.Name, ptr.Deref(h.Spec.MinReplicas, 1), h.Spec.MaxReplicas)
		}
	}
	var before int32
	// The Deployment's controller writes its status meanwhile: read and write
	// again on a conflict.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := c.Kube.AppsV1().Deployments(namespace).GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		before = scale.Spec.Replicas
		scale.Spec.Replicas = replicas
		_, err = c.Kube.AppsV1().Deployments(namespace).UpdateScale(ctx, name, scale, metav1.UpdateOptions{FieldManager: contract.FieldManagerScale})
		return err
	})
	if err != nil {
		return before, fmt.Errorf("scaling %s: %w", name, err)
	}
	return before, nil
}

// LogOptions select the logs to show.
type LogOptions struct {
	App, Namespace, Process string
	Follow                  bool
	Tail                    int64
	// Color prefixes each pod's lines in its own color.
	Color bool
}

var podColors = []string{"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m"}

// Logs streams the logs of every pod of a process (or of all processes), each
// line prefixed with its pod, until the streams end (or ctx ends with Follow).
func (c *Client) Logs(ctx context.Context, o LogOptions, w io.Writer) error {
	procs, err := c.findProcesses(ctx, o.App, o.Namespace, o.Process)
	if err != nil {
		return err
	}
	var pods []PodStatus
	for _, p := range procs {
		pods = append(pods, p.Pods...)
	}
	if len(pods) == 0 {
		return fmt.Errorf("%s has no pods to show logs of", o.App)
	}
	width := 0
	for _, p := range pods {
		width = max(width, len(p.Name))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		prefix := fmt.Sprintf("%-*s | ", width, p.Name)
		if o.Color {
			prefix = podColors[i%len(podColors)] + prefix + "\033[0m"
		}
		opts := &corev1.PodLogOptions{Follow: o.Follow}
		if o.Tail > 0 {
			opts.TailLines = &o.Tail
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := c.Kube.CoreV1().Pods(o.Namespace).GetLogs(p.Name, opts).Stream(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("pod %s: %w", p.Name, err)
				return
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}
