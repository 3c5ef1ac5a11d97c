package addons

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// HelmManagers are the field managers Helm applies and updates with (Helm 4
// applies server-side as "helm"; Helm 3 updated client-side as "helm").
var HelmManagers = []string{"helm"}

// HelmRelease is a release that Helm installed earlier: its records, the
// Secrets of Helm's storage driver (labels owner=helm, name=RELEASE).
type HelmRelease struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Revision  int      `json:"revision"`
	Status    string   `json:"status"`
	Records   []string `json:"records"`
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// HelmReleases finds Helm's records of releases. Only metadata is read: the
// records hold the release's values, which may include credentials.
type HelmReleases struct{ meta metadata.Interface }

// NewHelmReleases reads Helm's records through cfg.
func NewHelmReleases(cfg *rest.Config) (*HelmReleases, error) {
	m, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &HelmReleases{meta: m}, nil
}

// Find returns the Helm release name in namespace, or nil.
func (h *HelmReleases) Find(ctx context.Context, namespace, name string) (*HelmRelease, error) {
	list, err := h.meta.Resource(secretsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		return nil, fmt.Errorf("looking for Helm's records of %s: %w", name, err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	r := &HelmRelease{Name: name, Namespace: namespace}
	for _, s := range list.Items {
		r.Records = append(r.Records, s.Name)
		v, _ := strconv.Atoi(s.Labels["version"])
		if v > r.Revision {
			r.Revision, r.Status = v, s.Labels["status"]
		}
	}
	sort.Strings(r.Records)
	return r, nil
}

// Forget deletes Helm's records of r, never its objects: afterwards `helm list`
// no longer shows the release, so `helm uninstall` cannot delete what kube
// manages now.
func (h *HelmReleases) Forget(ctx context.Context, r *HelmRelease) error {
	for _, name := range r.Records {
		if err := h.meta.Resource(secretsGVR).Namespace(r.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting Helm's record %s: %w", name, err)
		}
	}
	return nil
}
