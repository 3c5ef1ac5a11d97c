package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/catalog/usage"
)

// CatalogOptions are what every kube catalog command has.
type CatalogOptions struct {
	IO     *IOStreams
	f      *Factory
	Repo   string // the platform repository
	Output string
	// Action is the subcommand (list, show, gaps, export, schema) and Args
	// its arguments.
	Action string
	Args   []string
}

func newCatalogCmd(f *Factory, runF func(context.Context, *CatalogOptions) error) *cobra.Command {
	o := &CatalogOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "The platform's catalog: problem domains, the components serving them, owners and gaps",
		Long: `The platform team keeps its catalog as reviewed files in the platform repository:

  platform/domains/<name>.yaml      a problem domain: its essential problem,
                                    responsibilities, features, interfaces, owner
  platform/components/<name>.yaml   an add-on, tool, library, service, process or
                                    document: its domains, lifecycle, owner, links,
                                    interfaces, and the add-on or app it is

kube catalog answers what serves a domain, what a component does and who owns it,
which domains have no active component and which deprecated components are still
in use, and exports the catalog for Backstage and as GitHub labels.
docs/catalog.md.`,
		Example: `  kube catalog                          # every domain and what serves it
  kube catalog show observability       # one domain, or one component
  kube catalog gaps ~/src/billing       # uncovered domains, deprecated components in use
  kube catalog export backstage > catalog-info.yaml
  kube catalog export labels > .github/labels.yaml`,
		Args: cobra.NoArgs,
	}
	action := func(name string) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			o.Action, o.Args = name, args
			return or(runF, runCatalog)(c.Context(), o)
		}
	}
	cmd.RunE = action("list")
	cmd.PersistentFlags().StringVarP(&o.Repo, "repo", "C", ".", "the platform repository (the catalog is its "+catalog.Dir+"/)")
	outputFlag(cmd, &o.Output)
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a domain (and what serves it) or a component (what it does, who owns it)",
		Args:  cobra.ExactArgs(1),
		RunE:  action("show"),
	}
	outputFlag(show, &o.Output)
	gaps := &cobra.Command{
		Use:   "gaps [APP_REPO...]",
		Short: "Domains without an active component, and deprecated components still in use (exit 1 if any)",
		Long: `Reports, and exits 1 if there is any:

  uncovered  a domain that no active component serves (experimental ones are named)
  in use     a deprecated or retired component still used: its add-on is still
             pinned in a clusters/<cluster>/addons.yaml of the platform repository,
             its app is one of the app repositories given, or a component that is
             not retired depends on it`,
		RunE: action("gaps"),
	}
	outputFlag(gaps, &o.Output)
	export := &cobra.Command{
		Use:   "export backstage|labels",
		Short: "Print the catalog as Backstage entities, or one GitHub label per domain",
		Long: `backstage  Backstage catalog entities (backstage.io/v1alpha1), one YAML document
           each: a Domain and a System (platform-<domain>) per domain, a Resource
           per add-on and a Component per other component. Register the file in
           Backstage's catalog.locations.
labels     one GitHub label per domain ("domain: <title>", its colour, its problem
           as the description) in the YAML file format of github-label-sync:
           github-label-sync --labels labels.yaml --allow-added-labels OWNER/REPO`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"backstage", "labels"},
		RunE:      action("export"),
	}
	schema := &cobra.Command{
		Use:       "schema domain|component",
		Short:     "Print the JSON Schema of a domain or component file (for editors and CI)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"domain", "component"},
		RunE:      action("schema"),
	}
	cmd.AddCommand(show, gaps, export, schema)
	return cmd
}

// runCatalog runs one catalog subcommand.
func runCatalog(_ context.Context, o *CatalogOptions) error {
	switch o.Action {
	case "list":
		return runCatalogList(o)
	case "show":
		return runCatalogShow(o, o.Args[0])
	case "gaps":
		return runCatalogGaps(o, o.Args)
	case "export":
		return runCatalogExport(o, o.Args[0])
	case "schema":
		s, ok := catalog.Schema(o.Args[0])
		if !ok {
			return usageError{fmt.Errorf("schema of %q: domain or component", o.Args[0])}
		}
		return writeJSON(o.IO.Out, s)
	}
	return usageError{fmt.Errorf("no catalog action %q", o.Action)}
}

func (o *CatalogOptions) load() (*catalog.Catalog, error) {
	return catalog.Load(filepath.Join(o.Repo, catalog.Dir))
}

// catalogDomain is a domain with what serves it, as -o json|yaml print it.
type catalogDomain struct {
	Name             string             `json:"name"`
	Title            string             `json:"title"`
	Owner            string             `json:"owner"`
	Problem          string             `json:"problem"`
	Responsibilities []string           `json:"responsibilities"`
	Features         []string           `json:"features"`
	Interfaces       []string           `json:"interfaces"`
	Components       []catalogComponent `json:"components"`
}

