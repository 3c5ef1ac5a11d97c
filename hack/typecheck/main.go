// Command typecheck checks packages for the GOOS and GOARCH in its environment without
// compiling them: it type-checks them and every dependency from source, then runs go
// vet's analyzers on the named packages (their tests included).
//
// make test uses it for the platforms it does not build natively. A cross build compiles
// every dependency (Kubernetes, Helm, Prometheus) again, about 8 cold minutes a platform
// on 2 cores; type-checking the same code from source takes seconds and finds what a
// pure Go program (CGO_ENABLED=0) can get wrong on another platform: a name missing or
// defined twice across build-tagged files, a wrong type, an unused import. What only a
// compiler's back end or a linker could find is left to the release build.
package main

import (
	"fmt"
	"go/build"
	"os"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/analysis/passes/appends"
	"golang.org/x/tools/go/analysis/passes/assign"
	"golang.org/x/tools/go/analysis/passes/atomic"
	"golang.org/x/tools/go/analysis/passes/bools"
	"golang.org/x/tools/go/analysis/passes/buildtag"
	"golang.org/x/tools/go/analysis/passes/composite"
	"golang.org/x/tools/go/analysis/passes/copylock"
	"golang.org/x/tools/go/analysis/passes/defers"
	"golang.org/x/tools/go/analysis/passes/directive"
	"golang.org/x/tools/go/analysis/passes/errorsas"
	"golang.org/x/tools/go/analysis/passes/httpresponse"
	"golang.org/x/tools/go/analysis/passes/ifaceassert"
	"golang.org/x/tools/go/analysis/passes/lostcancel"
	"golang.org/x/tools/go/analysis/passes/nilfunc"
	"golang.org/x/tools/go/analysis/passes/printf"
	"golang.org/x/tools/go/analysis/passes/shift"
	"golang.org/x/tools/go/analysis/passes/sigchanyzer"
	"golang.org/x/tools/go/analysis/passes/slog"
	"golang.org/x/tools/go/analysis/passes/stdmethods"
	"golang.org/x/tools/go/analysis/passes/stringintconv"
	"golang.org/x/tools/go/analysis/passes/structtag"
	"golang.org/x/tools/go/analysis/passes/testinggoroutine"
	"golang.org/x/tools/go/analysis/passes/tests"
	"golang.org/x/tools/go/analysis/passes/timeformat"
	"golang.org/x/tools/go/analysis/passes/unmarshal"
	"golang.org/x/tools/go/analysis/passes/unreachable"
	"golang.org/x/tools/go/analysis/passes/unsafeptr"
	"golang.org/x/tools/go/analysis/passes/unusedresult"
	"golang.org/x/tools/go/analysis/passes/waitgroup"
	"golang.org/x/tools/go/packages"
)

// vet is go vet's default suite, less the analyzers that concern cgo and assembly
// (the cross checks run with CGO_ENABLED=0 and kube has no assembly).
var vet = []*analysis.Analyzer{
	appends.Analyzer, assign.Analyzer, atomic.Analyzer, bools.Analyzer, buildtag.Analyzer,
	composite.Analyzer, copylock.Analyzer, defers.Analyzer, directive.Analyzer,
	errorsas.Analyzer, httpresponse.Analyzer, ifaceassert.Analyzer, lostcancel.Analyzer,
	nilfunc.Analyzer, printf.Analyzer, shift.Analyzer, sigchanyzer.Analyzer, slog.Analyzer,
	stdmethods.Analyzer, stringintconv.Analyzer, structtag.Analyzer,
	testinggoroutine.Analyzer, tests.Analyzer, timeformat.Analyzer, unmarshal.Analyzer,
	unreachable.Analyzer, unsafeptr.Analyzer, unusedresult.Analyzer, waitgroup.Analyzer,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: GOOS=darwin GOARCH=arm64 go run ./hack/typecheck PACKAGE...")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:]))
}

func run(patterns []string) int {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps |
			packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax | packages.NeedTypesSizes |
			packages.NeedModule,
		Tests: true,
		Env:   append(os.Environ(), "CGO_ENABLED=0"),
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if packages.PrintErrors(pkgs) > 0 {
		return 1
	}
	graph, err := checker.Analyze(vet, pkgs, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A package and its test variant are both roots: report a finding once.
	seen := map[string]bool{}
	for act := range graph.All() {
		if !act.IsRoot {
			continue
		}
		for _, d := range act.Diagnostics {
			line := fmt.Sprintf("%s: %s (%s)", act.Package.Fset.Position(d.Pos), d.Message, act.Analyzer.Name)
			if !seen[line] {
				seen[line] = true
				fmt.Fprintln(os.Stderr, line)
			}
		}
	}
	if len(seen) > 0 {
		return 1
	}
	n := 0
	packages.Visit(pkgs, nil, func(*packages.Package) { n++ })
	fmt.Printf("%d packages type-check and %v vet for %s/%s\n", n, patterns, build.Default.GOOS, build.Default.GOARCH)
	return 0
}
