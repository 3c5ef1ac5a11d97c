// Package catalog is the platform catalog: the problem domains a platform
// serves, each with its essential problem, responsibilities, provided features
// and interfaces, and the components (add-ons, tools, libraries, services,
// processes, documents) that serve them. The platform team keeps it as reviewed
// files in its platform repository:
//
//	platform/domains/<name>.yaml      one domain per file
//	platform/components/<name>.yaml   one component per file
//
// One entity per file keeps reviews and ownership (CODEOWNERS) per entity, as
// Backstage's catalog-info.yaml does.
package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// Dir is where the catalog lives in a platform repository; DomainsDir and
// ComponentsDir are inside it.
const (
	Dir           = "platform"
	DomainsDir    = "domains"
	ComponentsDir = "components"
)

// Domain is a problem domain of the platform.
type Domain struct {
	Name             string   `yaml:"name" required:"true" doc:"The domain's name, as the file is named: lower case, digits and '-'."`
	Title            string   `yaml:"title" doc:"How people write it, e.g. CI/CD (default: the name)."`
	Owner            string   `yaml:"owner" required:"true" doc:"The team that answers for the domain."`
	Problem          string   `yaml:"problem" required:"true" doc:"The essential problem the domain solves, in a sentence or two."`
	Responsibilities []string `yaml:"responsibilities" required:"true" doc:"What the platform team is responsible for in this domain."`
	Features         []string `yaml:"features" required:"true" doc:"What the domain provides to product teams."`
	Interfaces       []string `yaml:"interfaces" required:"true" doc:"How product teams use it: commands, files, APIs, channels."`
	Color            string   `yaml:"color" doc:"The colour of the domain's GitHub label, six hex digits (default: derived from the name)."`
	Loc              strictyaml.Loc

	File string `yaml:"-"`
}

// Component kinds and lifecycles.
const (
	KindAddon    = "add-on"
	KindTool     = "tool"
	KindLibrary  = "library"
	KindService  = "service"
	KindProcess  = "process"
	KindDocument = "document"

	Experimental = "experimental"
	Active       = "active"
	Deprecated   = "deprecated"
	Retired      = "retired"
)

// Kinds and Lifecycles are the values a component may take, in order.
var (
	Kinds      = []string{KindAddon, KindTool, KindLibrary, KindService, KindProcess, KindDocument}
	Lifecycles = []string{Experimental, Active, Deprecated, Retired}
)

// Component is one thing the platform runs or provides.
type Component struct {
	Name        string   `yaml:"name" required:"true" doc:"The component's name, as the file is named: lower case, digits and '-'."`
	Title       string   `yaml:"title" doc:"How people write it (default: the name)."`
	Description string   `yaml:"description" required:"true" doc:"What it does, for whom."`
	Kind        string   `yaml:"kind" required:"true" enum:"add-on,tool,library,service,process,document" doc:"What sort of thing it is."`
	Domains     []string `yaml:"domains" required:"true" doc:"The domains it serves, the main one first."`
	Lifecycle   string   `yaml:"lifecycle" required:"true" enum:"experimental,active,deprecated,retired" doc:"Where it is in its life."`
	ReplacedBy  string   `yaml:"replacedBy" doc:"For a deprecated or retired component: the component to use instead."`
	Owner       string   `yaml:"owner" required:"true" doc:"The team that answers for it."`
	Links       []Link   `yaml:"links" doc:"Documentation, repository, dashboards."`
	Interfaces  []string `yaml:"interfaces" doc:"What it provides to others: commands, APIs, CRDs, files, channels."`
	DependsOn   []string `yaml:"dependsOn" doc:"Components it needs."`
	Addon       string   `yaml:"addon" doc:"The add-on (clusters/<cluster>/addons.yaml) that deploys it, if it is one."`
	App         string   `yaml:"app" doc:"The app (kube-generate.yaml's app) that it is, if it is one."`
	Loc         strictyaml.Loc

	File string `yaml:"-"`
}

