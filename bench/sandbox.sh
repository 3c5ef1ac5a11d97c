#!/usr/bin/env bash
# Measures the sandbox side by side in one run and prints ratios to the targets:
#   build   time to build every component into an empty kube cache
#           (--cold: with an empty Go build cache too, as on a fresh machine; ~12+ min)
#   up      time of the first `kube sandbox up` with cached components
#   noop    time of `kube sandbox up` when it is already up (target: < 2 s)
#   down    time of `kube sandbox down`
#   memory  resident memory of the running components (target: ~560 MB)
# It uses its own cache, state directory and sandbox name, and removes them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE ]] || { echo "build kube first: make build" >&2; exit 1; }

cold=false
[[ ${1:-} == --cold ]] && cold=true

work=$(mktemp -d)
export KUBE_STATE_DIR=$work/state KUBE_CACHE_DIR=$work/cache
$cold && export GOCACHE=$work/gocache
cleanup() { "$KUBE" sandbox down --name bench >/dev/null 2>&1 || true; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "building components into an empty cache (cold Go cache: $cold)..." >&2
t0=$(now); "$KUBE" sandbox up --name bench >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }; t1=$(now)
# That first up built and started; measure a start with cached binaries separately.
"$KUBE" sandbox down --name bench >/dev/null 2>&1
t2=$(now); "$KUBE" sandbox up --name bench >/dev/null 2>&1; t3=$(now)
t4=$(now); "$KUBE" sandbox up --name bench >/dev/null 2>&1; t5=$(now)

rss_kb=0
report=""
for pid in $(pgrep -f "$KUBE_STATE_DIR/sandbox/bench/" || true); do
  kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  name=$(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{print $1}' | xargs basename)
  report+=$(printf "    %-26s %6d MB" "$name" $((kb / 1024)))$'\n'
  rss_kb=$((rss_kb + kb))
done
t6=$(now); "$KUBE" sandbox down --name bench >/dev/null 2>&1; t7=$(now)

build=$(secs "$t0" "$t1"); up=$(secs "$t2" "$t3"); noop=$(secs "$t4" "$t5"); down=$(secs "$t6" "$t7")
mem=$((rss_kb / 1024))
printf '\n%-34s %10s %10s %8s\n' "measure" "value" "target" "ratio"
printf '%-34s %9ss %10s %8s\n' "build + first up (cold=$cold)" "$build" "720s" "$(awk -v v="$build" 'BEGIN{printf "%.2f", v/720}')"
printf '%-34s %9ss %10s %8s\n' "up with cached components" "$up" "-" "-"
printf '%-34s %9ss %10s %8s\n' "up when already up (no-op)" "$noop" "2s" "$(awk -v v="$noop" 'BEGIN{printf "%.2f", v/2}')"
printf '%-34s %9ss %10s %8s\n' "down" "$down" "-" "-"
printf '%-34s %8sMB %10s %8s\n' "resident memory, all components" "$mem" "560MB" "$(awk -v v="$mem" 'BEGIN{printf "%.2f", v/560}')"
printf '%s' "$report"
