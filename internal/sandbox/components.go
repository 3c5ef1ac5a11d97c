package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Versions of everything the sandbox builds or installs. They must equal the
// requirements in hack/tools/**/go.mod; TestVersionsMatchToolModules enforces it.
const (
	KubernetesVersion            = "v1.37.1"
	EtcdVersion                  = "v3.7.0"
	KwokVersion                  = "v0.8.0"
	GatewayAPIVersion            = "v1.6.3"
	IstioAPIVersion              = "v1.31.1"
	PrometheusOperatorCRDVersion = "v0.85.0" // the CRDs; the operator the alert tests run is newer (testtools.go)
)

// binary is one program built from the Go module proxy into the cache.
type binary struct {
	Name    string // file name in the cache
	Module  string // its tools module, relative to hack/tools
	Package string
	Version string
	LDFlags string
}

// kubeLDFlags stamps the version into Kubernetes binaries; without it clients fail
// to parse the server version ("v0.0.0-master+$Format:%H$").
func kubeLDFlags() string {
	minor := strings.Split(KubernetesVersion, ".")[1]
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fmt.Fprintf(&b, " -X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean",
			pkg, KubernetesVersion, pkg, pkg, minor, pkg)
	}
	return b.String()
}

// kwokLDFlags makes kwokctl expect the Kubernetes version we build, so that it
// passes flags that version understands.
func kwokLDFlags() string {
	return fmt.Sprintf("-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=%s -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=%s",
		strings.TrimPrefix(KwokVersion, "v"), strings.TrimPrefix(KubernetesVersion, "v"))
}

func binaries() []binary {
	return []binary{
		{"etcd", ".", "go.etcd.io/etcd/server/v3", EtcdVersion, "-s -w"},
		{"kube-apiserver", ".", "k8s.io/kubernetes/cmd/kube-apiserver", KubernetesVersion, kubeLDFlags()},
		{"kube-controller-manager", ".", "k8s.io/kubernetes/cmd/kube-controller-manager", KubernetesVersion, kubeLDFlags()},
		{"kube-scheduler", ".", "k8s.io/kubernetes/cmd/kube-scheduler", KubernetesVersion, kubeLDFlags()},
		// Not a component: kube kubectl and the tests use it where kubectl is not installed.
		{"kubectl", ".", "k8s.io/kubernetes/cmd/kubectl", KubernetesVersion, kubeLDFlags()},
		{"kwok", "kwok", "sigs.k8s.io/kwok/cmd/kwok", KwokVersion, kwokLDFlags()},
		{"kwokctl", "kwok", "sigs.k8s.io/kwok/cmd/kwokctl", KwokVersion, kwokLDFlags()},
	}
}

// crdSource names CRD manifests inside a Go module's source tree.
type crdSource struct {
	Name    string // short name, used for the files in the cache
	Module  string
	Version string
	Paths   []string // files or directories (every *.yaml in it) inside the module
}

func crdSources() []crdSource {
	return []crdSource{
		{"gateway-api", "sigs.k8s.io/gateway-api", GatewayAPIVersion, []string{"config/crd/standard"}},
		{"istio", "istio.io/api", IstioAPIVersion, []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
		{"prometheus-operator", "github.com/prometheus-operator/prometheus-operator", PrometheusOperatorCRDVersion, []string{"example/prometheus-operator-crd"}},
	}
}

// CacheKey names one set of built components: the Kubernetes version for people,
// plus a hash of everything that changes the build.
func CacheKey() string {
	h := sha256.New()
	for _, b := range binaries() {
		fmt.Fprintln(h, b.Name, b.Package, b.Version, b.LDFlags)
	}
	for _, c := range crdSources() {
		fmt.Fprintln(h, c.Module, c.Version, c.Paths)
	}
	return KubernetesVersion + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}
