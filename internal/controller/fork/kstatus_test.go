package fork

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// kube deploy, Argo CD and Flux read a Fork through kstatus: a degraded fork is
// Failed (it used to look InProgress until their timeouts), one waiting for its
// copies is InProgress, a ready one Current, and a status of an older
// generation InProgress.
func TestForkStatusSpeaksKstatus(t *testing.T) {
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	for _, c := range []struct {
		name string
		res  result
		want status.Status
	}{
		{"degraded", result{problems: []string{"ForkProfile x not found"}}, status.FailedStatus},
		{"waiting", result{copies: []forkv1.Copy{{Name: "web-fork-a"}}}, status.InProgressStatus},
		{"ready", result{copies: []forkv1.Copy{{Name: "web-fork-a", Available: true}}}, status.CurrentStatus},
	} {
		f := &forkv1.Fork{ObjectMeta: metav1.ObjectMeta{Name: "a", Generation: 3}}
		st := f.Status.DeepCopy()
		r.setStatus(f, st, &c.res)
		f.Status = *st
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := status.Compute(&unstructured.Unstructured{Object: m})
		if err != nil || got.Status != c.want {
			t.Errorf("%s: kstatus %v (%s), want %v", c.name, got.Status, got.Message, c.want)
		}
		// A spec change the controller has not seen yet: in progress again.
		m["metadata"].(map[string]any)["generation"] = int64(4)
		if got, _ := status.Compute(&unstructured.Unstructured{Object: m}); got.Status != status.InProgressStatus {
			t.Errorf("%s, newer generation: kstatus %v", c.name, got.Status)
		}
	}
}
