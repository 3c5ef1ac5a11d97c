package deploy

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kube-idp/kube/internal/manifest"
)

// Revision labels and annotations.
const (
	LabelRevision      = "kube-idp.dev/revision"
	annotationUser     = "kube-idp.dev/user"
	annotationCommit   = "kube-idp.dev/commit"
	annotationImages   = "kube-idp.dev/images"
	annotationCause    = "kube-idp.dev/cause"
	revisionSecretType = corev1.SecretType("kube-idp.dev/revision")
	manifestsKey       = "manifests.yaml.gz"
)

// DefaultKeep is how many revisions are kept per app.
const DefaultKeep = 10

// Revision is one recorded deploy.
type Revision struct {
	Number  int       `json:"revision"`
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	Commit  string    `json:"commit,omitempty"`
	Images  []string  `json:"images,omitempty"`
	Objects int       `json:"objects"`
	Cause   string    `json:"cause,omitempty"`
}

// RevisionInfo is what the caller knows about a deploy.
type RevisionInfo struct {
	User, Commit, Cause string
}

func revisionName(app string, n int) string { return fmt.Sprintf("kube-revision-%s-%d", app, n) }

// History lists an app's revisions, newest first.
func (c *Client) History(ctx context.Context, app, namespace string) ([]Revision, error) {
	list, err := c.Kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelApp + "=" + app + "," + LabelRevision})
	if err != nil {
		return nil, fmt.Errorf("listing revisions of %s: %w", app, err)
	}
	var out []Revision
	for _, s := range list.Items {
		if s.Type != revisionSecretType {
			continue
		}
		n, _ := strconv.Atoi(s.Labels[LabelRevision])
		r := Revision{Number: n, Time: s.CreationTimestamp.Time, User: s.Annotations[annotationUser],
			Commit: s.Annotations[annotationCommit], Cause: s.Annotations[annotationCause]}
		if im := s.Annotations[annotationImages]; im != "" {
			r.Images = strings.Split(im, ",")
		}
		r.Objects, _ = strconv.Atoi(s.Annotations["kube-idp.dev/objects"])
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out, nil
}

// record stores a revision with the applied manifests (gzipped, Secrets without
// their values) and trims the history to keep revisions.
func (c *Client) record(ctx context.Context, inv *Inventory, objs []*unstructured.Unstructured, info RevisionInfo, keep int) (int, error) {
	hist, err := c.History(ctx, inv.App, inv.Namespace)
	if err != nil {
		return 0, err
	}
	n := 1
	if len(hist) > 0 {
		n = hist[0].Number + 1
	}
	var stream bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(withoutSecretValues(o).Object)
		if err != nil {
			return 0, err
		}
		stream.WriteString("---\n")
		stream.Write(data)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	if _, err := w.Write(stream.Bytes()); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      revisionName(inv.App, n),
			Namespace: inv.Namespace,
			Labels:    map[string]string{LabelApp: inv.App, LabelRevision: strconv.Itoa(n)},
			Annotations: map[string]string{
				annotationUser: info.User, annotationCommit: info.Commit, annotationCause: info.Cause,
				annotationImages: strings.Join(images(objs), ","), "kube-idp.dev/objects": strconv.Itoa(len(objs)),
			},
		},
		Type: revisionSecretType,
		Data: map[string][]byte{manifestsKey: gz.Bytes()},
	}
	if _, err := c.Kube.CoreV1().Secrets(inv.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		return 0, fmt.Errorf("recording revision %d: %w", n, err)
	}
	for i, old := range hist {
		if i+1 >= keep {
			_ = c.Kube.CoreV1().Secrets(inv.Namespace).Delete(ctx, revisionName(inv.App, old.Number), metav1.DeleteOptions{})
		}
	}
	return n, nil
}

// RevisionObjects returns the manifests applied by a revision, its Secrets with
// the values they have in the cluster now (revisions never hold them).
func (c *Client) RevisionObjects(ctx context.Context, app, namespace string, n int) ([]*unstructured.Unstructured, error) {
	s, err := c.Kube.CoreV1().Secrets(namespace).Get(ctx, revisionName(app, n), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", n, app, err)
	}
	r, err := gzip.NewReader(bytes.NewReader(s.Data[manifestsKey]))
	if err != nil {
		return nil, fmt.Errorf("revision %d of %s is damaged: %w", n, app, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Decode(data)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		// Stored with the inventory label; Deploy adds the current one again.
		l := o.GetLabels()
		delete(l, LabelPartOf)
		o.SetLabels(l)
	}
	if err := c.restoreSecretValues(ctx, objs); err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", n, app, err)
	}
	return objs, nil
}

// images lists the container images of the workloads, sorted and unique.
func images(objs []*unstructured.Unstructured) []string {
	set := map[string]bool{}
	for _, o := range objs {
		for _, c := range containers(o) {
			if im, ok := c["image"].(string); ok {
				set[im] = true
			}
		}
	}
	return sortedKeys(set)
}

// containers returns the (mutable) container maps of a workload's pod template.
func containers(o *unstructured.Unstructured) []map[string]any {
	var podSpec []string
	switch o.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		podSpec = []string{"spec", "template", "spec"}
	case "CronJob":
		podSpec = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	case "Pod":
		podSpec = []string{"spec"}
	default:
		return nil
	}
	var out []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		// NoCopy: callers change the images in place.
		v, _, _ := unstructured.NestedFieldNoCopy(o.Object, append(podSpec, field)...)
		list, _ := v.([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}
