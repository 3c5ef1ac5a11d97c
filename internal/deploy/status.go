package deploy

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// AppStatus is the `kube status` view of an app: what it owns, whether each
// object is ready, the pods of each workload, the current revision, and the last
// events in its namespace.
type AppStatus struct {
	App       string `json:"app"`
	Namespace string `json:"namespace"`
	// Verdict is the app's readiness: the worst of its objects' (Verdict).
	Verdict  string         `json:"verdict"`
	Revision *Revision      `json:"revision,omitempty"`
	Objects  []ObjectStatus `json:"objects"`
	Pods     []PodStatus    `json:"pods,omitempty"`
	Events   []EventLine    `json:"events,omitempty"`
	Missing  []string       `json:"missing,omitempty"` // in the inventory but gone from the cluster
}

// ObjectStatus is one object's readiness, as kstatus computes it.
type ObjectStatus struct {
	ID      ID     `json:"id"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// PodStatus is one pod of a workload.
type PodStatus struct {
	Workload string    `json:"workload"`
	Name     string    `json:"name"`
	Phase    string    `json:"phase"`
	Ready    string    `json:"ready"`
	Restarts int32     `json:"restarts"`
	Node     string    `json:"node,omitempty"`
	Started  time.Time `json:"started,omitempty"`
}

// EventLine is an event in the app's namespace.
type EventLine struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Object  string    `json:"object"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// Status reads the app's inventory and reports on every object in it.
func (c *Client) Status(ctx context.Context, app, namespace string) (*AppStatus, error) {
	inv, err := c.readInventory(ctx, app, namespace)
	if err != nil {
		return nil, err
	}
	if !inv.Exists {
		return nil, fmt.Errorf("%s has never been deployed to namespace %s of this cluster (no inventory %s)", app, namespace, inv.Name)
	}
	st := &AppStatus{App: app, Namespace: namespace}
	if hist, err := c.History(ctx, app, namespace); err == nil && len(hist) > 0 {
		st.Revision = &hist[0]
	}
	ids := append([]ID{}, inv.Objects...)
	sortForApply(ids)
	for _, id := range ids {
		res, err := c.status(ctx, id)
		if err != nil {
			st.Objects = append(st.Objects, ObjectStatus{ID: id, Status: "Unknown", Message: err.Error()})
			continue
		}
		if res.Status == "NotFound" {
			st.Missing = append(st.Missing, id.Short())
			continue
		}
		st.Objects = append(st.Objects, ObjectStatus{ID: id, Status: string(res.Status), Message: res.Message})
		if w := workloadSelector(ctx, c, id); w != nil {
			st.Pods = append(st.Pods, c.pods(ctx, id, w)...)
		}
	}
	st.Events = c.events(ctx, namespace, 10)
	verdicts := make([]string, 0, len(st.Objects)+len(st.Missing))
	for _, o := range st.Objects {
		verdicts = append(verdicts, o.Status)
	}
	for range st.Missing {
		verdicts = append(verdicts, string(status.NotFoundStatus))
	}
	st.Verdict = Verdict(verdicts...)
	return st, nil
}

// verdictRank orders kstatus's statuses from ready to broken.
var verdictRank = map[string]int{
	string(status.CurrentStatus): 0, string(status.UnknownStatus): 1, string(status.InProgressStatus): 2,
	string(status.TerminatingStatus): 3, string(status.NotFoundStatus): 4, string(status.FailedStatus): 5,
}

// Verdict is the worst of objects' statuses (Readiness's): an app is Current
// only when every object is; with no object to judge, Current.
func Verdict(statuses ...string) string {
	worst := string(status.CurrentStatus)
	for _, s := range statuses {
		if verdictRank[s] > verdictRank[worst] {
			worst = s
		}
	}
	return worst
}

func workloadSelector(ctx context.Context, c *Client, id ID) labels.Selector {
	switch id.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		return c.podSelector(ctx, id)
	}
	return nil
}

func (c *Client) pods(ctx context.Context, id ID, sel labels.Selector) []PodStatus {
	list, err := c.Kube.CoreV1().Pods(id.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil
	}
	var out []PodStatus
	for _, p := range list.Items {
		ready, total := 0, len(p.Spec.Containers)
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		ps := PodStatus{Workload: id.Kind + "/" + id.Name, Name: p.Name, Phase: string(p.Status.Phase),
			Ready: fmt.Sprintf("%d/%d", ready, total), Restarts: restarts, Node: p.Spec.NodeName}
		if p.Status.StartTime != nil {
			ps.Started = p.Status.StartTime.Time
		}
		if p.DeletionTimestamp != nil {
			ps.Phase = "Terminating"
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Client) events(ctx context.Context, namespace string, n int) []EventLine {
	list, err := c.Kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	evs := list.Items
	when := func(e corev1.Event) time.Time {
		if !e.LastTimestamp.IsZero() {
			return e.LastTimestamp.Time
		}
		return e.EventTime.Time
	}
	sort.Slice(evs, func(i, j int) bool { return when(evs[i]).Before(when(evs[j])) })
	var out []EventLine
	for i := max(0, len(evs)-n); i < len(evs); i++ {
		e := evs[i]
		out = append(out, EventLine{Time: when(e), Type: e.Type, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Reason: e.Reason, Message: e.Message})
	}
	return out
}
