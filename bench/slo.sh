#!/usr/bin/env bash
# SLO benchmark: kube generate over the 80-app x 3-cluster fleet with two SLOs
# per app (availability and latency of a servicex web process), and kube's
# rules per SLO next to Sloth's for the same SLOs, in one run.
#   goal: the fleet checked in under 0.5 s (median of 5 runs)
#   goal: no more recording rules per SLO than Sloth, the same two alerts
# Sloth is built from the Go module proxy (bench/tools/sloth/go.mod) into the
# kube cache on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
APPS=${APPS:-80}
[[ -x $KUBE ]] || { echo "build kube first: make build" >&2; exit 1; }

cache=${KUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kube}/bench/sloth-$(sha256sum bench/tools/sloth/go.sum | cut -c1-12)
if [[ ! -x $cache/sloth ]]; then
  echo "building sloth into $cache (once; a few minutes)..." >&2
  mkdir -p "$cache"
  (cd bench/tools/sloth && GOWORK=off go build -o "$cache/" github.com/slok/sloth/cmd/sloth)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./bench/fleetgen -out "$work" -apps "$APPS" -slo
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

t=$(now); "$KUBE" generate --update "$work"/kube/* >/dev/null 2>&1; update=$(elapsed "$t")
sync # the files just written are flushed before the checks, not during them
checks=()
for _ in 1 2 3 4 5; do t=$(now); "$KUBE" generate "$work"/kube/* >/dev/null 2>&1; checks+=("$(elapsed "$t")"); done
check=$(printf '%s\n' "${checks[@]}" | sort -n | sed -n 3p)
slos=$((APPS * 2 * 3))

# The same two SLOs of one app as a Sloth spec: the same SLI queries, the
# same objective, page and ticket alerts.
app=app-00 ns=app-00
q() { printf 'sum(rate(http_server_request_duration_seconds_count{namespace="%s", job="%s/%s"%s}[{{.window}}]))' "$ns" "$ns" "$app" "$1"; }
cat >"$work/sloth.yaml" <<EOF
version: prometheus/v1
service: $app
slos:
- name: availability
  objective: 99.95
  sli:
    events:
      error_query: '$(q ', http_response_status_code=~"5.."')'
      total_query: '$(q '')'
  alerting:
    name: ${app}Availability
    page_alert: {labels: {severity: critical}}
    ticket_alert: {labels: {severity: warning}}
- name: latency
  objective: 99
  sli:
    events:
      error_query: '($(q '') - sum(rate(http_server_request_duration_seconds_bucket{namespace="$ns", job="$ns/$app", le="0.25"}[{{.window}}])))'
      total_query: '$(q '')'
  alerting:
    name: ${app}Latency
    page_alert: {labels: {severity: critical}}
    ticket_alert: {labels: {severity: warning}}
EOF
t=$(now); "$cache/sloth" generate -i "$work/sloth.yaml" -o "$work/sloth-rules.yaml" >/dev/null 2>&1; sloth_time=$(elapsed "$t")
kube_rules=$work/kube/$app/kubernetes/prod/prometheusrule-$app-slo.yaml
count() { grep -c "^ *- *$1:\|^ *$1:" "$2" || true; }
kube_records=$(( $(count record "$kube_rules") / 2 )) kube_alerts=$(( $(count alert "$kube_rules") / 2 ))
sloth_records=$(( $(count record "$work/sloth-rules.yaml") / 2 )) sloth_alerts=$(( $(count alert "$work/sloth-rules.yaml") / 2 ))

echo
echo "fleet: $APPS apps x 3 clusters, 2 SLOs each = $slos SLO rule groups"
printf '%-46s %9s\n' "run" "total s"
printf '%-46s %9s\n' "kube generate --update, one process" "$update"
printf '%-46s %9s\n' "kube generate (check), one process, median of 5" "$check"
printf '%-46s %9s\n' "sloth generate, 2 SLOs of one app" "$sloth_time"
echo
printf '%-30s %8s %8s\n' "per SLO" "kube" "sloth"
printf '%-30s %8s %8s\n' "recording rules" "$kube_records" "$sloth_records"
printf '%-30s %8s %8s\n' "alerts" "$kube_alerts" "$sloth_alerts"
echo
awk -v s="$check" 'BEGIN { printf "goal: fleet with SLOs checked under 0.5 s: %s (%.3f s)\n", (s < 0.5 ? "met" : "NOT met"), s }'
awk -v k="$kube_records" -v s="$sloth_records" 'BEGIN { printf "goal: no more recording rules per SLO than Sloth: %s (%d vs %d)\n", (k <= s ? "met" : "NOT met"), k, s }'
