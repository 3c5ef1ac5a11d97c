package fork

import (
	"fmt"
	"regexp"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

// baggageRegex matches a W3C baggage header holding member=id (other members,
// properties and optional whitespace around it allowed).
func baggageRegex(member, id string) string {
	return `^(.*,)?[ \t]*` + regexp.QuoteMeta(member) + `[ \t]*=[ \t]*` + regexp.QuoteMeta(id) + `[ \t]*(;[^,]*)?(,.*)?$`
}

// routePorts are the ports a Service's routes are made for: each needs its own
// route, since a route's backends name one port.
func routePorts(svc *corev1.Service) []int32 {
	var ports []int32
	for _, p := range svc.Spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			ports = append(ports, p.Port)
		}
	}
	return ports
}

// routeName is the name of the mesh HTTPRoute for one service port.
func routeName(svc *corev1.Service, port int32, id string) string {
	if len(routePorts(svc)) > 1 {
		return copyName(fmt.Sprintf("%s-%d", svc.Name, port), id)
	}
	return copyName(svc.Name, id)
}

// desiredMeshRoute fills dst as a GAMMA HTTPRoute attached to the shared
// Service: requests carrying the identifier (header or baggage member) go to
// the fork's Service, all others to the shared one, as if no route existed.
func desiredMeshRoute(dst *gwv1.HTTPRoute, svc *corev1.Service, port int32, id string, p forkv1.ForkProfileSpec) {
	dst.Labels = ownedLabels(id)
	backend := func(name string) []gwv1.HTTPBackendRef { return backendRef(name, port) }
	header := func(t gwv1.HeaderMatchType, name, value string) []gwv1.HTTPRouteMatch {
		return []gwv1.HTTPRouteMatch{{Path: anyPath(), Headers: []gwv1.HTTPHeaderMatch{{Type: ptr.To(t), Name: gwv1.HTTPHeaderName(name), Value: value}}}}
	}
	dst.Spec = gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{
			Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")), Name: gwv1.ObjectName(svc.Name), Port: ptr.To(port),
		}}},
		Rules: []gwv1.HTTPRouteRule{
			{Name: ptr.To(gwv1.SectionName("fork-header")), Matches: header(gwv1.HeaderMatchExact, p.Header, id), BackendRefs: backend(copyName(svc.Name, id))},
			{Name: ptr.To(gwv1.SectionName("fork-baggage")), Matches: header(gwv1.HeaderMatchRegularExpression, "baggage", baggageRegex(p.BaggageMember, id)), BackendRefs: backend(copyName(svc.Name, id))},
			{Name: ptr.To(gwv1.SectionName("shared")), Matches: []gwv1.HTTPRouteMatch{{Path: anyPath()}}, BackendRefs: backend(svc.Name)},
		},
	}
}

// The API server's defaults are spelled out so that an unchanged route compares
// equal and is not rewritten on every reconcile.

func backendRef(service string, port int32) []gwv1.HTTPBackendRef {
	return []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{Weight: ptr.To[int32](1), BackendObjectReference: gwv1.BackendObjectReference{
		Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")), Name: gwv1.ObjectName(service), Port: ptr.To(port),
	}}}}
}

func anyPath() *gwv1.HTTPPathMatch {
	return &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To("/")}
}

// previewHost is where a browser reaches the fork.
func previewHost(id string, p *forkv1.Preview) string { return id + "." + p.BaseDomain }

// desiredPreviewRoute fills dst as the HTTPRoute on the preview Gateway for
// <id>.<base-domain>, adding the header and sending to the entry Service.
func desiredPreviewRoute(dst *gwv1.HTTPRoute, ns, id, entry string, p forkv1.ForkProfileSpec) {
	dst.Labels = ownedLabels(id)
	gw := p.Preview.Gateway
	ref := gwv1.ParentReference{Group: ptr.To(gwv1.Group(gwv1.GroupName)), Kind: ptr.To(gwv1.Kind("Gateway")), Name: gwv1.ObjectName(gw.Name)}
	if gw.Namespace != "" && gw.Namespace != ns {
		ref.Namespace = ptr.To(gwv1.Namespace(gw.Namespace))
	}
	if gw.SectionName != "" {
		ref.SectionName = ptr.To(gwv1.SectionName(gw.SectionName))
	}
	dst.Spec = gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{ref}},
		Hostnames:       []gwv1.Hostname{gwv1.Hostname(previewHost(id, p.Preview))},
		Rules: []gwv1.HTTPRouteRule{{
			Matches: []gwv1.HTTPRouteMatch{{Path: anyPath()}},
			Filters: []gwv1.HTTPRouteFilter{{
				Type:                  gwv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: gwv1.HTTPHeaderName(p.Header), Value: id}}},
			}},
			BackendRefs: backendRef(entry, p.Preview.Port),
		}},
	}
}