// Link is a titled URL.
type Link struct {
	Title string `yaml:"title" required:"true"`
	URL   string `yaml:"url" required:"true" doc:"An http or https URL."`
	Loc   strictyaml.Loc
}

// Catalog is a platform's catalog, domains and components sorted by name.
type Catalog struct {
	Domains    []*Domain
	Components []*Component
}

// Domain returns the named domain, or nil.
func (c *Catalog) Domain(name string) *Domain {
	i := slices.IndexFunc(c.Domains, func(d *Domain) bool { return d.Name == name })
	if i < 0 {
		return nil
	}
	return c.Domains[i]
}

// Component returns the named component, or nil.
func (c *Catalog) Component(name string) *Component {
	i := slices.IndexFunc(c.Components, func(d *Component) bool { return d.Name == name })
	if i < 0 {
		return nil
	}
	return c.Components[i]
}

// Serving returns the components that serve a domain, sorted by name.
func (c *Catalog) Serving(domain string) []*Component {
	var out []*Component
	for _, comp := range c.Components {
		if slices.Contains(comp.Domains, domain) {
			out = append(out, comp)
		}
	}
	return out
}

// DisplayTitle is the title, or the name.
func (d *Domain) DisplayTitle() string { return cmp.Or(d.Title, d.Name) }

// DisplayTitle is the title, or the name.
func (c *Component) DisplayTitle() string { return cmp.Or(c.Title, c.Name) }

// Load reads and validates the catalog in dir (a platform repository's
// platform/). Files are read through an os.Root, so that a symbolic link in a
// pull request cannot make kube read outside the catalog. All problems of all
// files are returned together, each at file:line:column.
func Load(dir string) (*Catalog, error) {
	// Opened through its parent's root, so that a platform/ that is itself a
	// link out of the repository is refused too.
	parent, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	root, err := parent.OpenRoot(filepath.Base(dir))
	if strictyaml.IsEscape(err) {
		return nil, fmt.Errorf("%s is a symbolic link out of the repository: kube reads the catalog only inside it", dir)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no catalog in %s: it holds %s/*.yaml and %s/*.yaml (see docs/catalog.md)", dir, DomainsDir, ComponentsDir)
		}
		return nil, err
	}
	defer root.Close()
	files := map[string][]byte{}
	for _, sub := range []string{DomainsDir, ComponentsDir} {
		entries, err := fs.ReadDir(root.FS(), sub)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !isYAML(e.Name()) {
				continue
			}
			name := path.Join(sub, e.Name())
			data, err := readFile(root, name)
			if err != nil {
				return nil, err
			}
			files[name] = data
		}
	}
	return Parse(dir, files)
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func readFile(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, strictyaml.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil // Parse refuses a file over the limit, with its name
}

// Parse decodes and validates catalog files, keyed by their path under the
// catalog (domains/x.yaml, components/y.yaml); dir prefixes the paths in errors.
func Parse(dir string, files map[string][]byte) (*Catalog, error) {
	c := &Catalog{}
	var errs strictyaml.Errors
	for _, name := range strictyaml.Keys(files) {
		file := filepath.Join(dir, filepath.FromSlash(name))
		switch path.Dir(name) {
		case DomainsDir:
			d := &Domain{File: file}
			if e := strictyaml.Unmarshal(file, files[name], d); e != nil {
				errs = append(errs, e...)
				continue
			}
			c.Domains = append(c.Domains, d)
		case ComponentsDir:
			comp := &Component{File: file}
			if e := strictyaml.Unmarshal(file, files[name], comp); e != nil {
				errs = append(errs, e...)
				continue
			}
			c.Components = append(c.Components, comp)
		default:
			errs = append(errs, strictyaml.Error{File: file, Pos: strictyaml.Pos{Line: 1, Column: 1},
				Msg: fmt.Sprintf("not a catalog file: domains go in %s/, components in %s/", DomainsDir, ComponentsDir)})
		}
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}
