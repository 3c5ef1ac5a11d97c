package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/progress"
)

// RunOptions describe a one-off task.
type RunOptions struct {
	App, Namespace string
	// Process is the Deployment whose pod template the task uses; default: the
	// one named like the app, else the app's only Deployment.
	Process string
	Command []string
	Timeout time.Duration
	// Keep leaves the Job in the cluster after it ends.
	Keep     bool
	Logs     io.Writer
	Progress *progress.Reporter
}

// Run starts a Job from a Deployment's pod template (same image, env, volumes,
// service account) running Command, streams its logs, waits for it to end, and
// deletes it. It returns the command's exit code.
func (c *Client) Run(ctx context.Context, o RunOptions) (int, error) {
	dep, err := c.process(ctx, o)
	if err != nil {
		return 0, err
	}
	job := runJob(o, dep)
	if _, err := c.Kube.BatchV1().Jobs(o.Namespace).Create(ctx, job, metav1.CreateOptions{FieldManager: contract.FieldManager}); err != nil {
		return 0, fmt.Errorf("starting the task: %w", err)
	}
	o.Progress.Printf("Started job %s/%s from Deployment %s: %s", o.Namespace, job.Name, dep.Name, strings.Join(o.Command, " "))
	if !o.Keep {
		defer func() {
			// Also after Ctrl-C: a fresh context, bounded.
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			policy := metav1.DeletePropagationBackground
			_ = c.Kube.BatchV1().Jobs(o.Namespace).Delete(dctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
		}()
	}
	return c.follow(ctx, o, job.Name, job.Spec.Template.Spec.Containers[0].Name)
}

func (c *Client) process(ctx context.Context, o RunOptions) (*appsv1.Deployment, error) {
	inv, err := c.readInventory(ctx, o.App, o.Namespace)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, id := range inv.Objects {
		if id.Kind == "Deployment" && id.Group == "apps" {
			names = append(names, id.Name)
		}
	}
	sort.Strings(names)
	name := o.Process
	switch {
	case name != "":
	case slices.Contains(names, o.App):
		name = o.App
	case len(names) == 1:
		name = names[0]
	case len(names) == 0:
		return nil, fmt.Errorf("%s has no deployed Deployment in namespace %s to take the task's pod from: deploy it first", o.App, o.Namespace)
	default:
		return nil, fmt.Errorf("%s has several Deployments (%s): choose one with --process", o.App, strings.Join(names, ", "))
	}
	dep, err := c.Kube.AppsV1().Deployments(o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("Deployment %s of %s: %w", name, o.App, err)
	}
	return dep, nil
}

// runJob copies the pod template with its own labels (so that no Service of the
// app sends it traffic), only the main container, no probes, and the command.
func runJob(o RunOptions, dep *appsv1.Deployment) *batchv1.Job {
	name := fmt.Sprintf("%s-run-%s", dep.Name, strconv.FormatInt(time.Now().UnixMilli(), 36))
	if len(name) > 63 {
		name = name[len(name)-63:]
		name = strings.TrimLeft(name, "-")
	}
	labels := map[string]string{contract.LabelApp: o.App, contract.LabelRun: name}
	tmpl := dep.Spec.Template.DeepCopy()
	tmpl.Labels = labels
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	main := tmpl.Spec.Containers[0]
	main.Command, main.Args = o.Command, nil
	main.ReadinessProbe, main.LivenessProbe, main.StartupProbe, main.Ports = nil, nil, nil, nil
	tmpl.Spec.Containers = []corev1.Container{main}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: o.Namespace, Labels: labels,
			Annotations: map[string]string{contract.AnnotationCommand: strings.Join(o.Command, " ")},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			// The cluster removes it even if kube is killed before cleaning up.
			TTLSecondsAfterFinished: ptr.To[int32](3600),
			Template:                *tmpl,
		},
	}
	if o.Timeout > 0 {
		job.Spec.ActiveDeadlineSeconds = ptr.To(int64(o.Timeout.Seconds()))
	}
	return job
}

// follow streams the pod's logs and waits for the container to end.
func (c *Client) follow(ctx context.Context, o RunOptions, job, container string) (int, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout+30*time.Second)
		defer cancel()
	}
	streaming := false
	logsDone := make(chan struct{})
	// The log stream is followed; once the container has ended it gets a moment
	// to drain, then it is closed (some servers keep a followed stream open).
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	for {
		pods, err := c.Kube.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
		if err != nil {
			return 0, err
		}
		if len(pods.Items) > 0 {
			pod := pods.Items[0]
			st := containerState(&pod, container)
			if !streaming && (st.Running != nil || st.Terminated != nil) {
				streaming = true
				go func() {
					defer close(logsDone)
					c.streamLogs(logCtx, o, pod.Name, container)
				}()
			}
			if t := st.Terminated; t != nil {
				select {
				case <-logsDone:
				case <-time.After(3 * time.Second):
					stopLogs()
					<-logsDone
				}
				return int(t.ExitCode), nil
			}
			for _, cond := range pod.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					o.Progress.Printf("  waiting: %s", cond.Message)
				}
			}
		}
		j, err := c.Kube.BatchV1().Jobs(o.Namespace).Get(ctx, job, metav1.GetOptions{})
		if err == nil {
			for _, cond := range j.Status.Conditions {
				if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue && len(pods.Items) == 0 {
					return 0, fmt.Errorf("the task failed before it started: %s: %s", cond.Reason, cond.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return 0, fmt.Errorf("the task did not end within %s", o.Timeout)
			}
			return 0, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func containerState(pod *corev1.Pod, container string) corev1.ContainerState {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container {
			return cs.State
		}
	}
	return corev1.ContainerState{}
}

// streamLogs copies the container's log to o.Logs. Clusters without a kubelet
// (the sandbox's fake nodes) have no logs: that is reported once, not fatal.
func (c *Client) streamLogs(ctx context.Context, o RunOptions, pod, container string) {
	if o.Logs == nil {
		return
	}
	rc, err := c.Kube.CoreV1().Pods(o.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		o.Progress.Printf("  (logs are not available: %v)", err)
		return
	}
	defer rc.Close()
	_, _ = io.Copy(o.Logs, rc)
}
