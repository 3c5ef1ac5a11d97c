package cluster

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-idp/kube/internal/contract"
	"github.com/kube-idp/kube/internal/secrets"
	"github.com/kube-idp/kube/internal/strictyaml"
)

// EnvRegistry names the registry file when --registry is not given.
const EnvRegistry = "KUBE_REGISTRY"

// Registry is the organisation's list of clusters, published by the platform team.
// It holds no secrets: authentication is delegated to kubeconfig contexts or
// credential plugins.
type Registry struct {
	Clusters []Cluster `yaml:"clusters" required:"true"`
	// Path is where it was read from ("" for the built-in registry).
	Path string `yaml:"-"`
}

// Cluster is one entry of the registry.
type Cluster struct {
	Name string `yaml:"name" required:"true"`
	// Server and CA: required unless auth is a kubeconfig context.
	Server                   string `yaml:"server"`
	CertificateAuthority     string `yaml:"certificateAuthority"`
	CertificateAuthorityData string `yaml:"certificateAuthorityData"`
	Auth                     Auth   `yaml:"auth"`
	// Namespace is the default namespace of kubectl pass-through.
	Namespace string `yaml:"namespace"`
	// Protected clusters need a typed confirmation (or --yes with CI=true) for
	// every mutating command, and may restrict where deploys come from.
	Protected bool   `yaml:"protected"`
	Rules     *Rules `yaml:"rules"`
	// Prometheus and Alertmanager are the base URLs of the cluster's HTTP APIs
	// (kube alerts), e.g. https://prometheus.prod.example.com; reached with
	// the user's network access, no credential here.
	Prometheus   string `yaml:"prometheus"`
	Alertmanager string `yaml:"alertmanager"`
	// PlatformNamespaces are the cluster's own platform namespaces beyond the
	// built-in ones (contract.PlatformNamespaces): no app deploys into them.
	PlatformNamespaces []string `yaml:"platformNamespaces"`
	Loc                strictyaml.Loc
}

// IsPlatformNamespace tells whether ns belongs to the platform on this
// cluster: a built-in one, or one the registry lists.
func (c *Cluster) IsPlatformNamespace(ns string) bool {
	return slices.Contains(contract.PlatformNamespaces, ns) || (c != nil && slices.Contains(c.PlatformNamespaces, ns))
}

// Auth is exactly one way to authenticate.
type Auth struct {
	Kubeconfig *KubeconfigAuth `yaml:"kubeconfig"`
	Exec       *ExecAuth       `yaml:"exec"`
	OIDC       *OIDCAuth       `yaml:"oidc"`
	Loc        strictyaml.Loc
}

// KubeconfigAuth uses a context of an existing kubeconfig file (read, never written).
type KubeconfigAuth struct {
	File    string `yaml:"file"` // default ~/.kube/config
	Context string `yaml:"context" required:"true"`
}

// ExecAuth runs a client-go credential plugin, such as `aws eks get-token`.
type ExecAuth struct {
	Command    string            `yaml:"command" required:"true"`
	Args       []string          `yaml:"args"`
	Env        map[string]string `yaml:"env"`
	APIVersion string            `yaml:"apiVersion"` // default client.authentication.k8s.io/v1
	// InstallHint is shown when the command is missing.
	InstallHint string `yaml:"installHint"`
}

// OIDCAuth logs in with OpenID Connect through the kubelogin plugin
// (`kubectl oidc-login get-token`).
type OIDCAuth struct {
	IssuerURL string   `yaml:"issuerURL" required:"true"`
	ClientID  string   `yaml:"clientID" required:"true"`
	Scopes    []string `yaml:"scopes"`
}

// Rules restrict the mutating commands on a protected cluster.
type Rules struct {
	// Branches allowed to deploy (the git branch of the working directory).
	Branches []string `yaml:"branches"`
	// CleanTree requires no uncommitted change.
	CleanTree bool `yaml:"cleanTree"`
}

// AuthKind names the way a cluster authenticates.
func (c *Cluster) AuthKind() string {
	switch {
	case c.Name == Local:
		return "sandbox"
	case c.Auth.Kubeconfig != nil:
		return "kubeconfig"
	case c.Auth.Exec != nil:
		return "exec"
	case c.Auth.OIDC != nil:
		return "oidc"
	}
	return ""
}

// RegistryPath is where the registry is read from: flag, $KUBE_REGISTRY, or
// ~/.config/kube/clusters.yaml.
func RegistryPath(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv(EnvRegistry); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "kube", "clusters.yaml")
}

