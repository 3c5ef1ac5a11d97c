package generate

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-idp/kube/internal/spec"
)

var forkKind = spec.Kind{Key: "fork", Doc: "Enables kube fork in the app's namespace: the RoleBinding that lets kube-controller make fork copies there.",
	New: func() spec.GeneratorSpec { return &ForkGen{} }}

// ForkGen enables forks of the app's workloads in its namespace.
type ForkGen struct {
	spec.Common `yaml:",inline"`
	Controller  string `yaml:"controller" doc:"kube-controller's service account as NAMESPACE/NAME. Default: kube-idp-system/kube-controller."`
	Loc         spec.Loc
}

// ForkClusterRole is what kube-controller may write where forks are enabled
// (config/install/kube-controller.yaml); a RoleBinding grants it per namespace.
const ForkClusterRole = "kube-controller-fork"

func (fk *ForkGen) Base() *spec.Common { return &fk.Common }
func (fk *ForkGen) Describe() string   { return "fork" }
func (fk *ForkGen) Default(*spec.File) {
	spec.Default(&fk.Controller, "kube-idp-system/kube-controller")
}

func (fk *ForkGen) Validate(v *spec.Validator) {
	v.Common(fk.Loc, &fk.Common, "fork", "RoleBinding", ForkClusterRole)
	if ns, name, ok := strings.Cut(fk.Controller, "/"); !ok || !spec.ValidName(ns) || !spec.ValidName(name) {
		v.Errorf(fk.Loc.At("controller"), "controller %q must be NAMESPACE/NAME of kube-controller's service account", fk.Controller)
	}
}

// Objects: a RoleBinding that lets kube-controller make fork copies in the app's
// namespace, and nowhere else.
func (fk *ForkGen) Objects(b *builder) ([]runtime.Object, error) {
	ns, name, _ := strings.Cut(fk.Controller, "/")
	return []runtime.Object{&rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: b.meta(ForkClusterRole, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ForkClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}}, nil
}
