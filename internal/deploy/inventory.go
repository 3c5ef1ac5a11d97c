package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
)

// ApplySet labels and annotations (KEP-3659), so that `kubectl` sees the set too.
const (
	LabelApplySetID          = "applyset.kubernetes.io/id"
	LabelPartOf              = "applyset.kubernetes.io/part-of"
	AnnotationTooling        = "applyset.kubernetes.io/tooling"
	AnnotationGroupKinds     = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationAdditionalNSes = "applyset.kubernetes.io/additional-namespaces"
	LabelApp                 = "kube-idp.dev/app"
	// inventoryKey holds the identities of the set's objects, one per line: prune
	// needs no list call, and the size grows by one short line per object.
	inventoryKey = "inventory"
	// FieldManager owns every field kube applies.
	FieldManager = "kube"
)

// Inventory is the set of objects an app owns, recorded in a parent Secret.
type Inventory struct {
	App       string
	Namespace string
	Name      string
	ID        string // the ApplySet id, the value of members' part-of label
	Objects   []ID
	Exists    bool
}

// InventoryName is the parent Secret's name.
func InventoryName(app string) string { return "kube-inventory-" + app }

// applySetID follows KEP-3659: base64url(sha256(name.namespace.kind.group)).
func applySetID(name, namespace string) string {
	sum := sha256.Sum256([]byte(name + "." + namespace + ".Secret."))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

func newInventory(app, namespace string) *Inventory {
	name := InventoryName(app)
	return &Inventory{App: app, Namespace: namespace, Name: name, ID: applySetID(name, namespace)}
}

func (c *Client) readInventory(ctx context.Context, app, namespace string) (*Inventory, error) {
	inv := newInventory(app, namespace)
	s, err := c.Kube.CoreV1().Secrets(namespace).Get(ctx, inv.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return inv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of %s (secret %s/%s): %w", app, namespace, inv.Name, err)
	}
	inv.Exists = true
	for _, line := range strings.Split(string(s.Data[inventoryKey]), "\n") {
		if line == "" {
			continue
		}
		id, err := ParseID(line)
		if err != nil {
			return nil, fmt.Errorf("inventory %s/%s: %w", namespace, inv.Name, err)
		}
		inv.Objects = append(inv.Objects, id)
	}
	return inv, nil
}

// write records ids as the set (server-side apply of the parent Secret).
func (c *Client) writeInventory(ctx context.Context, inv *Inventory, ids []ID) error {
	ids = uniqueSorted(ids)
	lines := make([]string, len(ids))
	gks := map[string]bool{}
	nss := map[string]bool{}
	for i, id := range ids {
		lines[i] = id.String()
		gk := id.Kind
		if id.Group != "" {
			gk += "." + id.Group
		}
		gks[gk] = true
		if id.Namespace != "" && id.Namespace != inv.Namespace {
			nss[id.Namespace] = true
		}
	}
	annotations := map[string]string{
		AnnotationTooling:    FieldManager + "/v1",
		AnnotationGroupKinds: strings.Join(sortedKeys(gks), ","),
	}
	if len(nss) > 0 {
		annotations[AnnotationAdditionalNSes] = strings.Join(sortedKeys(nss), ",")
	}
	cfg := applycorev1.Secret(inv.Name, inv.Namespace).
		WithLabels(map[string]string{LabelApplySetID: inv.ID, LabelApp: inv.App}).
		WithAnnotations(annotations).
		WithType(corev1.SecretType("kube-idp.dev/inventory")).
		WithData(map[string][]byte{inventoryKey: []byte(strings.Join(lines, "\n") + "\n")})
	if _, err := c.Kube.CoreV1().Secrets(inv.Namespace).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("recording the inventory of %s: %w", inv.App, err)
	}
	inv.Objects, inv.Exists = ids, true
	return nil
}

func uniqueSorted(ids []ID) []ID {
	seen := map[ID]bool{}
	var out []ID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
