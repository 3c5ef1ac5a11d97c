// Package deploy applies an app's manifests to a cluster the way a developer
// expects from one command: server-side apply in dependency order, an inventory
// of what the app owns (ApplySet-compatible), prune of what it no longer has,
// readiness wait, and revisions to roll back to.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

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

// Load reads every object of the *.yaml, *.yml and *.json files directly in dir.
// Argo CD Applications are skipped: they describe the GitOps deployment of this
// very directory and belong to the Argo CD cluster.
func Load(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		docs, err := manifest.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, o := range docs {
			if o.GetKind() == "Application" && o.GroupVersionKind().Group == "argoproj.io" {
				continue
			}
			if o.GetKind() == "" || o.GetAPIVersion() == "" || o.GetName() == "" {
				return nil, fmt.Errorf("%s: an object without apiVersion, kind or metadata.name", path)
			}
			objs = append(objs, o)
		}
	}
	seen := map[ID]bool{}
	for _, o := range objs {
		id := IDOf(o)
		if seen[id] {
			return nil, fmt.Errorf("%s: %s appears twice", dir, id.Short())
		}
		seen[id] = true
	}
	return objs, nil
}

// rank orders kinds so that what others depend on is applied first (and deleted last).
func rank(gk schema.GroupKind) int {
	switch gk.Kind {
	case "CustomResourceDefinition":
		return 0
	case "Namespace":
		return 1
	case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
		"ConfigMap", "Secret", "PriorityClass", "StorageClass", "LimitRange", "ResourceQuota":
		return 2
	case "Service", "PersistentVolumeClaim":
		return 3
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
