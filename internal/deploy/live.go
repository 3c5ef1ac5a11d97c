package deploy

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// listThreshold is how many objects of one kind in one namespace make a list
// cheaper than a get each.
const listThreshold = 3

// workers bounds the requests a deploy makes at once.
const workers = 8

// liveObjects reads the objects among ids that exist: one (paged) list per kind
// and namespace where the app has listThreshold objects or more, a get for
// each of the others. Kinds the cluster does not serve (yet) are skipped: their
// objects are absent from the result. CRDs are always read one by one: their
// schemas can be megabytes each.
func (c *Client) liveObjects(ctx context.Context, ids []ID) (map[ID]*unstructured.Unstructured, error) {
	type group struct {
		gk        schema.GroupKind
		namespace string
	}
	groups := map[group][]ID{}
	for _, id := range ids {
		g := group{id.GroupKind(), id.Namespace}
		groups[g] = append(groups[g], id)
	}
	var mu sync.Mutex
	live := map[ID]*unstructured.Unstructured{}
	found := func(id ID, o *unstructured.Unstructured) {
		mu.Lock()
		live[id] = o
		mu.Unlock()
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(workers)
	for g, members := range groups {
		if _, err := c.mapping(g.gk); err != nil {
			continue // not served: a CRD of this deploy defines it, or the plan reports it
		}
		if len(members) >= listThreshold && g.gk.Kind != "CustomResourceDefinition" {
			eg.Go(func() error {
				want := map[ID]bool{}
				for _, id := range members {
					want[id] = true
				}
				ri, err := c.resource(members[0])
				if err != nil {
					return err
				}
				opts := metav1.ListOptions{Limit: 500}
				for {
					list, err := ri.List(ctx, opts)
					if err != nil {
						return fmt.Errorf("listing %s in %s: %w", g.gk.Kind, orCluster(g.namespace), err)
					}
					for i := range list.Items {
						if id := IDOf(&list.Items[i]); want[id] {
							found(id, &list.Items[i])
						}
					}
					if opts.Continue = list.GetContinue(); opts.Continue == "" {
						return nil
					}
				}
			})
			continue
		}
		for _, id := range members {
			eg.Go(func() error {
				ri, err := c.resource(id)
				if err != nil {
					return err
				}
				o, err := ri.Get(ctx, id.Name, metav1.GetOptions{})
				switch {
				case apierrors.IsNotFound(err):
					return nil
				case err != nil:
					return fmt.Errorf("reading %s: %w", id.Short(), err)
				}
				found(id, o)
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return live, nil
}

func orCluster(ns string) string {
	if ns == "" {
		return "the cluster"
	}
	return "namespace " + ns
}
