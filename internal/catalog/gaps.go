package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// Use is a place that uses an add-on or app: an add-on pinned in a cluster's
// add-on file, or an app repository (package usage reads them).
type Use struct {
	Name  string `json:"name"`  // the add-on's or app's name
	Where string `json:"where"` // file:line:column of the pin, or the app's spec file
}

// Usage is what a platform runs, read from its repositories.
type Usage struct {
	Addons []Use `json:"addons"`
	Apps   []Use `json:"apps"`
}

// Gap kinds.
const (
	GapUncovered = "uncovered-domain" // a domain without an active component
	GapInUse     = "in-use"           // a deprecated or retired component still used
)

// Gap is a hole or a leftover in the platform.
type Gap struct {
	Kind       string   `json:"kind"`
	Domain     string   `json:"domain,omitempty"`
	Component  string   `json:"component,omitempty"`
	Lifecycle  string   `json:"lifecycle,omitempty"`
	ReplacedBy string   `json:"replacedBy,omitempty"`
	UsedBy     []string `json:"usedBy,omitempty"`
	Message    string   `json:"message"`
}

// Gaps reports the domains that no active component serves (experimental ones
// are named, as they do not cover it yet), and each deprecated or retired
// component that is still used: its add-on still pinned on a cluster, its app
// still in a given repository, or a component that is not retired depending on
// it.
func (c *Catalog) Gaps(u Usage) []Gap {
	var gaps []Gap
	for _, d := range c.Domains {
		var active, trying []string
		for _, comp := range c.Serving(d.Name) {
			switch comp.Lifecycle {
			case Active:
				active = append(active, comp.Name)
			case Experimental:
				trying = append(trying, comp.Name)
			}
		}
		if len(active) > 0 {
			continue
		}
		msg := fmt.Sprintf("domain %s has no active component", d.Name)
		if len(trying) > 0 {
			msg += " (experimental: " + strings.Join(trying, ", ") + ")"
		}
		gaps = append(gaps, Gap{Kind: GapUncovered, Domain: d.Name, Message: msg})
	}
	for _, comp := range c.Components {
		if comp.Lifecycle != Deprecated && comp.Lifecycle != Retired {
			continue
		}
		var by []string
		for _, a := range u.Addons {
			if comp.Addon != "" && a.Name == comp.Addon {
				by = append(by, "add-on "+a.Name+" at "+a.Where)
			}
		}
		for _, a := range u.Apps {
			if comp.App != "" && a.Name == comp.App {
				by = append(by, "app "+a.Name+" at "+a.Where)
			}
		}
		for _, other := range c.Components {
			if other.Lifecycle != Retired && slices.Contains(other.DependsOn, comp.Name) {
				by = append(by, "component "+other.Name+" ("+other.Lifecycle+") depends on it")
			}
		}
		if len(by) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s component %s is still in use", comp.Lifecycle, comp.Name)
		if comp.ReplacedBy != "" {
			msg += "; move to " + comp.ReplacedBy
		}
		gaps = append(gaps, Gap{Kind: GapInUse, Component: comp.Name, Lifecycle: comp.Lifecycle, ReplacedBy: comp.ReplacedBy, UsedBy: by, Message: msg})
	}
	return gaps
}
