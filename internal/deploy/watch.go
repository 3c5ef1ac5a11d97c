package deploy

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// statusEvent is a change of one object's status, or (synced) the news that
// every informer has listed its objects once: what is still unknown then does
// not exist.
type statusEvent struct {
	id      ID
	status  status.Status
	message string
	synced  bool
}

// watchStatus reports the kstatus of ids as they change: one informer (a list,
// then a watch) per kind and namespace, until ctx ends.
func (c *Client) watchStatus(ctx context.Context, ids []ID) (<-chan statusEvent, error) {
	want := map[ID]bool{}
	type target struct {
		gvr       schema.GroupVersionResource
		namespace string
	}
	targets := map[target]bool{}
	for _, id := range ids {
		want[id] = true
		m, err := c.mapping(id.GroupKind())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id.Short(), err)
		}
		targets[target{m.Resource, id.Namespace}] = true
	}
	out := make(chan statusEvent, 64)
	send := func(ev statusEvent) {
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	}
	report := func(obj any, deleted bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj, deleted = d.Obj, true
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		id := IDOf(u)
		if !want[id] {
			return
		}
		if deleted {
			send(statusEvent{id: id, status: status.NotFoundStatus, message: "deleted"})
			return
		}
		st, msg := Readiness(u)
		send(statusEvent{id: id, status: st, message: msg})
	}
	var synced []cache.InformerSynced
	for t := range targets {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.Dynamic, time.Hour, t.namespace, nil)
		inf := f.ForResource(t.gvr).Informer()
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { report(obj, false) },
			UpdateFunc: func(_, obj any) { report(obj, false) },
			DeleteFunc: func(obj any) { report(obj, true) },
		})
		if err != nil {
			return nil, err
		}
		synced = append(synced, inf.HasSynced)
		f.Start(ctx.Done())
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			send(statusEvent{synced: true})
		}
	}()
	return out, nil
}

// Readiness is kstatus's verdict on an object, except for Jobs: kstatus counts
// a started Job as Current, but a deploy waits until it has completed (a
// migration before the next sync wave must have run). It is the one answer to
// "is this ready?": deploy's wait, kube status and the console's pages.
func Readiness(u *unstructured.Unstructured) (status.Status, string) {
	if u.GetKind() == "Job" && u.GroupVersionKind().Group == "batch" {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["status"] != "True" {
				continue
			}
			switch m["type"] {
			case "Complete":
				return status.CurrentStatus, "Job completed"
			case "Failed":
				msg, _ := m["message"].(string)
				return status.FailedStatus, "Job failed: " + msg
			}
		}
		return status.InProgressStatus, "Job has not completed yet"
	}
	res, err := status.Compute(u)
	if err != nil {
		return status.UnknownStatus, err.Error()
	}
	return res.Status, res.Message
}
