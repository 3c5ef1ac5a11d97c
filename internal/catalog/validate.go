package catalog

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/strictyaml"
)

// dnsLabel is the shape of names: they become Backstage entity names, GitHub
// labels, URL paths and add-on or app names, which all accept it.
var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	hexColor = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)
)

// MaxText bounds each free-text field, so that a catalog stays something
// people read (and a label description fits GitHub's 100 characters from the
// title alone).
const MaxText = 2000

func (c *Catalog) validate() strictyaml.Errors {
	var errs strictyaml.Errors
	bad := func(file string, p strictyaml.Pos, format string, args ...any) {
		errs = append(errs, strictyaml.Error{File: file, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	name := func(file string, loc strictyaml.Loc, what, n string) {
		if !dnsLabel.MatchString(n) {
			bad(file, loc.At("name"), "%s name %q: use lower case letters, digits and '-' (at most 63)", what, n)
			return
		}
		if base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".yaml"), ".yml"); base != n {
			bad(file, loc.At("name"), "%s %q is in %s: name the file %s.yaml, so that each name has one file", what, n, filepath.Base(file), n)
		}
	}
	text := func(file string, loc strictyaml.Loc, key string, values ...string) {
		for _, v := range values {
			if strings.TrimSpace(v) == "" {
				bad(file, loc.At(key), "%s: empty text", key)
			} else if len(v) > MaxText {
				bad(file, loc.At(key), "%s: %d characters, at most %d", key, len(v), MaxText)
			}
		}
	}
	owner := func(file string, loc strictyaml.Loc, o string) {
		if !dnsLabel.MatchString(o) {
			bad(file, loc.At("owner"), "owner %q: a team name, in lower case letters, digits and '-'", o)
		}
	}

	for _, d := range c.Domains {
		name(d.File, d.Loc, "domain", d.Name)
		owner(d.File, d.Loc, d.Owner)
		text(d.File, d.Loc, "problem", d.Problem)
		for _, l := range []struct {
			key  string
			list []string
		}{{"responsibilities", d.Responsibilities}, {"features", d.Features}, {"interfaces", d.Interfaces}} {
			if len(l.list) == 0 {
				bad(d.File, d.Loc.At(l.key), "%s: list at least one", l.key)
			}
			text(d.File, d.Loc, l.key, l.list...)
		}
		if d.Color != "" && !hexColor.MatchString(d.Color) {
			bad(d.File, d.Loc.At("color"), "color %q: six hex digits without '#', e.g. 1d76db", d.Color)
		}
	}

	components := map[string]*Component{}
	for _, comp := range c.Components {
		components[comp.Name] = comp
	}
	addons, apps := map[string]string{}, map[string]string{}
	for _, comp := range c.Components {
		f, loc := comp.File, comp.Loc
		name(f, loc, "component", comp.Name)
		owner(f, loc, comp.Owner)
		text(f, loc, "description", comp.Description)
		text(f, loc, "interfaces", comp.Interfaces...)
		if !slices.Contains(Kinds, comp.Kind) {
			bad(f, loc.At("kind"), "kind %q: one of %s", comp.Kind, strings.Join(Kinds, ", "))
		}
		if !slices.Contains(Lifecycles, comp.Lifecycle) {
			bad(f, loc.At("lifecycle"), "lifecycle %q: one of %s", comp.Lifecycle, strings.Join(Lifecycles, ", "))
		}
		if len(comp.Domains) == 0 {
			bad(f, loc.At("domains"), "domains: name at least one (%s)", c.domainNames())
		}
		seen := map[string]bool{}
		for _, d := range comp.Domains {
			if c.Domain(d) == nil {
				bad(f, loc.At("domains"), "domain %q is not in the catalog (%s)", d, c.domainNames())
			}
			if seen[d] {
				bad(f, loc.At("domains"), "domain %q is listed twice", d)
			}
			seen[d] = true
		}
		switch {
		case comp.ReplacedBy == "":
		case comp.Lifecycle != Deprecated && comp.Lifecycle != Retired:
			bad(f, loc.At("replacedBy"), "replacedBy is for a deprecated or retired component; this one is %s", comp.Lifecycle)
		case comp.ReplacedBy == comp.Name:
			bad(f, loc.At("replacedBy"), "a component cannot replace itself")
		case components[comp.ReplacedBy] == nil:
			bad(f, loc.At("replacedBy"), "replacedBy %q is not a component of the catalog", comp.ReplacedBy)
		case components[comp.ReplacedBy].Lifecycle == Retired:
			bad(f, loc.At("replacedBy"), "replacedBy %q is retired itself: name what replaces it now", comp.ReplacedBy)
		}
		for _, dep := range comp.DependsOn {
			if dep == comp.Name {
				bad(f, loc.At("dependsOn"), "a component cannot depend on itself")
			} else if components[dep] == nil {
				bad(f, loc.At("dependsOn"), "dependsOn %q is not a component of the catalog", dep)
			}
		}
		for _, l := range comp.Links {
			u, err := url.Parse(l.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad(f, l.Loc.At("url"), "link %q: %q is not an http(s) URL", l.Title, l.URL)
			} else if secrets.InURL(l.URL) {
				bad(f, l.Loc.At("url"), "link %q: the URL holds a credential (user information, a token in the query, a webhook); the catalog is read by everyone", l.Title)
			}
		}
		for _, key := range []string{"addon", "app"} {
			if ref := map[string]string{"addon": comp.Addon, "app": comp.App}[key]; ref != "" && !dnsLabel.MatchString(ref) {
				bad(f, loc.At(key), "%s %q: an add-on or app name, in lower case letters, digits and '-'", key, ref)
			}
		}
		if comp.Addon != "" {
			if other, ok := addons[comp.Addon]; ok {
				bad(f, loc.At("addon"), "add-on %q is already component %s", comp.Addon, other)
			}
			addons[comp.Addon] = comp.Name
		}
		if comp.App != "" {
			if other, ok := apps[comp.App]; ok {
				bad(f, loc.At("app"), "app %q is already component %s", comp.App, other)
			}
			apps[comp.App] = comp.Name
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		if errs[i].Pos.Line != errs[j].Pos.Line {
			return errs[i].Pos.Line < errs[j].Pos.Line
		}
		return errs[i].Pos.Column < errs[j].Pos.Column
	})
	return errs
}

func (c *Catalog) domainNames() string {
	if len(c.Domains) == 0 {
		return "the catalog has no domains yet: add domains/<name>.yaml"
	}
	var names []string
	for _, d := range c.Domains {
		names = append(names, d.Name)
	}
	return "domains: " + strings.Join(names, ", ")
}
