package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kube-idp/kube/internal/app"
	"github.com/kube-idp/kube/internal/deploy"
	"github.com/kube-idp/kube/internal/spec"
)

// appOptions are what every command about an app has: its I/O, the flags that
// name the app, and how to resolve it (a Factory's, or a test's).
type appOptions struct {
	IO      *IOStreams
	App     app.Flags
	Resolve func(app.Flags, app.Need) (*app.App, error)
}

func newAppOptions(f *Factory) appOptions {
	return appOptions{IO: f.IO, Resolve: f.ResolveApp}
}

// register adds -f (with the given shorthand; "" for none: kube logs uses -f for
// --follow), --app, -n and -R.
func (o *appOptions) register(cmd *cobra.Command, fileShorthand string) {
	cmd.Flags().StringVarP(&o.App.Dir, "filename", fileShorthand, "", "directory of manifests (default: kubernetes/<cluster>/ of the repository's "+spec.FileName+")")
	cmd.Flags().StringVar(&o.App.Name, "app", "", "app name (default: app of "+spec.FileName+"; required with -f; enough alone, without a checkout, for commands about a deployed app)")
	cmd.Flags().StringVarP(&o.App.Namespace, "namespace", "n", "", "the app's namespace: its inventory and revisions, and objects without a namespace (default: the spec's, else the manifests', else the app's name)")
	cmd.Flags().BoolVarP(&o.App.Recursive, "recursive", "R", false, "read the manifests in the subdirectories of -f too")
}

// resolve resolves the app and connects to its cluster; skipped subdirectories
// of the manifests are named on stderr.
func (o *appOptions) resolve(need app.Need) (*app.App, *deploy.Client, error) {
	a, err := o.Resolve(o.App, need)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range a.Skipped {
		fmt.Fprintf(o.IO.ErrOut, "note: %s is a subdirectory and was not read (-R reads subdirectories)\n", d)
	}
	c, err := deploy.NewClient(a.Cluster.Config)
	return a, c, err
}
