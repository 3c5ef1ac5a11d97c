package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Routing backends.
const (
	BackendGatewayAPI = "gateway-api"
	BackendIstio      = "istio"
)

// Defaults of a ForkProfile.
const (
	DefaultHeader        = "x-fork-identifier"
	DefaultBaggageMember = "kube-fork"
	DefaultProfileName   = "default"
)

// ForkProfileSpec says how the forks of a namespace are routed.
type ForkProfileSpec struct {
	// Header carrying the fork identifier.
	// +optional
	// +kubebuilder:default=x-fork-identifier
	Header string `json:"header,omitempty"`
	// BaggageMember is the W3C baggage member carrying the fork identifier.
	// +optional
	// +kubebuilder:default=kube-fork
	BaggageMember string `json:"baggageMember,omitempty"`
	// Backend programs the routes: Gateway API HTTPRoutes (GAMMA, attached to
	// Services) or Istio VirtualServices.
	// +optional
	// +kubebuilder:default=gateway-api
	// +kubebuilder:validation:Enum=gateway-api;istio
	Backend string `json:"backend,omitempty"`
	// Preview makes <identifier>.<baseDomain> reach the entry Service with the
	// header set.
	// +optional
	Preview *Preview `json:"preview,omitempty"`

	// Local says whether the namespace's forks may run a workload on a
	// developer's machine (kube fork connect), and what it may reach.
	// +optional
	Local *LocalProfile `json:"local,omitempty"`
}

// LocalProfile configures local workloads.
type LocalProfile struct {
	// Disabled refuses local workloads in the namespace.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// AgentImage runs in the copy's pod (default: kube-controller's image,
	// which holds the agent).
	// +optional
	AgentImage string `json:"agentImage,omitempty"`
	// AllowedDestinations are what the developer's process may dial in the
	// cluster through the agent: host names ("*.shop.svc" or ".shop.svc" also
	// allow subdomains) and CIDRs. Default: the namespace's Services.
	// +optional
	// +listType=atomic
	AllowedDestinations []string `json:"allowedDestinations,omitempty"`
}

// Preview is the browser entry to forks.
type Preview struct {
	// Gateway the preview route attaches to: a Gateway API Gateway, or with
	// the istio backend the Istio Gateway the preview VirtualService binds.
	Gateway GatewayRef `json:"gateway"`
	// BaseDomain: a fork is at <identifier>.<baseDomain>.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	BaseDomain string `json:"baseDomain"`
	// Service is the entry Service (the system's front door) in the namespace.
	Service string `json:"service"`
	// Port of the entry Service.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Scheme of the preview URL (default https).
	// +optional
	// +kubebuilder:default=https
	// +kubebuilder:validation:Enum=http;https
	Scheme string `json:"scheme,omitempty"`
}

// GatewayRef names a Gateway.
type GatewayRef struct {
	Name string `json:"name"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	SectionName string `json:"sectionName,omitempty"`
}

// ForkProfile is the routing configuration of the forks of its namespace (the
// one named "default" applies unless a Fork names another).
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=kube-idp
// +kubebuilder:printcolumn:name="Backend",type=string,JSONPath=`.spec.backend`
// +kubebuilder:printcolumn:name="Header",type=string,JSONPath=`.spec.header`
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.preview.baseDomain`
type ForkProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ForkProfileSpec `json:"spec"`
}

// WithDefaults fills what the API server would default, for profiles built in code.
func (s ForkProfileSpec) WithDefaults() ForkProfileSpec {
	if s.Header == "" {
		s.Header = DefaultHeader
	}
	if s.BaggageMember == "" {
		s.BaggageMember = DefaultBaggageMember
	}
	if s.Backend == "" {
		s.Backend = BackendGatewayAPI
	}
	if s.Preview != nil && s.Preview.Scheme == "" {
		p := *s.Preview
		p.Scheme = "https"
		s.Preview = &p
	}
	return s
}

// ForkProfileList is a list of ForkProfiles.
// +kubebuilder:object:root=true
type ForkProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ForkProfile `json:"items"`
}
