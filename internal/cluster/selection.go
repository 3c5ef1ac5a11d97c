// Package cluster turns the user's cluster choice (flags, environment, directory
// default, the organisation's cluster registry) into a client configuration, and
// guards the protected clusters.
package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kube-idp/kube/internal/strictyaml"
)

// Local is the name of the local sandbox cluster.
const Local = "local"

// EnvCluster names the default cluster when -c is not given.
const EnvCluster = "KUBE_CLUSTER"

// DirDefaultFile holds a directory's default cluster (written by `kube use`).
const DirDefaultFile = ".kube-cluster"

// Selection is what the user asked for on the command line, and the defaults
// of where the command runs.
type Selection struct {
	// Kubeconfig is an explicit kubeconfig file (--kubeconfig); Context picks a
	// context in it (--context).
	Kubeconfig string
	Context    string
	// Cluster is a cluster name (-c/--cluster).
	Cluster string
	// Registry is the registry file (--registry).
	Registry string
	// RepoDefault is the default cluster of the repository the command runs in
	// (kube-generate.yaml's cluster:), named in messages by RepoDefaultSource.
	RepoDefault, RepoDefaultSource string
	// Local opens the local sandbox, the cluster named "local".
	Local func() (LocalCluster, error)
}

// LocalCluster is the local sandbox as cluster resolution needs it: the path of
// its kubeconfig while it runs, else why not.
type LocalCluster interface {
	Kubeconfig() (string, error)
}

// Target is a resolved cluster.
type Target struct {
	// Name is the cluster name, or "kubeconfig:<context>" for an explicit file.
	Name string
	// Source says how it was chosen, for messages ("-c", "$KUBE_CLUSTER", ...).
	Source string
	Config *rest.Config
	// Kubeconfig is a self-contained kubeconfig for this cluster alone (for
	// kubectl pass-through).
	Kubeconfig *clientcmdapi.Config
	// Entry is the registry entry (nil with --kubeconfig).
	Entry *Cluster
}

// Protected tells whether mutating commands need confirmation.
func (t *Target) Protected() bool { return t.Entry != nil && t.Entry.Protected }

// LoadRegistry loads the registry named by the selection.
func (s Selection) LoadRegistry() (*Registry, error) {
	explicit := s.Registry != "" || os.Getenv(EnvRegistry) != ""
	return LoadRegistry(RegistryPath(s.Registry), explicit)
}

// ChosenName is the name of the cluster the selection designates (without
// --kubeconfig) and where that choice came from.
func (s Selection) ChosenName() (name, source string) {
	if s.Cluster != "" {
		return s.Cluster, "-c"
	}
	if n := os.Getenv(EnvCluster); n != "" {
		return n, "$" + EnvCluster
	}
	if n, p := DirDefault(); n != "" {
		return n, p
	}
	if s.RepoDefault != "" {
		return s.RepoDefault, s.RepoDefaultSource
	}
	return Local, "default"
}

// Resolve picks the cluster: --kubeconfig, else -c, else $KUBE_CLUSTER, else the
// directory default (`kube use`), else the repository's default (RepoDefault), else
// "local". Only -c and $KUBE_CLUSTER may name a protected cluster. The user's ~/.kube/config and
// $KUBECONFIG are never used implicitly, so that a command cannot reach whatever
// cluster happens to be current.
func (s Selection) Resolve() (*Target, error) {
	if s.Kubeconfig != "" {
		if s.Cluster != "" {
			return nil, errors.New("--kubeconfig and --cluster both name a cluster: use one of them")
		}
		return fromKubeconfig(s.Kubeconfig, s.Context, "kubeconfig:")
	}
	if s.Context != "" {
		return nil, errors.New("--context selects a context of --kubeconfig: give --kubeconfig too, or use -c NAME")
	}
	name, source := s.ChosenName()
	reg, err := s.LoadRegistry()
	if err != nil {
		return nil, err
	}
	entry, ok := reg.Find(name)
	if ok && entry.Protected && source != "-c" && source != "$"+EnvCluster {
		return nil, fmt.Errorf("cluster %s is protected, so it is never a default (here from %s): name it with -c %s", name, source, name)
	}
	if !ok {
		where := "no registry file"
		if reg.Path != "" {
			where = "registry " + reg.Path
		}
		return nil, fmt.Errorf("unknown cluster %q (from %s); known: %s (%s); for another cluster pass --kubeconfig FILE [--context NAME]",
			name, source, strings.Join(reg.Names(), ", "), where)
	}
	var t *Target
	switch {
	case entry.Name == Local:
		t, err = s.localTarget()
	case entry.Auth.Kubeconfig != nil:
		file := entry.Auth.Kubeconfig.File
		if file == "" {
			file = clientcmd.RecommendedHomeFile
		}
		t, err = fromKubeconfig(expandHome(file), entry.Auth.Kubeconfig.Context, "")
	default:
		t, err = fromRegistry(entry)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", name, err)
	}
	t.Name, t.Source, t.Entry = name, source, entry
	countRequests(t.Config)
	return t, nil
}

