// Command testtools builds the programs only tests use (Traefik, for the fork
// routing test) into kube's cache, with progress, so that hack/test.sh does not
// build them inside a test binary's time limit. Built ones are reused.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/kube-idp/kube/internal/progress"
	"github.com/kube-idp/kube/internal/sandbox"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p := &progress.Reporter{Out: os.Stderr, TTY: term.IsTerminal(int(os.Stderr.Fd()))}
	for _, name := range os.Args[1:] {
		if _, err := sandbox.EnsureTestTool(ctx, p, name); err != nil {
			fmt.Fprintln(os.Stderr, "testtools:", err)
			os.Exit(1)
		}
	}
}
