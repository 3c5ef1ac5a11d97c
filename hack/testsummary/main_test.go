package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarizeCountsAndShowsFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`# q`,
		`q/x.go:1: syntax error`,
	}, "\n")
	var out bytes.Buffer
	s, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.failed != 1 || s.skipped != 1 {
		t.Fatalf("counts = %d/%d/%d, want 1/1/1", s.passed, s.failed, s.skipped)
	}
	got := out.String()
	for _, want := range []string{"b_test.go:9: boom", "FAILED: p.TestB", "q/x.go:1: syntax error", "tests: 1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN   TestA") {
		t.Errorf("output of a passing test should not be shown:\n%s", got)
	}
	if len(s.failedPkgs) != 1 {
		t.Errorf("failed packages = %v", s.failedPkgs)
	}
}

// Fuzzing runs report how many inputs they tried.
func TestSummarizeReportsFuzzExecs(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"output","Package":"p","Test":"FuzzX","Output":"fuzz: elapsed: 3s, execs: 22296 (7431/sec), new interesting: 21 (total: 131)\n"}`,
		`{"Action":"output","Package":"p","Test":"FuzzX","Output":"--- PASS: FuzzX (3.01s)\n"}`,
		`{"Action":"pass","Package":"p","Test":"FuzzX"}`,
	}, "\n")
	var out bytes.Buffer
	if _, err := summarize(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fuzzed FuzzX (p): elapsed 3s, execs: 22296 (7431/sec)") {
		t.Errorf("output:\n%s", out.String())
	}
}
