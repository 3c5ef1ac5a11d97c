// Package spec reads kube-generate.yaml: the short description of an application
// from which `kube generate` writes its Kubernetes manifests. Every problem in a
// file is reported at once, each with file:line:column, what is wrong and what is
// allowed.
package spec

import (
	"path"
	"path/filepath"
	"strings"

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
}

// Generator is one entry of `generates`: exactly one of the fields is set.
type Generator struct {
	Namespace      *NamespaceGen      `yaml:"namespace" doc:"The app's Namespace."`
	Web            *WebGen            `yaml:"web" doc:"A Deployment serving HTTP with its Service, probes, and optional HorizontalPodAutoscaler and PodDisruptionBudget."`
	Worker         *WorkerGen         `yaml:"worker" doc:"A Deployment of a background process (no Service)."`
	CronJob        *CronJobGen        `yaml:"cronjob" doc:"A CronJob; failures are announced to the app's Slack channel by the CronJob notifier."`
	ServiceAccount *ServiceAccountGen `yaml:"serviceAccount" doc:"A ServiceAccount."`
	ConfigMap      *ConfigMapGen      `yaml:"configMap" doc:"A ConfigMap from files and literal values."`
	Route          *RouteGen          `yaml:"route" doc:"Host routing to a Service: a Gateway API HTTPRoute (default) or an Ingress."`
	ArgoCD         *ArgoCDGen         `yaml:"argocdApplication" doc:"An Argo CD Application that deploys kubernetes/<cluster>/ by GitOps."`
	Fork           *ForkGen           `yaml:"fork" doc:"Enables kube fork in the app's namespace: the RoleBinding that lets kube-controller make fork copies there."`
	Loc            Loc
}

// Common are the keys every generator has.
type Common struct {
	Clusters []string `yaml:"clusters" required:"true" doc:"Clusters to generate for, from the file's cluster names."`
	Patches  []Patch  `yaml:"patches" doc:"Changes the templates do not cover, applied last: strategic merge or JSON patch."`
}

