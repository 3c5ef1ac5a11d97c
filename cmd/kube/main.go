// Command kube is the developers' and CI's CLI for the platform.
package main

import (
	"os"

	"github.com/kube-idp/kube/internal/cli"
)

func main() { os.Exit(cli.Main()) }