// LoadRegistry reads the registry at path. A missing default file is an empty
// registry; a missing file that was named explicitly is an error. The local
// sandbox is always registered as "local".
func LoadRegistry(path string, explicit bool) (*Registry, error) {
	r := &Registry{Path: path}
	data, err := strictyaml.ReadFile(path)
	var tooLarge strictyaml.Errors
	switch {
	case errors.As(err, &tooLarge):
		return nil, tooLarge
	case errors.Is(err, os.ErrNotExist) && !explicit:
		r.Path = ""
	case err != nil:
		return nil, fmt.Errorf("reading the cluster registry: %w", err)
	default:
		// Validate even what decoded partly, so that one run reports everything.
		decodeErrs := strictyaml.Unmarshal(path, data, r)
		if errs := strictyaml.Merge(decodeErrs, r.validate()); errs != nil {
			return nil, errs
		}
	}
	// The sandbox is always there; an entry named "local" may only protect it.
	if _, ok := r.Find(Local); !ok {
		r.Clusters = append([]Cluster{{Name: Local}}, r.Clusters...)
	}
	return r, nil
}

// Find returns the named cluster.
func (r *Registry) Find(name string) (*Cluster, bool) {
	for i := range r.Clusters {
		if r.Clusters[i].Name == name {
			return &r.Clusters[i], true
		}
	}
	return nil, false
}

// Names lists the cluster names.
func (r *Registry) Names() []string {
	out := make([]string, len(r.Clusters))
	for i, c := range r.Clusters {
		out[i] = c.Name
	}
	return out
}

func (r *Registry) validate() strictyaml.Errors {
	var errs strictyaml.Errors
	add := func(p strictyaml.Pos, format string, args ...any) {
		errs = append(errs, strictyaml.Error{File: r.Path, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for i := range r.Clusters {
		c := &r.Clusters[i]
		at := c.Loc.At
		if len(validation.IsDNS1123Label(c.Name)) > 0 {
			add(at("name"), "cluster name %q must be lowercase letters, digits and '-'", c.Name)
		}
		for _, k := range []string{"prometheus", "alertmanager"} {
			v := c.Prometheus
			if k == "alertmanager" {
				v = c.Alertmanager
			}
			switch u, err := url.Parse(v); {
			case v == "":
			case err == nil && u.User != nil: // never echo a password
				add(at(k), "%s must not hold credentials (user:password@): the registry is shared", k)
			case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
				add(at(k), "%s %q must be an http(s) URL, e.g. https://%s.example.com", k, v, k)
			}
		}
		if c.Name == Local {
			// The sandbox's own entry: only its protection, rules and monitoring can be set.
			if c.Server != "" || c.CertificateAuthority != "" || c.CertificateAuthorityData != "" || c.AuthKind() != "sandbox" || c.Auth.Kubeconfig != nil || c.Auth.Exec != nil || c.Auth.OIDC != nil {
				add(at("name"), "%q is the local sandbox: its entry may only set protected, rules, namespace, prometheus and alertmanager", Local)
			}
			seen[c.Name] = at("name").Line
			continue
		}
		if first, dup := seen[c.Name]; dup {
			add(at("name"), "cluster %q is listed twice (first at line %d)", c.Name, first)
		}
		seen[c.Name] = at("name").Line
		n := 0
		for _, set := range []bool{c.Auth.Kubeconfig != nil, c.Auth.Exec != nil, c.Auth.OIDC != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			add(at("auth"), "auth needs exactly one of kubeconfig (an existing context), exec (a credential plugin) or oidc; it has %d", n)
		}
		if c.Auth.Kubeconfig == nil {
			if u, err := url.Parse(c.Server); err != nil || u.Scheme != "https" || u.Host == "" {
				add(at("server"), "server %q must be an https:// URL", c.Server)
			}
			if c.CertificateAuthority == "" && c.CertificateAuthorityData == "" {
				add(at("server"), "cluster %q needs certificateAuthority (a file) or certificateAuthorityData (base64 PEM)", c.Name)
			}
		}
		if c.CertificateAuthorityData != "" {
			if pem, err := base64.StdEncoding.DecodeString(c.CertificateAuthorityData); err != nil || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
				add(at("certificateAuthorityData"), "certificateAuthorityData must be a base64-encoded PEM certificate")
			}
		}
		if strings.Contains(strings.ToLower(c.CertificateAuthorityData+c.CertificateAuthority), "private key") {
			add(at("certificateAuthorityData"), "the registry must hold no secrets")
		}
		if e := c.Auth.Exec; e != nil && e.APIVersion != "" && !slices.Contains([]string{"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}, e.APIVersion) {
			add(c.Auth.Loc.At("exec"), "exec apiVersion %q is not client.authentication.k8s.io/v1 or v1beta1", e.APIVersion)
		}
		if e := c.Auth.Exec; e != nil {
			for _, k := range strictyaml.Keys(e.Env) {
				if secrets.IsSecretName(k) {
					add(c.Auth.Loc.At("exec"), "exec env %s looks like a credential: the registry is shared and must hold no secrets; let the plugin read it from the user's own configuration", k)
				}
			}
		}
		if c.Rules != nil && !c.Protected {
			add(at("rules"), "rules apply to protected clusters: add protected: true")
		}
		if c.Namespace != "" && len(validation.IsDNS1123Label(c.Namespace)) > 0 {
			add(at("namespace"), "namespace %q is not a valid name", c.Namespace)
		}
	}
	return errs
}

func mustBase64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s) // validated when loading
	return string(b)
}
