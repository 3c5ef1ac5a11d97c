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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/pager"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/manifest"
	"github.com/kube-idp/kube/internal/yamlout"
)

// Revision records are Secrets of this type (labels and annotations in contract).
const (
	revisionSecretType = corev1.SecretType("kube-idp.dev/revision")
	manifestsKey       = "manifests.yaml.gz"
)

// DefaultKeep is how many revisions are kept per app.
const DefaultKeep = 10

// A Secret holds at most 1 MiB: a larger record is stored in parts of partSize,
// so that an app of thousands of objects keeps its history; maxParts bounds it.
const (
	partSize = 900 << 10
	maxParts = 64
)

// Revision is one recorded deploy.
type Revision struct {
	Number  int       `json:"revision"`
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	Commit  string    `json:"commit,omitempty"`
	Images  []string  `json:"images,omitempty"`
	Objects int       `json:"objects"`
	Cause   string    `json:"cause,omitempty"`
	// Content identifies the set of objects applied (a plan's ContentHash).
	Content string `json:"-"`
}

// RevisionInfo is what the caller knows about a deploy.
type RevisionInfo struct {
	User, Commit, Cause string
}

func revisionName(app string, n int) string { return fmt.Sprintf("kube-revision-%s-%d", app, n) }

func partName(app string, n, part int) string {
	return fmt.Sprintf("%s-p%d", revisionName(app, n), part)
}

