// Command testsummary reads `go test -json` on stdin, prints a readable log (package
// results, and the whole output of failed tests), and ends with one line
// "tests: N passed, N failed, N skipped". It exits 1 if anything failed, including
// a package that did not build.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type summary struct {
	passed, failed, skipped int
	failedTests             []string
	failedPkgs              []string
}

func main() {
	s, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if s.failed > 0 || len(s.failedPkgs) > 0 {
		os.Exit(1)
	}
}

func summarize(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	outputs := map[string][]string{} // test key -> output lines
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not test2json (for example a build error printed by go test): pass it on.
			fmt.Fprintln(out, string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package-level lines: results ("ok", "FAIL"), and what TestMain prints.
				if !strings.HasPrefix(e.Output, "PASS") && !strings.HasPrefix(e.Output, "=== ") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					s.failedPkgs = append(s.failedPkgs, e.Package)
				}
				continue
			}
			switch e.Action {
			case "pass":
				s.passed++
				if line := lastFuzzLine(outputs[key]); line != "" {
					fmt.Fprintf(out, "fuzzed %s (%s): %s\n", e.Test, e.Package, line)
				}
			case "skip":
				s.skipped++
			case "fail":
				s.failed++
				s.failedTests = append(s.failedTests, e.Package+"."+e.Test)
				fmt.Fprintf(out, "--- FAIL: %s (%s)\n%s", e.Test, e.Package, strings.Join(outputs[key], ""))
			}
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	sort.Strings(s.failedTests)
	for _, t := range s.failedTests {
		fmt.Fprintf(out, "FAILED: %s\n", t)
	}
	fmt.Fprintf(out, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s, nil
}

// lastFuzzLine is the last progress line of a fuzzing run ("elapsed: 3s, execs:
// 22296 (7431/sec), ..."), without its prefix, or "".
func lastFuzzLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], "fuzz: elapsed: "); ok && strings.Contains(rest, "execs:") {
			return "elapsed " + strings.TrimSpace(rest)
		}
	}
	return ""
}
