// Command kube-controller runs the platform's in-cluster controllers. For now it
// only reports its version; the fork and CronJob controllers join it later.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kube-idp/kube/internal/version"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	fmt.Printf("kube-controller %s (%s)\n", version.String(), version.GoVersion())
	if !*showVersion {
		fmt.Fprintln(os.Stderr, "no controllers are implemented yet; this binary only reports its version")
	}
}
