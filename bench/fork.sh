#!/usr/bin/env bash
# kubefork benchmark on the local sandbox: kube-controller runs as its own process;
# 50 shared services; 50 forks created one at a time and timed from creation to
# Ready (p50/p95), then 450 more (500 in all). Prints the controller's memory and
# reconcile count, each with its ratio to the goal (p50 < 2 s, memory < 150 MiB).
# Then kube fork connect next to kubectl port-forward to the same target: latency
# added per request (p50, p99; goal p50 within 1 ms) and the throughput of a 100 MB
# transfer (goal at least 80% of kubectl's).
#   bench/fork.sh [-services N] [-timed N] [-forks N]
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE && -x bin/kube-controller ]] || { echo "build first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null
kubeconfig=$("$KUBE" sandbox kubeconfig --path)
go run ./bench/controllerbench -controller bin/kube-controller -sandbox-kubeconfig "$kubeconfig" fork "$@"
go run ./bench/forkconnect -kube "$KUBE" -controller bin/kube-controller -sandbox-kubeconfig "$kubeconfig"