// History lists an app's revisions, newest first.
func (c *Client) History(ctx context.Context, app, namespace string) ([]Revision, error) {
	list, err := c.Kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: contract.LabelApp + "=" + app + "," + contract.LabelRevision})
	if err != nil {
		return nil, fmt.Errorf("listing revisions of %s: %w", app, err)
	}
	var out []Revision
	for _, s := range list.Items {
		if s.Type != revisionSecretType {
			continue
		}
		out = append(out, RevisionOf(&s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out, nil
}

// RevisionOf reads a revision record's metadata (its labels and annotations;
// never its data), so that a fleet view can list revisions with a metadata
// client.
// AppRevision is an app's current revision on a cluster.
type AppRevision struct {
	App, Namespace string
	Revision       Revision
}

// CurrentRevisions lists every app's current revision on the cluster, from
// the revision records' metadata only (one paged list, whatever the number of
// apps; never their manifests).
func CurrentRevisions(ctx context.Context, meta metadata.Interface) ([]AppRevision, error) {
	type key struct{ namespace, app string }
	latest := map[key]Revision{}
	p := pager.New(pager.SimplePageFunc(func(o metav1.ListOptions) (runtime.Object, error) {
		return meta.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace("").List(ctx, o)
	}))
	p.PageSize = 500
	err := p.EachListItem(ctx, metav1.ListOptions{LabelSelector: contract.LabelRevision}, func(obj runtime.Object) error {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return fmt.Errorf("unexpected %T", obj)
		}
		k := key{m.Namespace, m.Labels[contract.LabelApp]}
		if r, seen := latest[k]; !seen || r.Number < RevisionOf(m).Number {
			latest[k] = RevisionOf(m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing revision records: %w", err)
	}
	out := make([]AppRevision, 0, len(latest))
	for k, r := range latest {
		out = append(out, AppRevision{App: k.app, Namespace: k.namespace, Revision: r})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].App != out[j].App {
			return out[i].App < out[j].App
		}
		return out[i].Namespace < out[j].Namespace
	})
	return out, nil
}

func RevisionOf(m metav1.Object) Revision {
	n, _ := strconv.Atoi(m.GetLabels()[contract.LabelRevision])
	a := m.GetAnnotations()
	r := Revision{Number: n, Time: m.GetCreationTimestamp().Time, User: a[contract.AnnotationRevisionUser],
		Commit: a[contract.AnnotationRevisionCommit], Cause: a[contract.AnnotationRevisionCause], Content: a[contract.AnnotationRevisionContent]}
	if im := a[contract.AnnotationRevisionImages]; im != "" {
		r.Images = strings.Split(im, ",")
	}
	r.Objects, _ = strconv.Atoi(a[contract.AnnotationRevisionObjects])
	return r
}

// record is a revision ready to be written. It is built before anything is
// applied, so that one that cannot be stored stops the deploy before it
// changes anything.
type record struct {
	parts   [][]byte // the gzipped manifests, Secrets without their values
	objects int
	images  []string
	content string
}

func makeRecord(app string, objs []*unstructured.Unstructured, content string) (*record, error) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	size := 0
	for _, o := range objs {
		data, err := yamlout.Marshal(withoutSecretValues(o).Object)
		if err != nil {
			return nil, err
		}
		_, _ = w.Write([]byte("---\n"))
		_, _ = w.Write(data)
		size += 4 + len(data)
	}
	if size > MaxRevisionBytes {
		return nil, fmt.Errorf("the revision record of %s would hold %d MiB of manifests, more than kube reads back (%d MiB): nothing was applied; split the app", app, size>>20, MaxRevisionBytes>>20)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	rec := &record{objects: len(objs), images: images(objs), content: content}
	data := gz.Bytes()
	for len(data) > 0 {
		n := min(partSize, len(data))
		rec.parts = append(rec.parts, data[:n])
		data = data[n:]
	}
	if len(rec.parts) > maxParts {
		return nil, fmt.Errorf("the revision record of %s would take %d MiB compressed, more than kube stores (%d MiB): nothing was applied; split the app", app, gz.Len()>>20, maxParts*partSize>>20)
	}
	return rec, nil
}

// writeRecord stores a revision (its parts first, then the revision itself, so
// that a revision that exists is complete) and trims the history to keep.
func (c *Client) writeRecord(ctx context.Context, inv *Inventory, rec *record, info RevisionInfo, keep int) (int, error) {
	secrets := c.Kube.CoreV1().Secrets(inv.Namespace)
	for attempt := 0; ; attempt++ {
		hist, err := c.History(ctx, inv.App, inv.Namespace)
		if err != nil {
			return 0, err
		}
		n := 1
		if len(hist) > 0 {
			n = hist[0].Number + 1
		}
		for i, part := range rec.parts[min(1, len(rec.parts)):] {
			p := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: partName(inv.App, n, i+2), Namespace: inv.Namespace,
					Labels: map[string]string{contract.LabelApp: inv.App, contract.LabelRevisionPart: strconv.Itoa(n)}},
				Type: revisionSecretType,
				Data: map[string][]byte{manifestsKey: part},
			}
			if _, err := secrets.Create(ctx, p, metav1.CreateOptions{FieldManager: contract.FieldManager}); apierrors.IsAlreadyExists(err) {
				_, err = secrets.Update(ctx, p, metav1.UpdateOptions{FieldManager: contract.FieldManager}) // left by an interrupted write
				if err != nil {
					return 0, fmt.Errorf("recording revision %d: %w", n, err)
				}
			} else if err != nil {
				return 0, fmt.Errorf("recording revision %d: %w", n, err)
			}
		}
		var first []byte
		if len(rec.parts) > 0 {
			first = rec.parts[0]
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      revisionName(inv.App, n),
				Namespace: inv.Namespace,
				Labels:    map[string]string{contract.LabelApp: inv.App, contract.LabelRevision: strconv.Itoa(n)},
				Annotations: map[string]string{
					contract.AnnotationRevisionUser: info.User, contract.AnnotationRevisionCommit: info.Commit, contract.AnnotationRevisionCause: info.Cause,
					contract.AnnotationRevisionImages: strings.Join(rec.images, ","), contract.AnnotationRevisionObjects: strconv.Itoa(rec.objects),
					contract.AnnotationRevisionParts: strconv.Itoa(max(1, len(rec.parts))), contract.AnnotationRevisionContent: rec.content,
				},
			},
			Type: revisionSecretType,
			Data: map[string][]byte{manifestsKey: first},
		}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: contract.FieldManager})
		if apierrors.IsAlreadyExists(err) && attempt < 3 {
			continue // numbered by someone else meanwhile: take the next number
		}
		if err != nil {
			return 0, fmt.Errorf("recording revision %d: %w", n, err)
		}
		for i, old := range hist {
			if i+1 >= keep {
				c.deleteRevision(ctx, inv, old.Number)
			}
		}
		return n, nil
	}
}

func (c *Client) deleteRevision(ctx context.Context, inv *Inventory, n int) {
	secrets := c.Kube.CoreV1().Secrets(inv.Namespace)
	_ = secrets.Delete(ctx, revisionName(inv.App, n), metav1.DeleteOptions{})
	_ = secrets.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{
		LabelSelector: contract.LabelApp + "=" + inv.App + "," + contract.LabelRevisionPart + "=" + strconv.Itoa(n)})
}

