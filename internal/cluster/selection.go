// Package cluster turns the user's cluster choice (flags, environment) into a
// client configuration. Until the cluster registry exists, the only named
// cluster is "local", the sandbox started by `kube sandbox up`.
package cluster

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-idp/kube/internal/sandbox"
)

// Local is the name of the local sandbox cluster.
const Local = "local"

// EnvCluster names the default cluster when -c is not given.
const EnvCluster = "KUBE_CLUSTER"

// Selection is what the user asked for on the command line.
type Selection struct {
	// Kubeconfig is an explicit kubeconfig file (--kubeconfig); Context picks a
	// context in it (--context).
	Kubeconfig string
	Context    string
	// Cluster is a cluster name (-c/--cluster).
	Cluster string
}

// Target is a resolved cluster.
type Target struct {
	// Name is the cluster name, or "kubeconfig:<context>" for an explicit file.
	Name   string
	Config *rest.Config
}

// Resolve picks the cluster: --kubeconfig, else -c, else $KUBE_CLUSTER, else
// "local". The user's ~/.kube/config and $KUBECONFIG are never used implicitly, so
// that a command cannot reach whatever cluster happens to be current.
func (s Selection) Resolve() (*Target, error) {
	if s.Kubeconfig != "" {
		if s.Cluster != "" {
			return nil, errors.New("--kubeconfig and --cluster both name a cluster: use one of them")
		}
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: s.Kubeconfig}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: s.Context})
		cfg, err := cc.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("reading --kubeconfig %s: %w", s.Kubeconfig, err)
		}
		raw, err := cc.RawConfig()
		if err != nil {
			return nil, err
		}
		ctx := raw.CurrentContext
		if s.Context != "" {
			ctx = s.Context
		}
		countRequests(cfg)
		return &Target{Name: "kubeconfig:" + ctx, Config: cfg}, nil
	}
	if s.Context != "" {
		return nil, errors.New("--context selects a context of --kubeconfig: give --kubeconfig too, or use -c NAME")
	}
	name := s.Cluster
	if name == "" {
		name = os.Getenv(EnvCluster)
	}
	if name == "" {
		name = Local
	}
	if name != Local {
		return nil, fmt.Errorf("unknown cluster %q: the only known cluster is %q (the sandbox started by `kube sandbox up`); "+
			"for another cluster pass --kubeconfig FILE [--context NAME]", name, Local)
	}
	sb, err := sandbox.Open(sandbox.DefaultName)
	if err != nil {
		return nil, err
	}
	cfg, err := sb.RESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", Local, err)
	}
	countRequests(cfg)
	return &Target{Name: Local, Config: cfg}, nil
}
