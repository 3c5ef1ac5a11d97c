#!/usr/bin/env bash
# Add-on diff benchmark on the local sandbox, side by side in one run: 34 add-ons
# (the number the platform this project follows runs per cluster), each a Helm chart
# of 8 objects (ServiceAccount, Role, RoleBinding, 3 ConfigMaps, Service,
# Deployment) in its own namespace, served from a local chart repository.
# After one `kube addons deploy`, the no-change check every CI run makes is timed:
#   kube addons diff                      (fetch, render 34 charts, dry-run plans)
#   helm template | kubectl diff, x34     (what helm-diff does per release; Helmfile
#                                          runs helm diff per release the same way)
# Helmfile itself is not run: `helmfile diff` needs the helm-diff plugin, which the
# Go module proxy refuses (403 for github.com/databus23/helm-diff, 2026-11-23).
# Prints both times and the ratio. helm and kubectl are the ones bench/deploy.sh
# builds from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE ]] || { echo "build kube first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null
N=${N:-34}

cache=${KUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kube}/bench
kubectl_dir=$cache/kubectl-$(sha256sum hack/tools/go.sum | cut -c1-12)
helm_dir=$cache/$(sha256sum bench/tools/go.sum | cut -c1-12)
[[ -x $kubectl_dir/kubectl && -x $helm_dir/helm ]] || { echo "run bench/deploy.sh once first (it builds kubectl and helm)" >&2; exit 1; }
KUBECTL=$kubectl_dir/kubectl HELM=$helm_dir/helm
export KUBECONFIG
KUBECONFIG=$("$KUBE" sandbox kubeconfig --path)

work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null || true
  for i in $(seq 1 "$N"); do echo "bench-addon-$i-$$"; done | xargs "$KUBECTL" delete ns --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Charts and their repository.
mkdir -p "$work/charts" "$work/platform/.git" "$work/platform/clusters/local"
for i in $(seq 1 "$N"); do
  c=$work/src/addon-$i
  mkdir -p "$c/templates"
  printf 'apiVersion: v2\nname: addon-%d\nversion: 1.0.0\nappVersion: "1.0"\n' "$i" >"$c/Chart.yaml"
  printf 'replicas: 1\n' >"$c/values.yaml"
  cat >"$c/templates/all.yaml" <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: {name: {{ .Release.Name }}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: {{ .Release.Name }}}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: {{ .Release.Name }}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: {{ .Release.Name }}}
subjects: [{kind: ServiceAccount, name: {{ .Release.Name }}}]
{{- range $i := until 3 }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ $.Release.Name }}-{{ $i }}}
data: {index: "{{ $i }}"}
{{- end }}
---
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec: {selector: {app: {{ .Release.Name }}}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers: [{name: main, image: "registry.example.com/addon:{{ .Chart.AppVersion }}"}]
EOF
  "$HELM" package -d "$work/charts" "$c" >/dev/null
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$HELM" repo index "$work/charts" --url "http://127.0.0.1:$port" >/dev/null
(cd "$work/charts" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/index.yaml" >/dev/null && break; sleep 0.1; done

{
  printf 'repositories:\n- name: bench\n  url: http://127.0.0.1:%d\nreleases:\n' "$port"
  for i in $(seq 1 "$N"); do
    printf -- '- name: addon-%d\n  namespace: bench-addon-%d-%d\n  chart: bench/addon-%d\n  version: 1.0.0\n' "$i" "$i" "$$" "$i"
  done
} >"$work/platform/clusters/local/addons.yaml"
for i in $(seq 1 "$N"); do "$KUBECTL" create ns "bench-addon-$i-$$" >/dev/null; done

kube_abs=$(cd "$(dirname "$KUBE")" && pwd)/$(basename "$KUBE")
echo "deploying $N add-ons once..." >&2
(cd "$work/platform" && "$kube_abs" addons deploy -c local --yes --timeout 0 >"$work/deploy.log" 2>&1) ||
  { cat "$work/deploy.log" >&2; exit 1; }

elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

t=$(date +%s.%N)
set +e
(cd "$work/platform" && "$kube_abs" addons diff -c local >/dev/null 2>&1)
rc=$?
set -e
kube=$(elapsed "$t")
[[ $rc == 0 ]] || { echo "kube addons diff found changes right after the deploy (exit $rc)" >&2; exit 1; }

# The same dry-run plan per add-on (server-side, forced like kube's apply), which
# must succeed: exit 0 (no change) or 1 (changes), never an error.
t=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  set +e
  "$HELM" template "addon-$i" "$work/charts/addon-$i-1.0.0.tgz" -n "bench-addon-$i-$$" |
    "$KUBECTL" diff --server-side --force-conflicts -n "bench-addon-$i-$$" -f - >/dev/null 2>"$work/diff.err"
  rc=$?
  set -e
  [[ $rc -le 1 ]] || { echo "helm template | kubectl diff failed for addon-$i (exit $rc):" >&2; cat "$work/diff.err" >&2; exit 1; }
done
helm=$(elapsed "$t")

printf '%-48s %8s %10s\n' "no-change diff of $N add-ons" "seconds" "vs helm"
printf '%-48s %8s %10s\n' "kube addons diff (one process)" "$kube" "$(awk -v h="$helm" -v k="$kube" 'BEGIN { printf "%.1fx", h / k }')"
printf '%-48s %8s %10s\n' "helm template | kubectl diff, per add-on" "$helm" "1.0x"
