#!/usr/bin/env bash
# Console benchmark on the local sandbox: the fleet page for 80 apps x 3
# clusters. The 80 apps of bench/fleetgen are deployed once to the sandbox,
# which a temporary registry then lists three times (clusters a, b and c, each
# read with its own client), so that the page has 240 apps and makes the calls of
# three clusters. Prints, in one run:
#   the fleet page's time at the server (median of 20 requests, curl's
#   time to first byte on loopback; the goal is under 200 ms),
#   the same data read with kubectl (what a person would run instead),
#   and the console's peak memory (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
APPS=${APPS:-80}
[[ -x $KUBE ]] || { echo "build kube first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null
kubeconfig=$("$KUBE" sandbox kubeconfig --path)
cache=${KUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kube}/bench
KUBECTL=$cache/kubectl-$(sha256sum hack/tools/go.sum | cut -c1-12)/kubectl
[[ -x $KUBECTL ]] || { echo "run bench/deploy.sh once first (it builds kubectl)" >&2; exit 1; }

work=$(mktemp -d)
console=
cleanup() {
  [[ -n $console ]] && kill "$console" 2>/dev/null || true
  for d in "$work"/kube/*; do basename "$d"; done |
    xargs "$KUBECTL" --kubeconfig "$kubeconfig" delete ns --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
go run ./bench/fleetgen -out "$work" -apps "$APPS" >/dev/null
"$KUBE" generate --update "$work"/kube/* >/dev/null 2>&1 || true

context=$(awk '/^current-context:/ {print $2}' "$kubeconfig")
cat >"$work/clusters.yaml" <<YAML
clusters:
- name: a
  auth: {kubeconfig: {file: $kubeconfig, context: $context}}
- name: b
  auth: {kubeconfig: {file: $kubeconfig, context: $context}}
- name: c
  auth: {kubeconfig: {file: $kubeconfig, context: $context}}
YAML
KUBE_REGISTRY=$work/clusters.yaml "$KUBE" clusters >/dev/null

echo "deploying $APPS apps to the sandbox (once)..." >&2
for d in "$work"/kube/*; do
  app=$(basename "$d")
  # Each app in a namespace of its own, as the generated manifests say.
  "$KUBE" deploy --kubeconfig "$kubeconfig" -f "$d/kubernetes/sandbox" --app "$app" --yes --timeout 0 >/dev/null 2>&1 ||
    { echo "deploying $app failed" >&2; exit 1; }
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KUBE_REGISTRY=$work/clusters.yaml "$KUBE" console --listen "127.0.0.1:$port" >"$work/console.log" 2>&1 &
console=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# The run's token, from the URL the console printed, as a cookie for every request.
token=$(sed -n 's/.*?token=\([^ ]*\).*/\1/p' "$work/console.log" | head -1)
curl() { command curl -b "kube_console_token=$token" "$@"; }

apps=$(curl -sf "http://127.0.0.1:$port/" | grep -c 'data-app=' || true)
[[ $apps -ge $((APPS * 3)) ]] || { echo "the fleet page lists $apps apps, want $((APPS * 3)):" >&2; cat "$work/console.log" >&2; exit 1; }
times=()
for _ in $(seq 1 20); do times+=("$(curl -s -o /dev/null -w '%{time_starttransfer}' "http://127.0.0.1:$port/")"); done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$console/status")

now() { date +%s.%N; }
t=$(now)
for _ in a b c; do
  "$KUBECTL" --kubeconfig "$kubeconfig" get secrets,deployments,statefulsets,cronjobs -A -l applyset.kubernetes.io/part-of >/dev/null 2>&1 || true
done
kubectl_s=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')

echo
echo "fleet page: $apps apps on 3 clusters (bench/fleetgen's $APPS, and what the sandbox held already, on each)"
printf '%-58s %10s\n' "console fleet page, median of 20 (server, to first byte)" "$(awk -v s="$median" 'BEGIN { printf "%.0f ms", s * 1000 }')"
printf '%-58s %10s\n' "kubectl get of the same kinds, 3 clusters (for scale)" "$(awk -v s="$kubectl_s" 'BEGIN { printf "%.0f ms", s * 1000 }')"
printf '%-58s %10s\n' "console peak memory (VmHWM)" "$((rss / 1024)) MiB"
