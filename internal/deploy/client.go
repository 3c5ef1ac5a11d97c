package deploy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Client talks to one cluster.
type Client struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient builds the clients for cfg. Requests are not throttled client-side
// beyond a generous limit: a deploy is a burst of small requests.
func NewClient(cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		Kube:    kube,
		Dynamic: dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery())),
	}, nil
}

// resource returns the client for an object's resource, in its namespace.
func (c *Client) resource(id ID) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(id.GroupKind())
	if err != nil {
		return nil, err
	}
	r := c.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if id.Namespace == "" {
			return nil, fmt.Errorf("%s is namespaced but has no namespace", id.Short())
		}
		return r.Namespace(id.Namespace), nil
	}
	return r, nil
}

func (c *Client) mapping(gk schema.GroupKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gk)
	if meta.IsNoMatchError(err) {
		// A CRD applied a moment ago: look again.
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gk)
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gk, err)
	}
	return m, nil
}

// namespaced tells whether a kind is namespaced; unknown kinds (CRDs not yet
// applied) are assumed namespaced when the object names a namespace.
func (c *Client) namespaced(gk schema.GroupKind, hasNamespace bool) bool {
	m, err := c.mapper.RESTMapping(gk)
	if err != nil {
		return hasNamespace
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}