// Istio: one VirtualService per shared Service, owned by the controller and
// shared by every fork of that Service; each fork's rules are named after it.

// sharedVirtualServiceName is the controller's VirtualService for a Service.
func sharedVirtualServiceName(svc string) string { return svc + "-kube-fork" }

func ruleName(id, form string) string { return "fork-" + id + "-" + form }

// hostsMatch tells whether a VirtualService host names the Service.
func hostsMatch(hosts []string, svc, ns string) bool {
	for _, h := range hosts {
		if h == svc || h == svc+"."+ns || strings.HasPrefix(h, svc+"."+ns+".svc") {
			return true
		}
	}
	return false
}

// withForkRules returns the VirtualService's HTTP rules with the fork's rules
// for id set (or removed when add is false), the other forks' rules kept, and
// the route to the shared Service last.
func withForkRules(rules []*networkingapi.HTTPRoute, svc string, id string, p forkv1.ForkProfileSpec, add bool) []*networkingapi.HTTPRoute {
	var mine []*networkingapi.HTTPRoute
	if add {
		to := []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{Host: copyName(svc, id)}}}
		mine = []*networkingapi.HTTPRoute{
			{Name: ruleName(id, "header"), Route: to, Match: []*networkingapi.HTTPMatchRequest{{
				Headers: map[string]*networkingapi.StringMatch{p.Header: {MatchType: &networkingapi.StringMatch_Exact{Exact: id}}}}}},
			{Name: ruleName(id, "baggage"), Route: to, Match: []*networkingapi.HTTPMatchRequest{{
				Headers: map[string]*networkingapi.StringMatch{"baggage": {MatchType: &networkingapi.StringMatch_Regex{Regex: baggageRegex(p.BaggageMember, id)}}}}}},
		}
	}
	// The fork's rules keep their place among the other forks' rules, so that
	// reconciling forks one after another does not reorder (rewrite) the object.
	var out []*networkingapi.HTTPRoute
	placed := false
	for _, r := range rules {
		switch {
		case r.Name == "shared":
		case strings.HasPrefix(r.Name, "fork-"+id+"-"):
			if !placed {
				out, placed = append(out, mine...), true
			}
		default:
			out = append(out, r)
		}
	}
	if !placed {
		out = append(out, mine...)
	}
	if len(out) == 0 {
		return nil
	}
	return append(out, &networkingapi.HTTPRoute{Name: "shared", Route: []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{Host: svc}}}})
}

// desiredPreviewVirtualService fills dst as the preview entry on an Istio Gateway.
func desiredPreviewVirtualService(dst *istiov1.VirtualService, ns, id, entry string, p forkv1.ForkProfileSpec) {
	dst.Labels = ownedLabels(id)
	gw := p.Preview.Gateway.Name
	if p.Preview.Gateway.Namespace != "" {
		gw = p.Preview.Gateway.Namespace + "/" + gw
	}
	dst.Spec.Hosts = []string{previewHost(id, p.Preview)}
	dst.Spec.Gateways = []string{gw}
	dst.Spec.Http = []*networkingapi.HTTPRoute{{
		Name:    ruleName(id, "preview"),
		Headers: &networkingapi.Headers{Request: &networkingapi.Headers_HeaderOperations{Set: map[string]string{p.Header: id}}},
		Route: []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{
			Host: entry, Port: &networkingapi.PortSelector{Number: uint32(p.Preview.Port)},
		}}},
	}}
}
