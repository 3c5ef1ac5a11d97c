#!/usr/bin/env bash
# servicex's cost per request over bare net/http, with and without a trace
# exporter: ns and allocations per request, the ratio, and whether it meets the
# goal (at most +3 µs and +15 allocations). No cluster needed.
#   bench/servicex.sh [-benchtime 2s]
set -euo pipefail
cd "$(dirname "$0")/../servicex"
GOWORK=off go test -run '^$' -bench Overhead -benchmem "$@" .
