#!/usr/bin/env bash
# Fleet proposals: kube generate --update --propose's engine over bench/fleetgen's
# 80 apps (every file written by older templates, so every repository gets a
# pull request), against git's own http-backend and a GitHub API fake, in one run;
# prints the time in git and in the GitHub API next to kube's own (regenerating
# and deciding) and the share of each.
# Goal: kube's own part under 1 s for the fleet; git's is what any tool pays.
# One repository at a time by default, so that the two do not blur each other's
# time on a small machine (KUBE_BENCH_PARALLEL=N to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
APPS=${APPS:-80}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./bench/fleetgen -out "$work" -apps "$APPS" >/dev/null
out=$(KUBE_BENCH_FLEET="$work/kube" go test -run '^$' -bench '^BenchmarkProposeFleet$' -benchtime 1x ./internal/propose)
line=$(grep '^BenchmarkProposeFleet' <<<"$out") || { echo "$out" >&2; exit 1; }
metric() { awk -v u="$1" '{ for (i = 2; i <= NF; i++) if ($i == u) print $(i-1) }' <<<"$line"; }
git_s=$(metric git-s); kube_s=$(metric kube-s); gen_s=$(metric generate-s); forge_s=$(metric forge-s); wall=$(metric wall-s); repos=$(metric repos)
echo
echo "fleet: ${repos%.*} app repositories, every one proposed (clone, regenerate, commit, push, pull request)"
printf '%-40s %9s %8s\n' "part" "seconds" "share"
awk -v g="$git_s" -v k="$kube_s" -v gen="$gen_s" -v f="$forge_s" -v w="$wall" 'BEGIN {
  t = g + k + f
  printf "%-40s %9.2f %7.1f%%\n", "git (clone, diff, commit, push)", g, 100 * g / t
  printf "%-40s %9.2f %7.1f%%\n", "GitHub API (a local fake)", f, 100 * f / t
  printf "%-40s %9.2f %7.1f%%\n", "kube itself (regenerate, decide)", k, 100 * k / t
  printf "%-40s %9.2f\n", "  of which regenerating", gen
  printf "%-40s %9.2f\n", "wall", w
  printf "git / kube: %.0fx; goal: kube itself under 1 s: %s\n", g / k, (k < 1 ? "met" : "NOT met")
}'
