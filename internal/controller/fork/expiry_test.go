package fork

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

func TestExpiry(t *testing.T) {
	created := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	changed := created.Add(3 * time.Hour)
	status := &forkv1.ForkStatus{LastChangeTime: &metav1.Time{Time: changed}}
	fork := func(ttl time.Duration, from string) *forkv1.Fork {
		f := &forkv1.Fork{Spec: forkv1.ForkSpec{TTLFrom: from}}
		f.CreationTimestamp = metav1.Time{Time: created}
		if ttl > 0 {
			f.Spec.TTL = &metav1.Duration{Duration: ttl}
		}
		return f
	}
	if got := expiry(fork(8*time.Hour, forkv1.TTLFromCreation), status); !got.Equal(created.Add(8 * time.Hour)) {
		t.Errorf("from creation: %v", got)
	}
	if got := expiry(fork(8*time.Hour, forkv1.TTLFromLastChange), status); !got.Equal(changed.Add(8 * time.Hour)) {
		t.Errorf("from the last change: %v", got)
	}
	if got := expiry(fork(0, ""), status); got != nil {
		t.Errorf("without a TTL: %v", got)
	}
}
