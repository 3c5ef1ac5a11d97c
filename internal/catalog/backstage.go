package catalog

import (
	"bytes"
	"strings"

	"github.com/kube-idp/kube/internal/yamlout"
)

// Backstage's descriptor format (backstage.io/v1alpha1): one YAML document per
// entity, as a catalog-info.yaml holds them.
const backstageAPI = "backstage.io/v1alpha1"

// AnnotationPrefix marks the annotations kube adds to exported entities.
const AnnotationPrefix = "kube-idp.dev/"

// Backstage exports the catalog as Backstage entities: a Domain per domain, a
// System per domain (platform-<domain>, so that components have a system to
// belong to), a Resource per add-on (infrastructure that runs in clusters)
// and a Component per other component, typed by its kind. A component's first
// domain is its system; the others become tags. Lifecycles map to Backstage's
// (active is production; retired stays deprecated, with an annotation).
func (c *Catalog) Backstage() ([]byte, error) {
	var docs []map[string]any
	for _, d := range c.Domains {
		docs = append(docs, entity("Domain", d.Name, d.DisplayTitle(), d.Problem, nil, nil, map[string]any{
			"owner": group(d.Owner),
		}))
	}
	for _, d := range c.Domains {
		docs = append(docs, entity("System", systemOf(d.Name), d.DisplayTitle()+" platform",
			"The platform's components for "+d.DisplayTitle()+".", nil, nil, map[string]any{
				"owner":  group(d.Owner),
				"domain": d.Name,
			}))
	}
	for _, comp := range c.Components {
		kind, typ := "Component", comp.Kind
		if comp.Kind == KindAddon {
			kind, typ = "Resource", "cluster-add-on"
		}
		spec := map[string]any{"type": typ, "owner": group(comp.Owner), "system": systemOf(comp.Domains[0])}
		if kind == "Component" {
			spec["lifecycle"] = backstageLifecycle(comp.Lifecycle)
		}
		if deps := c.entityRefs(comp.DependsOn); len(deps) > 0 {
			spec["dependsOn"] = deps
		}
		annotations := map[string]any{AnnotationPrefix + "lifecycle": comp.Lifecycle}
		if comp.ReplacedBy != "" {
			annotations[AnnotationPrefix+"replaced-by"] = c.entityRefs([]string{comp.ReplacedBy})[0]
		}
		if len(comp.Interfaces) > 0 {
			annotations[AnnotationPrefix+"interfaces"] = strings.Join(comp.Interfaces, "\n")
		}
		if comp.Addon != "" {
			annotations[AnnotationPrefix+"addon"] = comp.Addon
		}
		if comp.App != "" {
			annotations[AnnotationPrefix+"app"] = comp.App
		}
		var tags []string
		for _, d := range comp.Domains[1:] {
			tags = append(tags, "domain-"+d)
		}
		var links []any
		for _, l := range comp.Links {
			links = append(links, map[string]any{"title": l.Title, "url": l.URL})
		}
		docs = append(docs, entity(kind, comp.Name, comp.DisplayTitle(), comp.Description, annotations, tags, spec, links...))
	}
	var out bytes.Buffer
	for i, doc := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		data, err := yamlout.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out.Write(data)
	}
	return out.Bytes(), nil
}

func entity(kind, name, title, description string, annotations map[string]any, tags []string, spec map[string]any, links ...any) map[string]any {
	meta := map[string]any{"name": name, "title": title, "description": description}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	if len(tags) > 0 {
		meta["tags"] = tags
	}
	if len(links) > 0 {
		meta["links"] = links
	}
	return map[string]any{"apiVersion": backstageAPI, "kind": kind, "metadata": meta, "spec": spec}
}

func systemOf(domain string) string { return "platform-" + domain }

func group(team string) string { return "group:" + team }

func backstageLifecycle(l string) string {
	switch l {
	case Active:
		return "production"
	case Retired:
		return Deprecated
	}
	return l
}

// entityRefs are Backstage references to components: resource:x for add-ons.
func (c *Catalog) entityRefs(names []string) []string {
	var refs []string
	for _, n := range names {
		if comp := c.Component(n); comp != nil && comp.Kind == KindAddon {
			refs = append(refs, "resource:"+n)
		} else {
			refs = append(refs, "component:"+n)
		}
	}
	return refs
}