// NamespaceGen generates the Namespace.
type NamespaceGen struct {
	Common `yaml:",inline"`
	Labels map[string]string `yaml:"labels" doc:"Extra labels, e.g. for Pod Security admission."`
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

// WebGen generates a web process: Deployment + Service (+ HPA, PDB).
type WebGen struct {
	Common    `yaml:",inline"`
	Container `yaml:",inline"`
	Name      string            `yaml:"name" doc:"Process name. Default: the app name."`
	Replicas  PerCluster[int32] `yaml:"replicas" doc:"Replicas per cluster (ignored when autoscale is set). Default: 2."`
	Port      int32             `yaml:"port" doc:"Container port serving HTTP. Default: 8080."`
	Health    string            `yaml:"health" doc:"HTTP path of the readiness and liveness probes. Default: /healthz."`
	Autoscale *Autoscale        `yaml:"autoscale" doc:"HorizontalPodAutoscaler on CPU."`
	PDB       *PDB              `yaml:"pdb" doc:"PodDisruptionBudget. Default: maxUnavailable 1 when more than one replica."`
	Loc       Loc
}

// Autoscale configures a HorizontalPodAutoscaler.
type Autoscale struct {
	Min PerCluster[int32] `yaml:"min" required:"true" doc:"Minimum replicas."`
	Max PerCluster[int32] `yaml:"max" required:"true" doc:"Maximum replicas."`
	CPU int32             `yaml:"cpu" doc:"Target CPU utilisation in percent. Default: 70."`
	Loc Loc
}

// PDB configures a PodDisruptionBudget.
type PDB struct {
	MaxUnavailable string `yaml:"maxUnavailable" doc:"Number or percentage, e.g. 1 or 25%."`
	Disabled       bool   `yaml:"disabled" doc:"No PodDisruptionBudget."`
	Loc            Loc
}

// WorkerGen generates a background process: a Deployment without Service.
type WorkerGen struct {
	Common    `yaml:",inline"`
	Container `yaml:",inline"`
	Name      string            `yaml:"name" required:"true" doc:"Process name, e.g. worker."`
	Replicas  PerCluster[int32] `yaml:"replicas" doc:"Replicas per cluster. Default: 1."`
	Loc       Loc
}

// CronJobGen generates a CronJob.
type CronJobGen struct {
	Common            `yaml:",inline"`
	Container         `yaml:",inline"`
	Name              string             `yaml:"name" required:"true" doc:"CronJob name."`
	Schedule          PerCluster[string] `yaml:"schedule" required:"true" doc:"Cron schedule (5 fields), per cluster."`
	TimeZone          string             `yaml:"timeZone" doc:"IANA time zone of the schedule. Default: Etc/UTC."`
	ConcurrencyPolicy string             `yaml:"concurrencyPolicy" doc:"Allow, Forbid or Replace. Default: Forbid."`
	Deadline          string             `yaml:"deadline" doc:"Longest a run may take (Go duration, e.g. 30m) before it is stopped and reported. Default: 1h."`
	Retries           int32              `yaml:"retries" doc:"Pod retries before the run fails. Default: 0."`
	History           *History           `yaml:"history" doc:"How many finished Jobs to keep."`
	Suspend           PerCluster[bool]   `yaml:"suspend" doc:"Suspend the schedule, per cluster."`
	Notify            string             `yaml:"notify" doc:"Slack channel for failures. Default: the file's slack."`
	Loc               Loc
}

// History limits of a CronJob.
type History struct {
	Succeeded int32 `yaml:"succeeded" doc:"Default: 3."`
	Failed    int32 `yaml:"failed" doc:"Default: 3."`
	Loc       Loc
}

// ServiceAccountGen generates a ServiceAccount.
type ServiceAccountGen struct {
	Common      `yaml:",inline"`
	Name        string            `yaml:"name" doc:"Default: the app name."`
	Annotations map[string]string `yaml:"annotations" doc:"E.g. a cloud IAM role binding."`
	Loc         Loc
}

// ConfigMapGen generates a ConfigMap.
type ConfigMapGen struct {
	Common `yaml:",inline"`
	Name   string            `yaml:"name" required:"true" doc:"ConfigMap name."`
	Files  []string          `yaml:"files" doc:"Files (relative to this spec, inside the repository) whose contents become keys named after them; KEY=PATH names the key."`
	Data   map[string]string `yaml:"data" doc:"Literal keys and values."`
	Loc    Loc
}

// ConfigFile is one entry of a configMap's files: the key and the file.
type ConfigFile struct {
	Key, Path string
}

// FileEntries splits the files entries: "PATH" (the key is the file's name) or
// "KEY=PATH", as kubectl create configmap --from-file takes them.
func (c *ConfigMapGen) FileEntries() []ConfigFile {
	out := make([]ConfigFile, len(c.Files))
	for i, f := range c.Files {
		if k, p, ok := strings.Cut(f, "="); ok {
			out[i] = ConfigFile{Key: k, Path: p}
			continue
		}
		out[i] = ConfigFile{Key: path.Base(filepath.ToSlash(f)), Path: f}
	}
	return out
}

// RouteGen generates host routing to a Service.
type RouteGen struct {
	Common       `yaml:",inline"`
	Name         string             `yaml:"name" doc:"Default: the app name."`
	Kind         string             `yaml:"kind" doc:"httproute (Gateway API, default) or ingress."`
	Host         PerCluster[string] `yaml:"host" required:"true" doc:"Host name, per cluster."`
	Path         string             `yaml:"path" doc:"Path prefix. Default: /."`
	Service      string             `yaml:"service" doc:"Service to route to. Default: the app name (the web process)."`
	Port         int32              `yaml:"port" doc:"Service port. Default: 80."`
	Gateway      string             `yaml:"gateway" doc:"Gateway as NAMESPACE/NAME (httproute). Default: gateway-system/public."`
	IngressClass string             `yaml:"ingressClass" doc:"IngressClass (ingress). Default: the cluster's default."`
	Loc          Loc
}

// ArgoCDGen generates an Argo CD Application per cluster.
type ArgoCDGen struct {
	Common    `yaml:",inline"`
	Repo      string `yaml:"repo" required:"true" doc:"Git URL of this repository."`
	Revision  string `yaml:"revision" doc:"Branch, tag or commit. Default: HEAD."`
	Project   string `yaml:"project" doc:"Argo CD project. Default: default."`
	Namespace string `yaml:"namespace" doc:"Namespace where Argo CD runs. Default: argocd."`
	Server    string `yaml:"server" doc:"Destination API server. Default: https://kubernetes.default.svc."`
	AutoSync  bool   `yaml:"autoSync" doc:"Sync automatically, with prune and self-heal."`
	Loc       Loc
}

// ForkGen enables forks of the app's workloads in its namespace.
type ForkGen struct {
	Common     `yaml:",inline"`
	Controller string `yaml:"controller" doc:"kube-controller's service account as NAMESPACE/NAME. Default: kube-idp-system/kube-controller."`
	Loc        Loc
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
