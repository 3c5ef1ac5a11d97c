package upgrade

import "k8s.io/apimachinery/pkg/runtime/schema"

// guideRow is one removal of Kubernetes' Deprecated API Migration Guide
// (kubernetes.io/docs/reference/using-api/deprecation-guide/): the section is
// the release it is listed under. k8s.io/api's lifecycle methods cannot say
// these: the kind is gone from a group/version that lives on (PodSecurityPolicy
// in policy/v1beta1), the whole group/version is gone from the module
// (autoscaling/v2beta1), the group is not in it at all (apiregistration), or
// the generated replacement is wrong (IngressClass's names a List).
type guideRow struct {
	gv          string
	kinds       []string
	deprecated  Version
	removed     Version // the guide's section
	replacement string  // group/version of the same kind; "" for none
	// replaces names another kind that replaces this one (PodSecurityPolicy
	// has none: Pod Security Admission is not an API kind).
	note string
}

// guide holds every removal the guide lists from 1.16 to 1.32 (it lists none
// after 1.32 up to 1.38; later ones come from k8s.io/api's metadata, which
// TestGuideAgreesWithK8sAPI holds against this table where both speak).
var guide = []guideRow{
	// v1.32
	{"flowcontrol.apiserver.k8s.io/v1beta3", []string{"FlowSchema", "PriorityLevelConfiguration"}, Version{1, 29}, Version{1, 32}, "flowcontrol.apiserver.k8s.io/v1", ""},
	// v1.29
	{"flowcontrol.apiserver.k8s.io/v1beta2", []string{"FlowSchema", "PriorityLevelConfiguration"}, Version{1, 26}, Version{1, 29}, "flowcontrol.apiserver.k8s.io/v1", ""},
	// v1.27
	{"storage.k8s.io/v1beta1", []string{"CSIStorageCapacity"}, Version{1, 24}, Version{1, 27}, "storage.k8s.io/v1", ""},
	// v1.26
	{"flowcontrol.apiserver.k8s.io/v1beta1", []string{"FlowSchema", "PriorityLevelConfiguration"}, Version{1, 23}, Version{1, 26}, "flowcontrol.apiserver.k8s.io/v1beta3", ""}, // v1 is GA from 1.29 only
	{"autoscaling/v2beta2", []string{"HorizontalPodAutoscaler"}, Version{1, 23}, Version{1, 26}, "autoscaling/v2", ""},
	// v1.25
	{"batch/v1beta1", []string{"CronJob"}, Version{1, 21}, Version{1, 25}, "batch/v1", ""},
	{"discovery.k8s.io/v1beta1", []string{"EndpointSlice"}, Version{1, 21}, Version{1, 25}, "discovery.k8s.io/v1", ""},
	{"events.k8s.io/v1beta1", []string{"Event"}, Version{1, 22}, Version{1, 25}, "events.k8s.io/v1", ""},
	{"autoscaling/v2beta1", []string{"HorizontalPodAutoscaler"}, Version{1, 22}, Version{1, 25}, "autoscaling/v2", ""},
	{"policy/v1beta1", []string{"PodDisruptionBudget"}, Version{1, 21}, Version{1, 25}, "policy/v1", ""},
	{"policy/v1beta1", []string{"PodSecurityPolicy"}, Version{1, 21}, Version{1, 25}, "", "no replacement: use Pod Security Admission (or a third-party admission webhook)"},
	{"node.k8s.io/v1beta1", []string{"RuntimeClass"}, Version{1, 20}, Version{1, 25}, "node.k8s.io/v1", ""},
	// v1.22
	{"admissionregistration.k8s.io/v1beta1", []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}, Version{1, 16}, Version{1, 22}, "admissionregistration.k8s.io/v1", ""},
	{"apiextensions.k8s.io/v1beta1", []string{"CustomResourceDefinition"}, Version{1, 16}, Version{1, 22}, "apiextensions.k8s.io/v1", ""},
	{"apiregistration.k8s.io/v1beta1", []string{"APIService"}, Version{1, 19}, Version{1, 22}, "apiregistration.k8s.io/v1", ""},
	{"authentication.k8s.io/v1beta1", []string{"TokenReview"}, Version{1, 19}, Version{1, 22}, "authentication.k8s.io/v1", ""},
	{"authorization.k8s.io/v1beta1", []string{"LocalSubjectAccessReview", "SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectRulesReview"}, Version{1, 19}, Version{1, 22}, "authorization.k8s.io/v1", ""},
	{"certificates.k8s.io/v1beta1", []string{"CertificateSigningRequest"}, Version{1, 19}, Version{1, 22}, "certificates.k8s.io/v1", ""},
	{"coordination.k8s.io/v1beta1", []string{"Lease"}, Version{1, 19}, Version{1, 22}, "coordination.k8s.io/v1", ""},
	{"extensions/v1beta1", []string{"Ingress"}, Version{1, 14}, Version{1, 22}, "networking.k8s.io/v1", ""},
	{"networking.k8s.io/v1beta1", []string{"Ingress", "IngressClass"}, Version{1, 19}, Version{1, 22}, "networking.k8s.io/v1", ""},
	{"rbac.authorization.k8s.io/v1beta1", []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, Version{1, 17}, Version{1, 22}, "rbac.authorization.k8s.io/v1", ""},
	// Not in the guide (alpha), removed with v1beta1: k8s.io/api still has its
	// types without lifecycle tags, and the API server serves rbac v1 only.
	{"rbac.authorization.k8s.io/v1alpha1", []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, Version{1, 17}, Version{1, 22}, "rbac.authorization.k8s.io/v1", ""},
	{"scheduling.k8s.io/v1beta1", []string{"PriorityClass"}, Version{1, 14}, Version{1, 22}, "scheduling.k8s.io/v1", ""},
	{"storage.k8s.io/v1beta1", []string{"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"}, Version{1, 19}, Version{1, 22}, "storage.k8s.io/v1", ""},
	// Not in the guide (alpha): batch/v2alpha1 CronJob went in 1.21
	// (kubernetes/kubernetes#96987, CHANGELOG-1.21).
	{"batch/v2alpha1", []string{"CronJob"}, Version{}, Version{1, 21}, "batch/v1", ""},
	// Not in the guide (alpha): scheduling.k8s.io/v1alpha1 went in 1.17
	// (CHANGELOG-1.17; pluto's versions.yaml agrees).
	{"scheduling.k8s.io/v1alpha1", []string{"PriorityClass"}, Version{1, 14}, Version{1, 17}, "scheduling.k8s.io/v1", ""},
	// v1.16
	{"extensions/v1beta1", []string{"NetworkPolicy"}, Version{1, 9}, Version{1, 16}, "networking.k8s.io/v1", ""},
	{"extensions/v1beta1", []string{"PodSecurityPolicy"}, Version{1, 10}, Version{1, 16}, "policy/v1beta1", ""},
	{"extensions/v1beta1", []string{"DaemonSet", "Deployment", "ReplicaSet"}, Version{1, 9}, Version{1, 16}, "apps/v1", ""},
	{"apps/v1beta1", []string{"Deployment", "StatefulSet", "ReplicaSet"}, Version{1, 9}, Version{1, 16}, "apps/v1", ""},
	{"apps/v1beta2", []string{"DaemonSet", "Deployment", "StatefulSet", "ReplicaSet"}, Version{1, 9}, Version{1, 16}, "apps/v1", ""},
}

