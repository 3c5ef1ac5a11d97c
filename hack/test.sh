#!/usr/bin/env bash
# Runs every test against the local sandbox and prints "tests: N passed, N failed".
# Starts the sandbox first (building its components once, with progress) and
# builds the test tools, so that no build happens inside a test binary; stops
# the sandbox at the end only if this script started it.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}

started=false
if ! "$KUBE" sandbox status >/dev/null 2>&1; then
  "$KUBE" sandbox up
  started=true
fi
stop() { if $started; then "$KUBE" sandbox down || true; fi; }
trap stop EXIT
# Debian packages the tests need, installed when missing (as root, or with sudo).
ensure_deb() { # ensure_deb COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "installing Debian's $2 package for the tests ($1 is missing)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null ||
    { echo "cannot install $2: install it yourself (apt-get install $2) and run again" >&2; exit 1; }
}
ensure_deb npm npm           # Renovate and github-label-sync come from the npm registry
ensure_deb chromium chromium # the console's browser tests
# Programs only tests use (Traefik for the fork routing test), built once into the cache.
go run ./hack/testtools traefik prometheus alertmanager kube-state-metrics prometheus-operator helm renovate github-label-sync

set +e
# Every fuzz target runs a few seconds (make fuzz runs them longer), then every test.
# servicex and the example service are modules of their own (MODULES, from the Makefile).
{
  FUZZTIME=${FUZZTIME:-3s} hack/fuzz.sh
  go test -json -count=1 -timeout 40m ./...
  for m in ${MODULES:-servicex examples/orders}; do (cd "$m" && GOWORK=off go test -json -count=1 -timeout 10m ./...); done
} | go run ./hack/testsummary
rc=$?
set -e
exit $rc
