package fork

import (
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"

	forkv1 "github.com/kube-idp/kube/api/fork/v1alpha1"
)

func names(rules []*networkingapi.HTTPRoute) string {
	var n []string
	for _, r := range rules {
		n = append(n, r.Name)
	}
	return strings.Join(n, ",")
}

// A fork's rules keep their place when it is reconciled again, so forks
// reconciled in turn never reorder (and so never rewrite) the shared object.
func TestWithForkRulesKeepsOrder(t *testing.T) {
	p := forkv1.ForkProfileSpec{}.WithDefaults()
	rules := withForkRules(nil, "web", "bob", p, true)
	rules = withForkRules(rules, "web", "carol", p, true)
	const both = "fork-bob-header,fork-bob-baggage,fork-carol-header,fork-carol-baggage,shared"
	if got := names(rules); got != both {
		t.Fatalf("rules %s, want %s", got, both)
	}
	rules = withForkRules(rules, "web", "bob", p, true)
	if got := names(rules); got != both {
		t.Fatalf("after bob again: %s, want %s", got, both)
	}
	if h := rules[0].Match[0].Headers[forkv1.DefaultHeader]; h.GetExact() != "bob" || rules[0].Route[0].Destination.Host != "web-fork-bob" {
		t.Fatalf("bob's header rule: %v", rules[0])
	}
	rules = withForkRules(rules, "web", "bob", p, false)
	if got := names(rules); got != "fork-carol-header,fork-carol-baggage,shared" {
		t.Fatalf("after removing bob: %s", got)
	}
	if rules = withForkRules(rules, "web", "carol", p, false); rules != nil {
		t.Fatalf("no fork left, rules %s", names(rules))
	}
}
