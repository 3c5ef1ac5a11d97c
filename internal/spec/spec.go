// Package spec reads kube-generate.yaml: the short description of an application
// from which `kube generate` writes its Kubernetes manifests. Every problem in a
// file is reported at once, each with file:line:column, what is wrong and what is
// allowed.
package spec

import (
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// FileName is the spec's name at the root of an application's repository.
const FileName = "kube-generate.yaml"

// DefaultClusters are the cluster names allowed when the file does not list its own.
var DefaultClusters = []string{"sandbox", "qa", "prod"}

// File is a kube-generate.yaml.
type File struct {
	App       string      `yaml:"app" doc:"Application name (a DNS label). Default: the name of the directory holding this file."`
	Team      string      `yaml:"team" doc:"Owning team, written as the label kube-idp.dev/team on every object."`
	Slack     string      `yaml:"slack" doc:"Slack channel for the app's alerts and CronJob notifications, e.g. '#payments-alerts'."`
	Namespace string      `yaml:"namespace" doc:"Namespace of every object. Default: the app name."`
	Clusters  []string    `yaml:"clusters" doc:"The organisation's cluster names. Default: sandbox, qa, prod."`
	Cluster   string      `yaml:"cluster" doc:"Default cluster (a registry name, e.g. local or qa) of kube commands run in this repository; never a protected one."`
	Generates []Generator `yaml:"generates" required:"true" doc:"What to generate: a list of generators, each a mapping with one key."`
	Loc       Loc

	// Path is the file's path as given to Load (for messages and headers).
	Path string `yaml:"-"`
	// Warnings are what validation found worth a look but not wrong; when the
	// file has errors, they are reported among them.
	Warnings Errors `yaml:"-"`
}

// Generator is one entry of generates: a mapping with one key, the generator's
// kind, whose value is its settings.
type Generator struct {
	// Kind is the entry's key (web, worker, ...).
	Kind string
	// Spec holds the settings, of the type the kind registered; nil when the
	// entry could not be decoded.
	Spec GeneratorSpec
	Loc  Loc

	node *yaml.Node // the entry, decoded once the kinds are known
}

// GeneratorSpec is a generator's settings. Each generator (internal/generate,
// one file each) defines its own, with its defaults and checks; kube generate
// adds how it makes objects.
type GeneratorSpec interface {
	// Base returns the keys every generator has.
	Base() *Common
	// Describe names it in file headers and messages, e.g. `web "api"`.
	Describe() string
	// Default fills in the defaults; f is the whole file, defaulted already.
	Default(f *File)
	// Validate reports what is wrong, every problem at its position.
	Validate(v *Validator)
}

// Kind registers a generator: its key in generates, its documentation, and a
// constructor of its settings (a pointer to a struct that strictyaml decodes).
type Kind struct {
	Key string
	Doc string
	New func() GeneratorSpec
}

// Kinds are the generators a spec may use.
type Kinds []Kind

// Keys lists the generator keys, sorted.
func (ks Kinds) Keys() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Key
	}
	slices.Sort(out)
	return out
}

func (ks Kinds) find(key string) (Kind, bool) {
	for _, k := range ks {
		if k.Key == key {
			return k, true
		}
	}
	return Kind{}, false
}

// Common are the keys every generator has.
type Common struct {
	Clusters []string `yaml:"clusters" required:"true" doc:"Clusters to generate for, from the file's cluster names."`
	Patches  []Patch  `yaml:"patches" doc:"Changes the templates do not cover, applied last: strategic merge or JSON patch."`
}

// Container is what web, worker and cronjob run.
type Container struct {
	Image          string                `yaml:"image" required:"true" doc:"Image repository without tag, e.g. registry.example.com/billing."`
	Tag            PerCluster[string]    `yaml:"tag" required:"true" doc:"Image tag or digest (sha256:...), per cluster."`
	Command        []string              `yaml:"command" doc:"Entrypoint; default: the image's."`
	Args           []string              `yaml:"args" doc:"Arguments; default: the image's."`
	Env            map[string]EnvValue   `yaml:"env" doc:"Environment: a literal, a per-cluster value, or {secret: NAME, key: KEY}. Never put credentials here as literals."`
	Resources      PerCluster[Resources] `yaml:"resources" doc:"Requests (and memory limit), per cluster."`
	ServiceAccount string                `yaml:"serviceAccount" doc:"ServiceAccount name; default: the namespace's default."`
	Loc            Loc
}

// Resources are compute requests; the memory limit defaults to the request.
type Resources struct {
	CPU         string `yaml:"cpu" doc:"CPU request, e.g. 100m."`
	Memory      string `yaml:"memory" doc:"Memory request and limit, e.g. 256Mi."`
	MemoryLimit string `yaml:"memoryLimit" doc:"Memory limit when it must differ from the request."`
	CPULimit    string `yaml:"cpuLimit" doc:"CPU limit; default none (throttling hurts latency)."`
	Loc         Loc
}

// Patch changes generated objects after the templates.
type Patch struct {
	Kind  string `yaml:"kind" required:"true" doc:"Kind of the object to patch, e.g. Deployment."`
	Name  string `yaml:"name" doc:"Name of the object; default: every object of that kind from this generator."`
	Merge Raw    `yaml:"merge" doc:"Strategic merge patch (a mapping)."`
	JSON  Raw    `yaml:"json" doc:"JSON patch (RFC 6902): a list of operations."`
	Loc   Loc
}

// EnvValue is an environment variable: a literal (possibly per cluster) or a
// reference to a key of a Secret.
type EnvValue struct {
	Value  PerCluster[string]
	Secret *SecretRef
	Loc    Loc
}

// SecretRef names a key in a Secret.
type SecretRef struct {
	Secret string `yaml:"secret" required:"true" doc:"Secret name."`
	Key    string `yaml:"key" required:"true" doc:"Key in the Secret."`
	Loc    Loc
}

func (e *EnvValue) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	e.Loc = Loc{Pos: strictyaml.At(n)}
	if n.Kind == yaml.MappingNode && strictyaml.HasKey(n, "secret") {
		e.Secret = &SecretRef{}
		d.DecodeStruct(n, strictyaml.Value(e.Secret))
		return
	}
	e.Value.DecodeYAML(d, n)
}

// Raw keeps a YAML value as generic data (patch bodies).
type Raw struct {
	Value any
	Set   bool
	Pos   Pos
}

func (r *Raw) DecodeYAML(d *strictyaml.Decoder, n *yaml.Node) {
	r.Set, r.Pos = true, strictyaml.At(n)
	if err := n.Decode(&r.Value); err != nil {
		d.Errorf(n, "%v", err)
	}
}
