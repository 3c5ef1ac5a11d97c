#!/usr/bin/env bash
# kube infra on a generated monorepo: targets of a change on 500 roots and 100
# modules, and the tag rule on a 5,000-resource plan, each with its goal (under 1 s).
#   bench/infra.sh [-roots N] [-modules N] [-resources N]
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE ]] || { echo "build first: make build" >&2; exit 1; }
go run ./bench/infrabench -kube "$KUBE" "$@"
