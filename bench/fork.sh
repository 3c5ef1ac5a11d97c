#!/usr/bin/env bash
# kubefork benchmark on the local sandbox: kube-controller runs as its own process;
# 50 shared services; 50 forks created one at a time and timed from creation to
# Ready (p50/p95), then 450 more (500 in all). Prints the controller's memory and
# reconcile count, each with its ratio to the goal (p50 < 2 s, memory < 150 MiB).
#   bench/fork.sh [-services N] [-timed N] [-forks N]
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE && -x bin/kube-controller ]] || { echo "build first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null
go run ./bench/controllerbench -controller bin/kube-controller -sandbox-kubeconfig "$("$KUBE" sandbox kubeconfig --path)" fork "$@"
