#!/usr/bin/env bash
# CronJob notifier benchmark on the local sandbox: kube-controller runs as its own
# process on 1,000 CronJobs while runs fail at 100 per minute (kwok makes their pods
# exit 1); a local webhook receives the messages. Prints the latency from a failure
# to its message (p50/p99), the controller's memory and reconcile counts, each with
# its ratio to the goal (p99 < 3 s, memory < 150 MiB).
#   bench/cronjob.sh [-cronjobs N] [-failures-per-minute N] [-minutes M]
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE && -x bin/kube-controller ]] || { echo "build first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null
go run ./bench/controllerbench -controller bin/kube-controller -sandbox-kubeconfig "$("$KUBE" sandbox kubeconfig --path)" cronjob "$@"
