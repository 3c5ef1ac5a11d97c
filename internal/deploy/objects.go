// Package deploy applies an app's manifests to a cluster the way a developer
// expects from one command: server-side apply in dependency order, an inventory
// of what the app owns (ApplySet-compatible), prune of what it no longer has,
// readiness wait, and revisions to roll back to.
package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/manifest"
)

// ID identifies an object: group, kind, namespace and name. Its string form
// "group/Kind/namespace/name" is what the inventory stores.
type ID struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (id ID) String() string { return id.Group + "/" + id.Kind + "/" + id.Namespace + "/" + id.Name }

// GroupKind is the object's group and kind.
func (id ID) GroupKind() schema.GroupKind { return schema.GroupKind{Group: id.Group, Kind: id.Kind} }

// Short is how people read it: Kind/name (namespace).
func (id ID) Short() string {
	s := id.Kind + "/" + id.Name
	if id.Namespace != "" {
		s += " (" + id.Namespace + ")"
	}
	return s
}

// ParseID reverses ID.String.
func ParseID(s string) (ID, error) {
	p := strings.Split(s, "/")
	if len(p) != 4 || p[1] == "" || p[3] == "" {
		return ID{}, fmt.Errorf("bad object identity %q", s)
	}
	return ID{p[0], p[1], p[2], p[3]}, nil
}

// IDOf returns the identity of an object.
func IDOf(o *unstructured.Unstructured) ID {
	gvk := o.GroupVersionKind()
	return ID{gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName()}
}

// LoadOptions select the files Load reads.
type LoadOptions struct {
	// Recursive reads the subdirectories too, as kubectl's -R does.
	Recursive bool
}

// Manifests are the objects read from a directory.
type Manifests struct {
	Objects []*unstructured.Unstructured
	// Skipped are the subdirectories that were not read (without Recursive).
	Skipped []string
}

// Load reads every object of the *.yaml, *.yml and *.json files in dir (and
// below it with Recursive), in file name order. Lists (kind: List, and typed
// lists such as ConfigMapList) are expanded into their items, as kubectl does.
// Argo CD Applications are skipped: they describe the GitOps deployment of this
// very directory and belong to the Argo CD cluster.
func Load(dir string, o LoadOptions) (*Manifests, error) {
	return loadFS(os.DirFS(dir), ".", dir, o)
}

// LoadFS is Load of the directory dir of fsys (an os.Root's FS keeps every
// read inside the root, symbolic links included).
func LoadFS(fsys fs.FS, dir string, o LoadOptions) (*Manifests, error) {
	return loadFS(fsys, dir, "", o)
}

// loadFS reads dir of fsys; messages name files under shown.
func loadFS(fsys fs.FS, dir, shown string, o LoadOptions) (*Manifests, error) {
	m := &Manifests{}
	show := func(p string) string { return filepath.Join(shown, filepath.FromSlash(p)) }
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			switch {
			case p == dir:
				return nil
			case strings.HasPrefix(name, "."):
				return fs.SkipDir
			case !o.Recursive:
				m.Skipped = append(m.Skipped, show(p))
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		objs, err := DecodeObjects(data)
		if err != nil {
			return fmt.Errorf("%s: %w", show(p), err)
		}
		m.Objects = append(m.Objects, objs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkUnique(m.Objects); err != nil {
		return nil, fmt.Errorf("%s: %w", show(dir), err)
	}
	return m, nil
}

// DecodeObjects decodes the objects of a YAML or JSON stream, expanding lists
// and skipping Argo CD Applications.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	docs, err := manifest.Decode(data)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		items, err := expandList(doc)
		if err != nil {
			return nil, err
		}
		for _, obj := range items {
			if obj.GetKind() == "Application" && obj.GroupVersionKind().Group == "argoproj.io" {
				continue
			}
			if obj.GetKind() == "" || obj.GetAPIVersion() == "" || obj.GetName() == "" {
				return nil, errors.New("an object without apiVersion, kind or metadata.name")
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// checkUnique refuses a set with an object twice.
func checkUnique(objs []*unstructured.Unstructured) error {
	seen := map[ID]bool{}
	for _, o := range objs {
		id := IDOf(o)
		if seen[id] {
			return fmt.Errorf("%s appears twice", id.Short())
		}
		seen[id] = true
	}
	return nil
}

// expandList returns a List's items (a typed list's items may omit their kind),
// or the object itself.
func expandList(o *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if !strings.HasSuffix(o.GetKind(), "List") || o.Object["items"] == nil {
		return []*unstructured.Unstructured{o}, nil
	}
	items, ok := o.Object["items"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: items is not a list", o.GetKind())
	}
	itemKind := strings.TrimSuffix(o.GetKind(), "List")
	var out []*unstructured.Unstructured
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: item %d is not an object", o.GetKind(), i)
		}
		item := &unstructured.Unstructured{Object: m}
		if item.GetKind() == "" && itemKind != "" {
			item.SetKind(itemKind)
			if item.GetAPIVersion() == "" {
				item.SetAPIVersion(o.GetAPIVersion())
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// Sync waves (contract.AnnotationSyncWave) order an app's objects explicitly, as
// Argo CD does: waves are applied in ascending order (default 0), and each wave is
// ready (a Job: complete) before the next one is applied. The same manifests
// deploy in the same order under kube and under Argo CD.

// wave is an object's sync wave (0 when unset or not a number).
func wave(o *unstructured.Unstructured) int {
	if o == nil {
		return 0
	}
	w, err := strconv.Atoi(strings.TrimSpace(o.GetAnnotations()[contract.AnnotationSyncWave]))
	if err != nil {
		return 0
	}
	return w
}

// rank orders kinds so that what others depend on is applied first (and deleted
// last): definitions, namespaces, identities and configuration, Services,
// workloads, and then what refers to a workload (autoscalers and disruption
// budgets look up their target; webhooks and API services need their backend).
func rank(gk schema.GroupKind) int {
	switch gk.Kind {
	case "CustomResourceDefinition":
		return 0
	case "Namespace":
		return 1
	case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
		"ConfigMap", "Secret", "PriorityClass", "StorageClass", "LimitRange", "ResourceQuota",
		"PersistentVolume":
		return 2
	case "Service", "PersistentVolumeClaim":
		return 3
	case "HorizontalPodAutoscaler", "PodDisruptionBudget", "VerticalPodAutoscaler",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService":
		return 5
	}
	return 4
}

// sortForApply orders objects by rank, then by identity, for stable output.
func sortForApply(ids []ID) {
	sort.SliceStable(ids, func(i, j int) bool {
		ri, rj := rank(ids[i].GroupKind()), rank(ids[j].GroupKind())
		if ri != rj {
			return ri < rj
		}
		return ids[i].String() < ids[j].String()
	})
}

// sortForDelete is the reverse of the apply order.
func sortForDelete(ids []ID) {
	sortForApply(ids)
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
}

// neverPruned are the kinds whose deletion deletes everything inside them for
// everyone (every custom resource of a CRD, every object of a Namespace): kube
// deletes them only when asked explicitly, like Helm never deletes CRDs.
func neverPruned(gk schema.GroupKind) bool {
	return (gk.Kind == "CustomResourceDefinition" && gk.Group == "apiextensions.k8s.io") || (gk.Kind == "Namespace" && gk.Group == "")
}