func (s Selection) localTarget() (*Target, error) {
	if s.Local == nil {
		return nil, errors.New("no local sandbox is known to this command")
	}
	sb, err := s.Local()
	if err != nil {
		return nil, err
	}
	path, err := sb.Kubeconfig()
	if err != nil {
		return nil, err
	}
	t, err := fromKubeconfig(path, "", "")
	if err != nil {
		return nil, err
	}
	// Inline the certificates: client-go caches TLS transports by file path, and a
	// restarted sandbox has new certificates at the same paths.
	if err := rest.LoadTLSFiles(t.Config); err != nil {
		return nil, fmt.Errorf("reading the sandbox certificates: %w", err)
	}
	return t, nil
}

// fromKubeconfig reads (never writes) a kubeconfig file and keeps one context.
func fromKubeconfig(path, context, namePrefix string) (*Target, error) {
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	if context == "" {
		context = raw.CurrentContext
	}
	if _, ok := raw.Contexts[context]; !ok {
		return nil, fmt.Errorf("kubeconfig %s has no context %q", path, context)
	}
	raw.CurrentContext = context
	if err := clientcmdapi.MinifyConfig(raw); err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(raw); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	t := &Target{Name: namePrefix + context, Source: "--kubeconfig", Config: cfg, Kubeconfig: raw}
	if namePrefix != "" {
		countRequests(cfg)
	}
	return t, nil
}

// fromRegistry builds the kubeconfig of a registry entry authenticating with a
// credential plugin (exec, or kubelogin for OIDC).
func fromRegistry(c *Cluster) (*Target, error) {
	exec := &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode}
	switch {
	case c.Auth.Exec != nil:
		e := c.Auth.Exec
		exec.Command, exec.Args, exec.InstallHint = e.Command, e.Args, e.InstallHint
		if e.APIVersion != "" {
			exec.APIVersion = e.APIVersion
		}
		for _, k := range strictyaml.Keys(e.Env) {
			exec.Env = append(exec.Env, clientcmdapi.ExecEnvVar{Name: k, Value: e.Env[k]})
		}
	case c.Auth.OIDC != nil:
		o := c.Auth.OIDC
		exec.APIVersion = "client.authentication.k8s.io/v1beta1"
		exec.Command = "kubectl"
		exec.Args = []string{"oidc-login", "get-token", "--oidc-issuer-url=" + o.IssuerURL, "--oidc-client-id=" + o.ClientID}
		for _, s := range o.Scopes {
			exec.Args = append(exec.Args, "--oidc-extra-scope="+s)
		}
		exec.InstallHint = "OIDC login needs kubelogin: https://github.com/int128/kubelogin#setup"
	}
	cl := clientcmdapi.NewCluster()
	cl.Server = c.Server
	if c.CertificateAuthorityData != "" {
		cl.CertificateAuthorityData = []byte(mustBase64(c.CertificateAuthorityData))
	} else {
		cl.CertificateAuthority = expandHome(c.CertificateAuthority)
	}
	user := clientcmdapi.NewAuthInfo()
	user.Exec = exec
	ctx := clientcmdapi.NewContext()
	ctx.Cluster, ctx.AuthInfo, ctx.Namespace = c.Name, c.Name, c.Namespace
	api := clientcmdapi.NewConfig()
	api.Clusters[c.Name], api.AuthInfos[c.Name], api.Contexts[c.Name] = cl, user, ctx
	api.CurrentContext = c.Name
	if err := clientcmdapi.FlattenConfig(api); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*api, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	return &Target{Config: cfg, Kubeconfig: api}, nil
}

// DirDefault finds the default cluster of the working directory: the nearest
// .kube-cluster file in it or a parent.
func DirDefault() (name, source string) {
	wd, err := os.Getwd()
	if err != nil {
		return "", ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, DirDefaultFile)
		if data, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(data)), p
		}
		if filepath.Dir(d) == d {
			return "", ""
		}
	}
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}