// RevisionObjects returns the manifests applied by a revision, its Secrets with
// the values they have in the cluster now (revisions never hold them).
func (c *Client) RevisionObjects(ctx context.Context, app, namespace string, n int) ([]*unstructured.Unstructured, error) {
	objs, err := c.revisionManifests(ctx, app, namespace, n)
	if err != nil {
		return nil, err
	}
	if err := c.restoreSecretValues(ctx, objs); err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", n, app, err)
	}
	return objs, nil
}

// MaxRevisionBytes bounds a revision's manifests once decompressed (kube
// writes no larger one).
const MaxRevisionBytes = 32 << 20

// gunzipRecord decompresses a record's manifests. Whoever may write Secrets in
// the namespace may write a record: a small gzip bomb must not take the
// console's or the CLI's memory.
func gunzipRecord(data []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the record is damaged: %w", err)
	}
	manifests, err := io.ReadAll(io.LimitReader(r, MaxRevisionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("the record is damaged: %w", err)
	}
	if len(manifests) > MaxRevisionBytes {
		return nil, fmt.Errorf("the record holds more than %d MiB of manifests, more than kube writes: not read", MaxRevisionBytes>>20)
	}
	return manifests, nil
}

// revisionManifests are a revision's objects as recorded: Secrets without values.
func (c *Client) revisionManifests(ctx context.Context, app, namespace string, n int) ([]*unstructured.Unstructured, error) {
	s, err := c.Kube.CoreV1().Secrets(namespace).Get(ctx, revisionName(app, n), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", n, app, err)
	}
	data := bytes.Clone(s.Data[manifestsKey])
	parts, _ := strconv.Atoi(s.Annotations[contract.AnnotationRevisionParts])
	if parts > maxParts {
		return nil, fmt.Errorf("revision %d of %s claims %d parts, more than the %d kube writes: not read", n, app, parts, maxParts)
	}
	for i := 2; i <= parts; i++ {
		p, err := c.Kube.CoreV1().Secrets(namespace).Get(ctx, partName(app, n, i), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("revision %d of %s, part %d: %w", n, app, i, err)
		}
		data = append(data, p.Data[manifestsKey]...)
	}
	manifests, err := gunzipRecord(data)
	if err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", n, app, err)
	}
	objs, err := manifest.Decode(manifests)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		// Stored as applied; Deploy adds the current label and hash again.
		l := o.GetLabels()
		delete(l, contract.LabelPartOf)
		o.SetLabels(l)
		if ann := o.GetAnnotations(); ann != nil {
			delete(ann, contract.AnnotationApplied)
			o.SetAnnotations(ann)
		}
	}
	return objs, nil
}

// ObjectDiff is how one object differs between two revisions.
type ObjectDiff struct {
	ID     ID     `json:"id"`
	Change string `json:"change"` // added, removed or changed
	Diff   string `json:"diff"`   // unified diff of the YAML, Secret values masked
}

// RevisionDiff compares revision from with revision to of an app, object by
// object, from the records alone: Secret values are neither read nor shown.
func (c *Client) RevisionDiff(ctx context.Context, app, namespace string, from, to int) ([]ObjectDiff, error) {
	a, err := c.revisionManifests(ctx, app, namespace, from)
	if err != nil {
		return nil, err
	}
	b, err := c.revisionManifests(ctx, app, namespace, to)
	if err != nil {
		return nil, err
	}
	byID := func(objs []*unstructured.Unstructured) map[ID]*unstructured.Unstructured {
		m := map[ID]*unstructured.Unstructured{}
		for _, o := range objs {
			m[IDOf(o)] = o
		}
		return m
	}
	ma, mb := byID(a), byID(b)
	ids := make([]ID, 0, len(ma)+len(mb))
	for id := range ma {
		ids = append(ids, id)
	}
	for id := range mb {
		if ma[id] == nil {
			ids = append(ids, id)
		}
	}
	sortForApply(ids)
	var out []ObjectDiff
	fromLabel, toLabel := fmt.Sprintf(" (revision %d)", from), fmt.Sprintf(" (revision %d)", to)
	for _, id := range ids {
		d := diffYAML(id, ma[id], mb[id], fromLabel, toLabel)
		if d == "" {
			continue
		}
		change := "changed"
		switch {
		case ma[id] == nil:
			change = "added"
		case mb[id] == nil:
			change = "removed"
		}
		out = append(out, ObjectDiff{ID: id, Change: change, Diff: d})
	}
	return out, nil
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
