package deploy

import (
	"context"
	"errors"
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
	// Failed is true when an object failed (rather than the time running out).
	Failed bool
}

func (e *WaitError) Error() string {
	if e.Failed {
		return fmt.Sprintf("not ready:\n  %s", strings.Join(e.NotReady, "\n  "))
	}
	return fmt.Sprintf("not ready after %s:\n  %s", e.Timeout, strings.Join(e.NotReady, "\n  "))
}

// WaitOptions say what to wait for.
type WaitOptions struct {
	IDs     []ID
	Timeout time.Duration
	// Progress shows one line per object (redrawn in place on a terminal).
	Progress *progress.Reporter
	// GoneIsDone counts an object that does not exist as ready: a Job that the
	// API server deleted after it completed (ttlSecondsAfterFinished).
	GoneIsDone map[ID]bool
	// Live is the state already read, if any: when it shows every object ready,
	// nothing is watched.
	Live map[ID]*unstructured.Unstructured
}

// Wait watches the objects (an informer per kind and namespace: one list, then
// a watch, no polling) until kstatus says every one is Current. It fails early when one is
// Failed, and at the timeout with the reasons of those not ready.
func (c *Client) Wait(ctx context.Context, o WaitOptions) error {
	if len(o.IDs) == 0 {
		return nil
	}
	if o.Live != nil && c.allReady(o) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	events, err := c.watchStatus(ctx, o.IDs)
	if err != nil {
		return err
	}
	block := o.Progress.NewBlock()
	st := map[ID]status.Status{}
	msg := map[ID]string{}
	synced := false
	show := func() {
		lines := make([]string, len(o.IDs))
		for i, id := range o.IDs {
			line := string(st[id])
			if line == "" {
				line = "Unknown"
			}
			if msg[id] != "" {
				line += ": " + msg[id]
			}
			lines[i] = fmt.Sprintf("  %-40s %s", id.Short(), line)
		}
		block.Update(lines)
	}
	notReady := func() (pending, failed []ID) {
		for _, id := range o.IDs {
			switch s := st[id]; {
			case s == status.CurrentStatus:
			case s == status.FailedStatus:
				failed = append(failed, id)
			case s == "" && synced && o.GoneIsDone[id]:
				st[id], msg[id] = status.CurrentStatus, "completed and deleted"
			default:
				pending = append(pending, id)
			}
		}
		return pending, failed
	}
	for {
		select {
		case <-ctx.Done():
			pending, _ := notReady()
			show()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &WaitError{Timeout: o.Timeout, NotReady: c.explain(context.Background(), pending, st, msg)}
			}
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return ctx.Err()
			}
			if ev.synced {
				synced = true
			} else {
				st[ev.id], msg[ev.id] = ev.status, ev.message
				if ev.status == status.NotFoundStatus && o.GoneIsDone[ev.id] {
					st[ev.id], msg[ev.id] = status.CurrentStatus, "completed and deleted"
				}
			}
			pending, failed := notReady()
			show()
			if len(failed) > 0 {
				return &WaitError{Timeout: o.Timeout, Failed: true, NotReady: c.explain(context.Background(), failed, st, msg)}
			}
			if synced && len(pending) == 0 {
				return nil
			}
		}
	}
}

// allReady tells whether the state already read shows every object ready.
func (c *Client) allReady(o WaitOptions) bool {
	for _, id := range o.IDs {
		live := o.Live[id]
		if live == nil {
			if o.GoneIsDone[id] {
				continue
			}
			return false
		}
		if st, _ := Readiness(live); st != status.CurrentStatus {
			return false
		}
	}
	return true
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
	st, msg := Readiness(u)
	return &status.Result{Status: st, Message: msg}, nil
}

// explain describes why objects are not ready: their status, and for workloads
// the problems of their pods (unschedulable, image pull, crash loop) and the last
// warning events.
func (c *Client) explain(ctx context.Context, ids []ID, st map[ID]status.Status, msg map[ID]string) []string {
	var out []string
	for _, id := range ids {
		line := id.Short() + ": " + string(st[id])
		if st[id] == "" {
			line += "NotFound"
		}
		if msg[id] != "" {
			line += ": " + msg[id]
		}
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
