#!/usr/bin/env bash
# Runs every fuzz target of the repository (every func Fuzz* in a _test.go) for
# FUZZTIME each, as `go test -json` lines for hack/testsummary, which reports
# the execs of each. make test runs them briefly; make fuzz as long as asked.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime ends while a worker is busy (golang/go#75804, fixed in
# Go 1.27): such a run, with no failing input written, is run once more. A real
# finding always writes its input to testdata/fuzz/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  dir=$(dirname "${file#./}")
  # The package's module: servicex and the examples are modules of their own.
  mod=$dir
  while [[ $mod != . && ! -f $mod/go.mod ]]; do mod=$(dirname "$mod"); done
  pkg=./${dir#"$mod"}
  pkg=${pkg/#.\/\//./}
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
    for attempt in 1 2; do
      if (cd "$mod" && GOWORK=off go test -json -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg") >"$out"; then
        break
      fi
      if [[ $attempt == 2 ]] || ! grep -q 'context deadline exceeded' "$out" || grep -q 'Failing input written' "$out"; then
        break
      fi
    done
    cat "$out"
  done
done
