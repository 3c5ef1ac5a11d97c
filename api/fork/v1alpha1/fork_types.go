package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-idp/kube/internal/contract"
)

// AgentControlPort is the first port the agent of a local workload may take
// for its control port (bound to 127.0.0.1); the pod's annotation
// AnnotationAgentControlPort says which it took.
const (
	AgentControlPort           int32 = 15999
	AnnotationAgentControlPort       = "fork.kube-idp.dev/agent-control-port"
)

// Condition types of a Fork.
const (
	// ConditionReady: the copies are available and every route is programmed.
	ConditionReady = "Ready"
	// ConditionDegraded: something the fork needs could not be done (a missing
	// workload, a VirtualService the controller does not own...); the message says what.
	ConditionDegraded = "Degraded"
	// ConditionExpired: the TTL has passed; the Fork is being deleted.
	ConditionExpired = "Expired"
	// ConditionLocalConnected: a developer's process stands in for the fork's
	// local workload now (kube fork connect holds its Lease); the message says
	// who and since when.
	ConditionLocalConnected = "LocalConnected"
	// ConditionReconciling and ConditionStalled are kstatus's vocabulary, so that
	// kube deploy, Argo CD and Flux tell a fork on its way (Reconciling) from one
	// that will not get there without a change (Stalled, when Degraded).
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// LabelIdentifier is on every object the controller makes for a fork, and is the
// only label of a copy's pods besides LabelWorkload, so that no Service of the
// shared system can ever select a copy.
const (
	LabelIdentifier = contract.LabelForkIdentifier
	LabelWorkload   = contract.LabelForkWorkload
	// LabelManaged marks shared objects the controller owns (Istio VirtualServices).
	LabelManaged = contract.LabelForkManaged
	// Finalizer removes a fork's rules from shared objects before it goes.
	Finalizer = contract.FinalizerFork
)

// TTL reference points.
const (
	TTLFromCreation   = "Creation"
	TTLFromLastChange = "LastChange"
)

// ForkSpec is what to copy and how long the fork lives.
type ForkSpec struct {
	// Identifier routes requests to this fork (header value, baggage member
	// value, preview host label). Defaults to the Fork's name.
	// +optional
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Identifier string `json:"identifier,omitempty"`

	// Owner is who asked for the fork (set by kube fork create), for listings.
	// +optional
	Owner string `json:"owner,omitempty"`

	// Workloads to copy. A workload picked by several entries is copied once,
	// with the overrides of its first entry that names it, else of its first
	// matching selector.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	Workloads []Workload `json:"workloads"`

	// TTL is how long the fork lives; it is deleted when it passes.
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// TTLFrom counts the TTL from the Fork's creation or from its last change.
	// +optional
	// +kubebuilder:default=Creation
	// +kubebuilder:validation:Enum=Creation;LastChange
	TTLFrom string `json:"ttlFrom,omitempty"`

	// Profile names the ForkProfile (same namespace) that says how to route.
	// Defaults to the profile named "default", else built-in defaults.
	// +optional
	Profile string `json:"profile,omitempty"`
}

// Workload kinds a Fork can copy.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// Workload is one workload to copy, or every workload of a kind that a label
// selector matches, with the overrides for the copies.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="set exactly one of name and selector"
// +kubebuilder:validation:XValidation:rule="!has(self.local) || (has(self.name) && (!has(self.kind) || self.kind == 'Deployment') && (!has(self.replicas) || self.replicas == 1))",message="a local workload is one named Deployment with one replica"
type Workload struct {
	// Kind of the workload: Deployment or StatefulSet. A StatefulSet's copy gets
	// its own, empty volumes (deleted with the copy), never the shared ones.
	// +optional
	// +kubebuilder:default=Deployment
	// +kubebuilder:validation:Enum=Deployment;StatefulSet
	Kind string `json:"kind,omitempty"`

	// Name of the workload in the Fork's namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name,omitempty"`

	// Selector picks every workload of the kind whose labels match it (never
	// the fork copies themselves).
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Replicas of the copy (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Containers overrides, by container name.
	// +optional
	// +listType=atomic
	Containers []ContainerOverride `json:"containers,omitempty"`

	// Services to fork besides the ones whose selector matches the workload's pods.
	// +optional
	Services []string `json:"services,omitempty"`

	// Local runs the workload on a developer's machine (kube fork connect):
	// the copy's pod runs the fork agent on the container's ports instead of
	// the container, and passes its connections to the developer's process.
	// +optional
	Local *LocalWorkload `json:"local,omitempty"`
}

// LocalWorkload is a workload whose process runs on a developer's machine.
type LocalWorkload struct {
	// Container whose ports the agent takes (default: the first).
	// +optional
	Container string `json:"container,omitempty"`
}

// ContainerOverride changes one container of a copy.
type ContainerOverride struct {
	// Name of the container; empty means the first container.
	// +optional
	Name string `json:"name,omitempty"`
	// Image replaces the container's image.
	// +optional
	Image string `json:"image,omitempty"`
	// Env is merged into the container's environment (same name replaces).
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Args replace the container's arguments.
	// +optional
	Args []string `json:"args,omitempty"`
	// Resources replace the container's resources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ForkStatus is what the controller made and where the fork is.
type ForkStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Copies made of the workloads.
	// +optional
	Copies []Copy `json:"copies,omitempty"`
	// Routes programmed for the fork.
	// +optional
	Routes []Route `json:"routes,omitempty"`
	// URL of the preview entry, when the profile has one.
	// +optional
	URL string `json:"url,omitempty"`
	// LastChangeTime is when the spec last changed (for ttlFrom LastChange).
	// +optional
	LastChangeTime *metav1.Time `json:"lastChangeTime,omitempty"`
	// ExpiresAt is when the fork will be deleted.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// ReadyTime is when the fork first became Ready.
	// +optional
	ReadyTime *metav1.Time `json:"readyTime,omitempty"`
}

// Copy is one copied workload.
type Copy struct {
	// Kind is Deployment or StatefulSet.
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Name   string `json:"name"`
	// Services copied for it (source name -> copy name, as "source=copy").
	// +optional
	Services []string `json:"services,omitempty"`
	// Available is true when the copy has its replicas available.
	Available bool `json:"available"`
	// Local is true when the copy's pod runs the agent of a local workload.
	// +optional
	Local bool `json:"local,omitempty"`
}

// Route is one routing object programmed for the fork.
type Route struct {
	// Kind is HTTPRoute or VirtualService.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Service (host) the route sends to the fork; empty for the preview route.
	// +optional
	Service string `json:"service,omitempty"`
}

// Fork is a personal copy of a few workloads inside a shared namespace: requests
// carrying its identifier reach the copies, all others the shared services.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kube-idp
// +kubebuilder:validation:XValidation:rule="!has(self.spec.identifier) || self.spec.identifier == self.metadata.name",message="spec.identifier must equal metadata.name: one fork per identifier in a namespace"
// +kubebuilder:printcolumn:name="Identifier",type=string,JSONPath=`.spec.identifier`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Fork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ForkSpec   `json:"spec"`
	Status ForkStatus `json:"status,omitempty"`
}

// ID is the fork's identifier (its name unless set).
func (f *Fork) ID() string {
	if f.Spec.Identifier != "" {
		return f.Spec.Identifier
	}
	return f.Name
}

// ForkList is a list of Forks.
// +kubebuilder:object:root=true
type ForkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Fork `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Fork{}, &ForkList{}, &ForkProfile{}, &ForkProfileList{})
}

// KindOrDefault is the workload's kind, Deployment when unset.
func (w *Workload) KindOrDefault() string {
	if w.Kind == "" {
		return KindDeployment
	}
	return w.Kind
}