// deprecation is an API the guide or Kubernetes deprecates without a removal
// scheduled, for another kind.
type deprecation struct {
	gvk         schema.GroupVersionKind
	deprecated  Version
	replacement schema.GroupVersionKind
}

// deprecations the lifecycle metadata cannot carry (core/v1 types have none).
var deprecations = []deprecation{
	// KEP-4974: v1 Endpoints is deprecated in 1.33 for EndpointSlice.
	{schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}, Version{1, 33}, schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}},
}

// guideAPIs are the guide's rows as APIs, by kind.
func guideAPIs() map[schema.GroupVersionKind]API {
	out := map[schema.GroupVersionKind]API{}
	for _, d := range deprecations {
		out[d.gvk] = API{GVK: d.gvk, Deprecated: d.deprecated, Replacement: d.replacement}
	}
	for _, r := range guide {
		gv, _ := schema.ParseGroupVersion(r.gv)
		for _, k := range r.kinds {
			api := API{GVK: gv.WithKind(k), Deprecated: r.deprecated, Removed: r.removed, Note: r.note}
			if r.replacement != "" {
				rgv, _ := schema.ParseGroupVersion(r.replacement)
				api.Replacement = rgv.WithKind(k)
			}
			out[api.GVK] = api
		}
	}
	return out
}
