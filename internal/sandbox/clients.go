package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kube-idp/kube/internal/manifest"
)

var clientsetCodecs = scheme.Codecs.WithoutConversion()

// fieldManager owns what the sandbox applies (CRDs).
const fieldManager = "kube-sandbox"

type clients struct {
	cfg  *rest.Config
	kube kubernetes.Interface
	dyn  dynamic.Interface
	ext  apiextensionsclient.Interface
}

func (s *Sandbox) clients() (*clients, error) {
	cfg, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 100, 200
	c := &clients{cfg: cfg}
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.ext, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// nodePods is each fake node's pod capacity: above a real node's 110, since two
// nodes play a whole cluster (the fork benchmark runs 550 pods).
const nodePods = "1000"

// registerNodes creates n nodes managed by kwok (annotation kwok.x-k8s.io/node=fake),
// untainted so that ordinary workloads schedule on them, and waits until Ready.
func (c *clients) registerNodes(ctx context.Context, n int) error {
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("kwok-node-%d", i)
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("32"),
			corev1.ResourceMemory: resource.MustParse("256Gi"),
			corev1.ResourcePods:   resource.MustParse(nodePods),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"type":                   "kwok",
					"kubernetes.io/hostname": name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"kubernetes.io/role":     "agent",
				},
			},
			Status: corev1.NodeStatus{
				Capacity:    capacity,
				Allocatable: capacity,
				NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "kwok-" + KwokVersion, OperatingSystem: "linux", Architecture: "amd64"},
			},
		}
		if _, err := c.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes, err := c.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeReady(&n) {
				ready++
			}
		}
		return ready >= n, nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// installCRDs server-side applies every manifest in the directories (CRDs and
// the admission policies that ship with them), then waits until every CRD is
// Established.
func (c *clients) installCRDs(ctx context.Context, dirs ...fs.FS) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.kube.Discovery()))
	var crds []string
	for _, dir := range dirs {
		if err := c.installDir(ctx, mapper, dir, &crds); err != nil {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range crds {
			crd, err := c.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !crdEstablished(crd) {
				return false, nil
			}
		}
		return true, nil
	})
}

func (c *clients) installDir(ctx context.Context, mapper meta.RESTMapper, dir fs.FS, crds *[]string) error {
	files, err := fs.Glob(dir, "*.yaml")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD manifests in %v", dir)
	}
	for _, f := range files {
		data, err := fs.ReadFile(dir, f)
		if err != nil {
			return err
		}
		objs, err := manifest.Decode(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, obj := range objs {
			if err := c.apply(ctx, mapper, obj); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if obj.GetKind() == "CustomResourceDefinition" {
				*crds = append(*crds, obj.GetName())
			}
		}
	}
	return nil
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established {
			return cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

func (c *clients) apply(ctx context.Context, mapper meta.RESTMapper, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	force := true
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// waitDefaultServiceAccount waits for the controller-manager to create the
// "default" ServiceAccount; until then pods in the namespace are rejected.
func (c *clients) waitDefaultServiceAccount(ctx context.Context) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := c.kube.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// describe reads the server version and the nodes; errors leave them empty
// because Status has already established that the server is ready.
func describe(ctx context.Context, cfg *rest.Config) (string, []NodeStatus) {
	kube, err := kubernetes.NewForConfig(withTimeout(cfg, 3*time.Second))
	if err != nil {
		return "", nil
	}
	var version string
	if v, err := kube.Discovery().ServerVersion(); err == nil {
		version = v.GitVersion
	}
	list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return version, nil
	}
	nodes := make([]NodeStatus, 0, len(list.Items))
	for i := range list.Items {
		n := &list.Items[i]
		nodes = append(nodes, NodeStatus{Name: n.Name, Ready: nodeReady(n), Version: n.Status.NodeInfo.KubeletVersion})
	}
	return version, nodes
}
