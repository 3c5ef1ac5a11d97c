// Package v1alpha1 is the fork.kube-idp.dev API: Forks (a personal copy of a few
// workloads, reached by a request header) and ForkProfiles (how forks are routed).
// +kubebuilder:object:generate=true
// +groupName=fork.kube-idp.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API's group and version.
	GroupVersion = schema.GroupVersion{Group: "fork.kube-idp.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