type catalogComponent struct {
	Name        string         `json:"name"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Kind        string         `json:"kind"`
	Domains     []string       `json:"domains"`
	Lifecycle   string         `json:"lifecycle"`
	ReplacedBy  string         `json:"replacedBy,omitempty"`
	Owner       string         `json:"owner"`
	Links       []catalog.Link `json:"links,omitempty"`
	Interfaces  []string       `json:"interfaces,omitempty"`
	DependsOn   []string       `json:"dependsOn,omitempty"`
	Addon       string         `json:"addon,omitempty"`
	App         string         `json:"app,omitempty"`
}

func componentView(c *catalog.Component) catalogComponent {
	return catalogComponent{Name: c.Name, Title: c.DisplayTitle(), Description: c.Description, Kind: c.Kind, Domains: c.Domains,
		Lifecycle: c.Lifecycle, ReplacedBy: c.ReplacedBy, Owner: c.Owner, Links: c.Links, Interfaces: c.Interfaces,
		DependsOn: c.DependsOn, Addon: c.Addon, App: c.App}
}

func domainView(c *catalog.Catalog, d *catalog.Domain) catalogDomain {
	v := catalogDomain{Name: d.Name, Title: d.DisplayTitle(), Owner: d.Owner, Problem: d.Problem,
		Responsibilities: d.Responsibilities, Features: d.Features, Interfaces: d.Interfaces, Components: []catalogComponent{}}
	for _, comp := range c.Serving(d.Name) {
		v.Components = append(v.Components, componentView(comp))
	}
	return v
}

func runCatalogList(o *CatalogOptions) error {
	c, err := o.load()
	if err != nil {
		return err
	}
	views := []catalogDomain{}
	for _, d := range c.Domains {
		views = append(views, domainView(c, d))
	}
	if done, err := o.IO.structured(o.Output, views); done {
		return err
	}
	t := o.IO.newTable("DOMAIN", "OWNER", "SERVED BY", "KIND", "LIFECYCLE", "ITS OWNER")
	for _, d := range views {
		if len(d.Components) == 0 {
			t.row(d.Name, d.Owner, "-", "", "", "")
		}
		for _, comp := range d.Components {
			t.row(d.Name, d.Owner, comp.Name, comp.Kind, lifecycleText(comp), comp.Owner)
		}
	}
	if err := t.print(); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "%d domain(s), %d component(s)\n", len(c.Domains), len(c.Components))
	return nil
}

func lifecycleText(c catalogComponent) string {
	if c.ReplacedBy != "" {
		return c.Lifecycle + " (use " + c.ReplacedBy + ")"
	}
	return c.Lifecycle
}

func runCatalogShow(o *CatalogOptions, name string) error {
	c, err := o.load()
	if err != nil {
		return err
	}
	if d := c.Domain(name); d != nil {
		v := domainView(c, d)
		if done, err := o.IO.structured(o.Output, v); done {
			return err
		}
		w := o.IO.Out
		fmt.Fprintf(w, "Domain:      %s (%s)\nOwner:       %s\nProblem:     %s\n", v.Title, v.Name, v.Owner, v.Problem)
		list(w, "Responsibilities", v.Responsibilities)
		list(w, "Features", v.Features)
		list(w, "Interfaces", v.Interfaces)
		var served []string
		for _, comp := range v.Components {
			served = append(served, fmt.Sprintf("%s (%s, %s, %s)", comp.Name, comp.Kind, lifecycleText(comp), comp.Owner))
		}
		if len(served) == 0 {
			served = []string{"none: see kube catalog gaps"}
		}
		list(w, "Served by", served)
		return nil
	}
	comp := c.Component(name)
	if comp == nil {
		return usageError{fmt.Errorf("the catalog has no domain or component %q (kube catalog lists them)", name)}
	}
	v := componentView(comp)
	if done, err := o.IO.structured(o.Output, v); done {
		return err
	}
	w := o.IO.Out
	fmt.Fprintf(w, "Component:   %s (%s)\nKind:        %s\nLifecycle:   %s\nOwner:       %s\nDomains:     %s\nDescription: %s\n",
		v.Title, v.Name, v.Kind, lifecycleText(v), v.Owner, strings.Join(v.Domains, ", "), v.Description)
	if v.Addon != "" {
		fmt.Fprintf(w, "Add-on:      %s\n", v.Addon)
	}
	if v.App != "" {
		fmt.Fprintf(w, "App:         %s\n", v.App)
	}
	list(w, "Interfaces", v.Interfaces)
	list(w, "Depends on", v.DependsOn)
	var links []string
	for _, l := range v.Links {
		links = append(links, l.Title+": "+l.URL)
	}
	list(w, "Links", links)
	var users []string
	for _, other := range c.Components {
		for _, dep := range other.DependsOn {
			if dep == comp.Name {
				users = append(users, other.Name)
			}
		}
	}
	list(w, "Used by", users)
	return nil
}

func list(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, it := range items {
		fmt.Fprintf(w, "  - %s\n", it)
	}
}

func runCatalogGaps(o *CatalogOptions, appRepos []string) error {
	c, err := o.load()
	if err != nil {
		return err
	}
	var u catalog.Usage
	if u.Addons, err = usage.AddonUses(o.Repo); err != nil {
		return err
	}
	if u.Apps, err = usage.AppUses(appRepos); err != nil {
		return err
	}
	gaps := c.Gaps(u)
	if gaps == nil {
		gaps = []catalog.Gap{}
	}
	done, err := o.IO.structured(o.Output, gaps)
	if err != nil {
		return err
	}
	if !done {
		for _, g := range gaps {
			fmt.Fprintln(o.IO.Out, g.Message)
			for _, by := range g.UsedBy {
				fmt.Fprintf(o.IO.Out, "  used by %s\n", by)
			}
		}
		fmt.Fprintf(o.IO.ErrOut, "%d gap(s) in %d domain(s) and %d component(s); add-on files read from %s\n",
			len(gaps), len(c.Domains), len(c.Components), filepath.Join(o.Repo, "clusters", "*", "addons.yaml"))
	}
	if len(gaps) > 0 {
		return exitCode(exitFailure)
	}
	return nil
}

func runCatalogExport(o *CatalogOptions, format string) error {
	c, err := o.load()
	if err != nil {
		return err
	}
	var data []byte
	switch format {
	case "backstage":
		data, err = c.Backstage()
	case "labels":
		data, err = c.LabelsYAML()
	default:
		return usageError{fmt.Errorf("export %q: backstage or labels", format)}
	}
	if err != nil {
		return err
	}
	_, err = o.IO.Out.Write(data)
	return err
}
