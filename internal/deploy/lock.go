package deploy

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Deploys of one app are serialised by a Lease in its namespace, taken with
// client-go's leader election (optimistic writes of the Lease): the holder
// renews it while it works, and one that crashed loses it once the others have
// seen it unrenewed for the lease's duration (their own clocks, not the holder's).
const defaultLockDuration = 30 * time.Second

// LockName is the Lease that serialises the deploys of app.
func LockName(app string) string { return "kube-deploy-" + app }

// LockOptions say what to do when another deploy holds the app.
type LockOptions struct {
	// Wait is how long to wait for the other deploy to finish; 0 fails at once,
	// naming who holds it and since when.
	Wait time.Duration
	// Holder names this deploy (who, where); the process id and the time are added.
	Holder string
	// Waiting is told once who holds the lock when this deploy starts waiting.
	Waiting func(holder string)
	// Duration of the lease (default 30s): how long a crashed holder blocks others.
	Duration time.Duration
}

// LockedError says who holds an app's deploy lock.
type LockedError struct {
	App, Holder string
	Waited      time.Duration
}

func (e *LockedError) Error() string {
	if e.Waited > 0 {
		return fmt.Sprintf("%s is still being deployed by %s after waiting %s: try again later (--lock-wait sets how long to wait)", e.App, e.Holder, e.Waited)
	}
	return fmt.Sprintf("%s is being deployed by %s: wait for it, or pass --lock-wait 5m to wait", e.App, e.Holder)
}

// lock holds an app's deploy lock until release is called. lost is closed if
// the lock is lost before (this process could not renew it in time): the
// deploy must stop.
type lock struct {
	release func()
	lost    <-chan struct{}
}

// Lock takes the deploy lock of app in namespace.
func (c *Client) Lock(ctx context.Context, app, namespace string, o LockOptions) (*lock, error) {
	duration := o.Duration
	if duration == 0 {
		duration = defaultLockDuration
	}
	host, _ := os.Hostname()
	identity := fmt.Sprintf("%s on %s (pid %d, since %s)", o.Holder, host, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	rl := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LockName(app), Namespace: namespace},
		Client:     c.Kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	acquired := make(chan struct{})
	lost := make(chan struct{})
	otherHolder := make(chan string, 1)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            rl,
		LeaseDuration:   duration,
		RenewDeadline:   duration * 2 / 3,
		RetryPeriod:     duration / 15,
		ReleaseOnCancel: true,
		Name:            LockName(app),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(acquired) },
			OnStoppedLeading: func() { close(lost) },
			OnNewLeader: func(id string) {
				if id != identity {
					select {
					case otherHolder <- id:
					default:
					}
				}
			},
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.Run(runCtx)
	}()
	release := func() {
		cancel()
		<-done // the Lease is released (holder cleared) before this returns
	}
	var timeout <-chan time.Time
	start := time.Now()
	holder := ""
	for {
		select {
		case <-acquired:
			return &lock{release: release, lost: lost}, nil
		case h := <-otherHolder:
			holder = h
			if o.Wait <= 0 {
				release()
				return nil, &LockedError{App: app, Holder: h}
			}
			if timeout == nil {
				timeout = time.After(o.Wait - time.Since(start))
				if o.Waiting != nil {
					o.Waiting(h)
				}
			}
		case <-timeout:
			release()
			return nil, &LockedError{App: app, Holder: holder, Waited: o.Wait}
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
}
