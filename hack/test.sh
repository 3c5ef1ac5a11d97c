#!/usr/bin/env bash
# Runs every test against the local sandbox and prints "tests: N passed, N failed".
# Starts the sandbox first (building its components once, with progress) and
# builds the test tools, so that no build happens inside a test binary; stops
# the sandbox at the end only if this script started it.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}

# Each step's wall time goes to $times and is printed at the end (docs/testing.md keeps
# the cold figures; a new step or tool must keep a cold run under 60 minutes).
times=$(mktemp)
timed() { # timed NAME COMMAND...: runs COMMAND, records how long it took
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  printf '%s\t%d\n' "$name" "$((SECONDS - start))" >>"$times"
  return $rc
}
report_times() {
  echo "step times (s):"
  while IFS=$'\t' read -r name secs; do printf '  %-22s %5s\n' "$name" "$secs"; done <"$times" || true
  rm -f "$times"
}

timed lint make -s lint
timed cross make -s cross
timed build make -s build

started=false
if ! "$KUBE" sandbox status >/dev/null 2>&1; then
  timed "sandbox up" "$KUBE" sandbox up
  started=true
fi
stop() { if $started; then "$KUBE" sandbox down || true; fi; report_times; }
trap stop EXIT
# Debian packages the tests need, installed when missing (as root, or with sudo).
ensure_deb() { # ensure_deb COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "installing Debian's $2 package for the tests ($1 is missing)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null ||
    { echo "cannot install $2: install it yourself (apt-get install $2) and run again" >&2; exit 1; }
}
timed "debian packages" ensure_deb npm npm # Renovate and github-label-sync come from the npm registry
timed "debian packages" ensure_deb chromium chromium # the console's browser tests
# Programs only tests use (Traefik for the fork routing test), built once into the cache.
timed "test tools" go run ./hack/testtools traefik prometheus alertmanager kube-state-metrics prometheus-operator helm actionlint tofu terraform-provider-kubetest renovate github-label-sync

set +e
# Every fuzz target runs a few seconds (make fuzz runs them longer), then every test.
# servicex and the example service are modules of their own (MODULES, from the Makefile).
{
  FUZZTIME=${FUZZTIME:-3s} timed fuzz hack/fuzz.sh
  timed "go test" go test -json -count=1 -timeout 40m ./...
  for m in ${MODULES:-servicex examples/orders}; do (cd "$m" && GOWORK=off timed "go test $m" go test -json -count=1 -timeout 10m ./...); done
} | go run ./hack/testsummary
rc=$?
set -e
exit $rc
