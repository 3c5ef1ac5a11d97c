package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/kube-idp/kube/internal/progress"
)

// WaitError lists the objects that did not become ready, with the reasons found
// on their pods and events.
type WaitError struct {
	Timeout  time.Duration
	NotReady []string
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("not ready after %s:\n  %s", e.Timeout, strings.Join(e.NotReady, "\n  "))
}

// Wait polls the objects until kstatus says every one is Current, showing one
// line per object (redrawn in place on a terminal, printed when it changes in CI).
// It fails early when one is Failed.
func (c *Client) Wait(ctx context.Context, ids []ID, timeout time.Duration, p *progress.Reporter) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	block := p.NewBlock()
	last := map[ID]string{}
	done := map[ID]bool{}
	for {
		var pending, failed []ID
		for _, id := range ids {
			if done[id] {
				continue
			}
			res, err := c.status(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					pending = append(pending, id)
					continue
				}
				return err
			}
			line := string(res.Status)
			if res.Message != "" {
				line += ": " + res.Message
			}
			last[id] = line
			switch res.Status {
			case status.CurrentStatus:
				done[id] = true
			case status.FailedStatus:
				failed = append(failed, id)
			default:
				pending = append(pending, id)
			}
		}
		lines := make([]string, len(ids))
		for i, id := range ids {
			lines[i] = fmt.Sprintf("  %-40s %s", id.Short(), last[id])
		}
		block.Update(lines)
		if len(failed) > 0 {
			return &WaitError{Timeout: timeout, NotReady: c.explain(context.Background(), failed, last)}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return &WaitError{Timeout: timeout, NotReady: c.explain(context.Background(), pending, last)}
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Client) status(ctx context.Context, id ID) (*status.Result, error) {
	ri, err := c.resource(id)
	if err != nil {
		return nil, err
	}
	u, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if err != nil {
		return &status.Result{Status: status.NotFoundStatus, Message: err.Error()}, nil
	}
	return status.Compute(u)
}

// explain describes why objects are not ready: their status, and for workloads
// the problems of their pods (unschedulable, image pull, crash loop) and the last
// warning events.
func (c *Client) explain(ctx context.Context, ids []ID, last map[ID]string) []string {
	var out []string
	for _, id := range ids {
		line := id.Short() + ": " + last[id]
		for _, r := range c.podProblems(ctx, id) {
			line += "\n    " + r
		}
		out = append(out, line)
	}
	return out
}

func (c *Client) podProblems(ctx context.Context, id ID) []string {
	sel := c.podSelector(ctx, id)
	if sel == nil {
		return c.warnings(ctx, id.Namespace, id.Kind, id.Name)
	}
	pods, err := c.Kube.CoreV1().Pods(id.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, pod := range pods.Items {
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				add(fmt.Sprintf("pod %s: %s: %s", pod.Name, cond.Reason, cond.Message))
			}
		}
		for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				add(fmt.Sprintf("pod %s container %s: %s: %s", pod.Name, cs.Name, w.Reason, w.Message))
			}
			if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
				add(fmt.Sprintf("pod %s container %s: last exit code %d (%s), %d restarts", pod.Name, cs.Name, t.ExitCode, t.Reason, cs.RestartCount))
			}
		}
		if len(out) < 6 {
			for _, w := range c.warnings(ctx, pod.Namespace, "Pod", pod.Name) {
				add(w)
			}
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("... and %d more", len(out)-8))
	}
	return out
}

// podSelector is the pod selector of a workload (spec.selector.matchLabels), or
// nil for other objects.
func (c *Client) podSelector(ctx context.Context, id ID) labels.Selector {
	ri, err := c.resource(id)
	if err != nil {
		return nil
	}
	u, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	sel, found, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if !found || len(sel) == 0 {
		return nil
	}
	return labels.SelectorFromSet(sel)
}

// warnings are the last warning events of an object.
func (c *Client) warnings(ctx context.Context, namespace, kind, name string) []string {
	evs, err := c.Kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name + ",type=Warning",
	})
	if err != nil {
		return nil
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	var out []string
	for i := max(0, len(evs.Items)-3); i < len(evs.Items); i++ {
		e := evs.Items[i]
		out = append(out, fmt.Sprintf("event on %s/%s: %s: %s", kind, name, e.Reason, e.Message))
	}
	return out
}
