package forks

import (
	"cmp"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// View is a fork as kube fork list and status print it, -o json shows it and
// the console lists it: one model, so that they say the same thing.
type View struct {
	// Cluster is the cluster's name where several are shown (the console).
	Cluster   string     `json:"cluster,omitempty"`
	ID        string     `json:"id"`
	Namespace string     `json:"namespace"`
	Owner     string     `json:"owner,omitempty"`
	Workloads []string   `json:"workloads"`
	Created   time.Time  `json:"created"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Ready     bool       `json:"ready"`
	// State is "ready", what the fork waits for, or why it is not ready.
	State  string            `json:"state"`
	URL    string            `json:"url,omitempty"`
	Status forkv1.ForkStatus `json:"status"`
}

// ViewOf is the fork's view; cluster may be "".
func ViewOf(cluster string, f *forkv1.Fork) View {
	v := View{Cluster: cluster, ID: f.ID(), Namespace: f.Namespace, Owner: f.Spec.Owner, Workloads: []string{},
		Created: f.CreationTimestamp.Time, Ready: meta.IsStatusConditionTrue(f.Status.Conditions, forkv1.ConditionReady),
		State: State(f), URL: f.Status.URL, Status: f.Status}
	for _, w := range f.Spec.Workloads {
		name := w.Name
		if name == "" && w.Selector != nil {
			name = "(" + metav1.FormatLabelSelector(w.Selector) + ")"
		}
		v.Workloads = append(v.Workloads, cmp.Or(w.Kind, "Deployment")+"/"+name)
	}
	if f.Status.ExpiresAt != nil {
		v.ExpiresAt = &f.Status.ExpiresAt.Time
	}
	return v
}

// Views are the forks' views.
func Views(cluster string, fs []forkv1.Fork) []View {
	out := make([]View, len(fs))
	for i := range fs {
		out[i] = ViewOf(cluster, &fs[i])
	}
	return out
}
