#!/usr/bin/env bash
# Runs every fuzz target of the repository (every func Fuzz* in a _test.go) for
# FUZZTIME each, as `go test -json` lines for hack/testsummary, which reports
# the execs of each. make test runs them briefly; make fuzz as long as asked.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
    go test -json -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
