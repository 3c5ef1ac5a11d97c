// Command kubectl-kube is kube as a kubectl plugin: `kubectl kube deploy -c qa`.
package main

import (
	"os"

	"github.com/kube-idp/kube/internal/cli"
)

func main() { os.Exit(cli.Main()) }
