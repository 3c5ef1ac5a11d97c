package infra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kube-idp/kube/internal/exitstatus"
)

// Annotations of a root's pull request lock.
const (
	LockRootAnnotation   = "infra.kube-idp.dev/root"
	LockPRAnnotation     = "infra.kube-idp.dev/pull-request"
	LockCommitAnnotation = "infra.kube-idp.dev/commit"
)

// PRLock is the opt-in lock of a root from plan to merge (kube-infra.yaml's
// lock: pull-request): a Lease held by one pull request, so that two pull
// requests cannot both plan the same root against the same state. It expires
// by itself after TTL without a new plan: a lock never outlives a forgotten
// pull request for long, and kube infra unlock frees it at once.
type PRLock struct {
	Kube      kubernetes.Interface
	Namespace string
	TTL       time.Duration
}

// LockedError is a root another pull request holds.
type LockedError struct {
	Root         string
	PR           int
	Since, Until time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by pull request #%d since %s, until it is applied or closed (at the latest %s): wait, or free it with kube infra unlock %s",
		e.Root, e.PR, e.Since.UTC().Format(time.RFC3339), e.Until.UTC().Format(time.RFC3339), e.Root)
}

// LockName is the Lease of a root (roots may hold characters a name cannot).
func LockName(root string) string {
	sum := sha256.Sum256([]byte(root))
	return "kube-infra-" + hex.EncodeToString(sum[:8])
}

func holder(pr int) string { return "pull-request-" + strconv.Itoa(pr) }

// Acquire takes or renews the root's lock for pull request pr: free, expired
// or already its own. A conflict (another plan took it meanwhile) is retried
// once by reading the Lease again.
func (l PRLock) Acquire(ctx context.Context, root string, pr int, commit string) error {
	leases := l.Kube.CoordinationV1().Leases(l.Namespace)
	now := metav1.NowMicro()
	meta := metav1.ObjectMeta{Name: LockName(root), Namespace: l.Namespace, Annotations: map[string]string{
		LockRootAnnotation: root, LockPRAnnotation: strconv.Itoa(pr), LockCommitAnnotation: commit}}
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder(pr)), LeaseDurationSeconds: ptr.To(int32(l.TTL / time.Second)), AcquireTime: &now, RenewTime: &now}
	for attempt := 0; ; attempt++ {
		cur, err := leases.Get(ctx, meta.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: meta, Spec: spec}, metav1.CreateOptions{})
		} else if err == nil {
			if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != "" && h != holder(pr) && leaseLive(cur, time.Now()) {
				n, _ := strconv.Atoi(cur.Annotations[LockPRAnnotation])
				since := cur.CreationTimestamp.Time
				if cur.Spec.AcquireTime != nil {
					since = cur.Spec.AcquireTime.Time
				}
				return &LockedError{Root: root, PR: n, Since: since, Until: leaseEnd(cur)}
			}
			if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h == holder(pr) && cur.Spec.AcquireTime != nil {
				spec.AcquireTime = cur.Spec.AcquireTime // renewed, not taken again
			}
			cur.Annotations, cur.Spec = meta.Annotations, spec
			_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if (apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err)) && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("the lock of %s (Lease %s/%s): %w", root, l.Namespace, meta.Name, err)
		}
		return nil
	}
}

// Release frees the root's lock if pull request pr holds it (pr 0: whoever
// does). It says whether there was a lock to free.
func (l PRLock) Release(ctx context.Context, root string, pr int) (bool, error) {
	leases := l.Kube.CoordinationV1().Leases(l.Namespace)
	cur, err := leases.Get(ctx, LockName(root), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if pr != 0 && ptr.Deref(cur.Spec.HolderIdentity, "") != holder(pr) {
		return false, nil
	}
	err = leases.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func leaseEnd(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
}

func leaseLive(l *coordinationv1.Lease, now time.Time) bool { return now.Before(leaseEnd(l)) }

// LockOptions reach the cluster that holds the pull request locks.
type LockOptions struct {
	// PR is the pull request planned, applied or unlocked.
	PR int
	// Cluster connects to the cluster of the Leases (kube's -c or
	// --kubeconfig); it is only called when kube-infra.yaml says
	// lock: pull-request.
	Cluster func() (kubernetes.Interface, error)
}

// prLock is the config's pull request lock, or nil when it has none.
func (o LockOptions) prLock(c *Config) (*PRLock, error) {
	if c.Lock != LockPullRequest {
		return nil, nil
	}
	if o.Cluster == nil {
		return nil, fmt.Errorf("%s says lock: pull-request, and no cluster holds the locks: name it with -c or --kubeconfig", c.Path)
	}
	kube, err := o.Cluster()
	if err != nil {
		return nil, fmt.Errorf("%s says lock: pull-request: %w", c.Path, err)
	}
	return &PRLock{Kube: kube, Namespace: c.LockNamespace, TTL: c.LockFor}, nil
}

// Unlock frees a root's pull request lock: the one pr holds, or (pr 0)
// whoever holds it.
func Unlock(ctx context.Context, repo, root string, o LockOptions) (bool, error) {
	c, root, err := loadRoot(repo, root)
	if err != nil {
		return false, err
	}
	l, err := o.prLock(c)
	if err != nil {
		return false, exitstatus.Input(err)
	}
	if l == nil {
		return false, exitstatus.Input(fmt.Errorf("%s has no pull request locks (lock: %s)", c.Path, c.Lock))
	}
	return l.Release(ctx, root, o.PR)
}
