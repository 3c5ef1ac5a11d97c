package generate

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kube-idp/kube/internal/spec"
)

var routeKind = spec.Kind{Key: "route", Doc: "Host routing to a Service: a Gateway API HTTPRoute (default) or an Ingress.", New: func() spec.GeneratorSpec { return &RouteGen{} }}

// RouteGen generates host routing to a Service.
type RouteGen struct {
	spec.Common  `yaml:",inline"`
	Name         string                  `yaml:"name" doc:"Default: the app name."`
	Kind         string                  `yaml:"kind" doc:"httproute (Gateway API, default) or ingress."`
	Host         spec.PerCluster[string] `yaml:"host" required:"true" doc:"Host name, per cluster."`
	Path         string                  `yaml:"path" doc:"Path prefix. Default: /."`
	Service      string                  `yaml:"service" doc:"Service to route to. Default: the app name (the web process)."`
	Port         int32                   `yaml:"port" doc:"Service port. Default: 80."`
	Gateway      string                  `yaml:"gateway" doc:"Gateway as NAMESPACE/NAME (httproute). Default: gateway-system/public."`
	IngressClass string                  `yaml:"ingressClass" doc:"IngressClass (ingress). Default: the cluster's default."`
	Loc          spec.Loc
}

func (r *RouteGen) Base() *spec.Common { return &r.Common }
func (r *RouteGen) Describe() string   { return fmt.Sprintf("route %q", r.Name) }

func (r *RouteGen) Default(f *spec.File) {
	spec.Default(&r.Name, f.App)
	spec.Default(&r.Kind, "httproute")
	spec.Default(&r.Path, "/")
	spec.Default(&r.Service, f.App)
	spec.Default(&r.Port, 80)
	if r.Kind == "httproute" {
		spec.Default(&r.Gateway, "gateway-system/public")
	}
}

func (r *RouteGen) Validate(v *spec.Validator) {
	kind := map[string]string{"httproute": "HTTPRoute", "ingress": "Ingress"}[r.Kind]
	if kind == "" {
		v.Errorf(r.Loc.At("kind"), "kind %q is not one of httproute, ingress", r.Kind)
		kind = "HTTPRoute"
	}
	v.Common(r.Loc, &r.Common, "route", kind, r.Name)
	v.Name(r.Loc, "name", r.Name)
	v.PerCluster(r.Host.Loc)
	for _, c := range r.Clusters {
		if h := r.Host.For(c); len(validation.IsDNS1123Subdomain(h)) > 0 {
			v.Errorf(r.Loc.At("host"), "host %q (cluster %s) is not a valid host name", h, c)
		}
	}
	if !strings.HasPrefix(r.Path, "/") {
		v.Errorf(r.Loc.At("path"), "path %q must start with /", r.Path)
	}
	v.Port(r.Loc, "port", r.Port)
	if r.Kind == "httproute" {
		if ns, name, ok := strings.Cut(r.Gateway, "/"); !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			v.Errorf(r.Loc.At("gateway"), "gateway %q must be NAMESPACE/NAME", r.Gateway)
		}
	}
}

func (r *RouteGen) Objects(b *builder) ([]runtime.Object, error) {
	host := r.Host.For(b.cluster)
	if r.Kind == "ingress" {
		var class *string
		if r.IngressClass != "" {
			class = ptr.To(r.IngressClass)
		}
		return []runtime.Object{&networkingv1.Ingress{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
			ObjectMeta: b.meta(r.Name, ""),
			Spec: networkingv1.IngressSpec{
				IngressClassName: class,
				Rules: []networkingv1.IngressRule{{
					Host: host,
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
						Path:     r.Path,
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: r.Service, Port: networkingv1.ServiceBackendPort{Number: r.Port},
						}},
					}}}},
				}},
			},
		}}, nil
	}
	gwNamespace, gwName, _ := strings.Cut(r.Gateway, "/")
	return []runtime.Object{&gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta("gateway.networking.k8s.io/v1", "HTTPRoute"),
		ObjectMeta: b.meta(r.Name, ""),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Namespace: ptr.To(gatewayv1.Namespace(gwNamespace)),
				Name:      gatewayv1.ObjectName(gwName),
			}}},
			Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(host)},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type:  ptr.To(gatewayv1.PathMatchPathPrefix),
					Value: ptr.To(r.Path),
				}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(r.Service),
					Port: ptr.To(gatewayv1.PortNumber(r.Port)),
				}}}},
			}},
		},
	}}, nil
}
