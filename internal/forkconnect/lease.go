package forkconnect

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// lease is the fork's Lease: one session at a time stands in for its local
// workload. A session that dies stops renewing it, and it expires by itself.
type lease struct {
	kube            kubernetes.Interface
	namespace, name string
	fork, holder    string
	duration        time.Duration
}

// HeldError is a Lease another session holds.
type HeldError struct {
	Holder string
	Since  time.Time
	Fork   string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is connected to fork %s since %s: pass --takeover to take over its session", e.Holder, e.Fork, e.Since.UTC().Format(time.RFC3339))
}

// acquire takes the Lease: free, expired, ours, or with takeover.
func (l *lease) acquire(ctx context.Context, takeover bool) error {
	leases := l.kube.CoordinationV1().Leases(l.namespace)
	now := metav1.NowMicro()
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To(l.holder), LeaseDurationSeconds: ptr.To(int32(l.duration / time.Second)), AcquireTime: &now, RenewTime: &now}
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.name, Namespace: l.namespace}, Spec: spec}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return l.acquire(ctx, takeover) // another session was faster: look at its Lease
		}
		return l.explain(err)
	}
	if err != nil {
		return l.explain(err)
	}
	if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != "" && h != l.holder && !takeover && live(cur, time.Now()) {
		since := cur.CreationTimestamp.Time
		if cur.Spec.AcquireTime != nil {
			since = cur.Spec.AcquireTime.Time
		}
		return &HeldError{Holder: h, Since: since, Fork: l.fork}
	}
	cur.Spec = spec
	_, err = leases.Update(ctx, cur, metav1.UpdateOptions{}) // a conflict means another session took it meanwhile
	return l.explain(err)
}

func live(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// keep renews the Lease until ctx ends; it returns an error when another
// session took it.
func (l *lease) keep(ctx context.Context) error {
	t := time.NewTicker(l.duration / 3)
	defer t.Stop()
	leases := l.kube.CoordinationV1().Leases(l.namespace)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
		if err != nil {
			continue // a blip: the next tick tries again, well before expiry
		}
		if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != l.holder {
			return fmt.Errorf("%s took over the session", h)
		}
		cur.Spec.RenewTime = ptr.To(metav1.NowMicro())
		_, _ = leases.Update(ctx, cur, metav1.UpdateOptions{})
	}
}

// release deletes the Lease if it is still ours.
func (l *lease) release(ctx context.Context) error {
	leases := l.kube.CoordinationV1().Leases(l.namespace)
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || ptr.Deref(cur.Spec.HolderIdentity, "") != l.holder {
		return err
	}
	err = leases.Delete(ctx, l.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (l *lease) explain(err error) error {
	if apierrors.IsForbidden(err) {
		return &PermissionError{What: fmt.Sprintf("create and update leases in namespace %s (the fork's session Lease %s)", l.namespace, l.name), Err: err}
	}
	return err
}
