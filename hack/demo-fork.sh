#!/usr/bin/env bash
# The fork part of `make demo`: runs kube-controller beside the sandbox (outside
# the cluster, as docs/fork.md shows), forks billing's web Deployment with
# another image, shows the fork, and deletes it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}

log=$(mktemp)
"$BIN/kube-controller" --kubeconfig "$("$BIN/kube" sandbox kubeconfig --path)" --namespace billing \
  --metrics-bind-address 0 --health-probe-bind-address 0 >"$log" 2>&1 &
ctrl=$!
finish() {
  rc=$?
  kill "$ctrl" 2>/dev/null || true
  wait "$ctrl" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then echo "kube-controller's log:"; cat "$log"; fi
  rm -f "$log"
}
trap finish EXIT

"$BIN/kube" fork create demo -c local -n billing --deployment billing \
  --image registry.example.com/payments/billing:my-branch --ttl 10m
"$BIN/kube" fork status demo -c local -n billing
"$BIN/kube" fork delete demo -c local -n billing
