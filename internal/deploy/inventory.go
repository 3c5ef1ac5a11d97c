package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/contract"
)

// inventoryKey holds the identities of the set's objects, one per line, each
// with the hash of what was applied: prune needs no list call, and the size
// grows by one short line per object.
const inventoryKey = "inventory"

// Inventory is the set of objects an app owns, recorded in a parent Secret.
type Inventory struct {
	App       string
	Namespace string
	Name      string
	ID        string // the ApplySet id, the value of members' part-of label
	Objects   []ID
	// Applied is the hash of what was last applied of each object.
	Applied map[ID]string
	Exists  bool
	// resourceVersion is the parent's, for optimistic writes.
	resourceVersion string
}

// ErrConcurrent stops a deploy whose inventory changed under it.
var ErrConcurrent = errors.New("the app's inventory changed while this deploy ran (another deploy, or a person): stopped before going further; run it again")

// InventoryName is the parent Secret's name.
func InventoryName(app string) string { return "kube-inventory-" + app }

// ApplySetID is the part-of label value that every object of app's inventory
// in namespace carries.
func ApplySetID(app, namespace string) string { return applySetID(InventoryName(app), namespace) }

// applySetID follows KEP-3659: base64url(sha256(name.namespace.kind.group)).
func applySetID(name, namespace string) string {
	sum := sha256.Sum256([]byte(name + "." + namespace + ".Secret."))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

func newInventory(app, namespace string) *Inventory {
	name := InventoryName(app)
	return &Inventory{App: app, Namespace: namespace, Name: name, ID: applySetID(name, namespace), Applied: map[ID]string{}}
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
	inv.Exists, inv.resourceVersion = true, s.ResourceVersion
	for _, line := range strings.Split(string(s.Data[inventoryKey]), "\n") {
		if line == "" {
			continue
		}
		idText, hash, _ := strings.Cut(line, " ")
		id, err := ParseID(idText)
		if err != nil {
			return nil, fmt.Errorf("inventory %s/%s: %w", namespace, inv.Name, err)
		}
		inv.Objects = append(inv.Objects, id)
		if hash != "" {
			inv.Applied[id] = hash
		}
	}
	return inv, nil
}

// writeInventory records ids as the set, with the hashes of what was applied.
// The write is optimistic: it fails with ErrConcurrent when the inventory changed
// since it was read, so that no two deploys can each record half of the set.
func (c *Client) writeInventory(ctx context.Context, inv *Inventory, ids []ID, applied map[ID]string) error {
	ids = uniqueSorted(ids)
	lines := make([]string, len(ids))
	gks := map[string]bool{}
	nss := map[string]bool{}
	for i, id := range ids {
		lines[i] = id.String()
		if h := applied[id]; h != "" {
			lines[i] += " " + h
		}
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
		contract.AnnotationTooling:    contract.FieldManager + "/v1",
		contract.AnnotationGroupKinds: strings.Join(sortedKeys(gks), ","),
	}
	if len(nss) > 0 {
		annotations[contract.AnnotationAdditionalNSes] = strings.Join(sortedKeys(nss), ",")
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: inv.Name, Namespace: inv.Namespace, ResourceVersion: inv.resourceVersion,
			Labels:      map[string]string{contract.LabelApplySetID: inv.ID, contract.LabelApp: inv.App},
			Annotations: annotations,
		},
		Type: corev1.SecretType("kube-idp.dev/inventory"),
		Data: map[string][]byte{inventoryKey: []byte(strings.Join(lines, "\n") + "\n")},
	}
	var written *corev1.Secret
	var err error
	if inv.Exists {
		written, err = c.Kube.CoreV1().Secrets(inv.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: contract.FieldManager})
	} else {
		written, err = c.Kube.CoreV1().Secrets(inv.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: contract.FieldManager})
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ErrConcurrent
	}
	if err != nil {
		return fmt.Errorf("recording the inventory of %s: %w", inv.App, err)
	}
	inv.Objects, inv.Exists, inv.resourceVersion = ids, true, written.ResourceVersion
	inv.Applied = map[ID]string{}
	for _, id := range ids {
		if h := applied[id]; h != "" {
			inv.Applied[id] = h
		}
	}
	return nil
}

func uniqueSorted(ids []ID) []ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b ID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
