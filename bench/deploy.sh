#!/usr/bin/env bash
# Deploy benchmark on the local sandbox, side by side in one run: a 100-object app
# (1 Namespace, 33 ConfigMaps, 33 Services, 33 Deployments) deployed by
#   kube deploy                                   (plan, apply, prune, wait, revision)
#   kubectl apply --server-side + rollout status  (apply and wait only)
#   helm upgrade --install --wait                 (apply, wait, release history)
# for three steps: first deploy (until Ready), no-op redeploy, one image change.
# Prints times, ratios, and API request counts of kube and kubectl; then shows what
# prune costs: removing 10 objects adds 2 requests per removed object and no list.
# kubectl and helm are built from the Go module proxy (hack/tools, bench/tools) into
# the kube cache on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE=${KUBE:-bin/kube}
[[ -x $KUBE ]] || { echo "build kube first: make build" >&2; exit 1; }
"$KUBE" sandbox up >/dev/null

cache=${KUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kube}/bench
kubectl_dir=$cache/kubectl-$(sha256sum hack/tools/go.sum | cut -c1-12)
helm_dir=$cache/$(sha256sum bench/tools/go.sum | cut -c1-12)
if [[ ! -x $kubectl_dir/kubectl ]]; then
  echo "building kubectl into $kubectl_dir (once)..." >&2
  v=$(awk '/k8s.io\/kubernetes v/ {print $2; exit}' hack/tools/go.mod)
  (cd hack/tools && GOFLAGS=-mod=readonly GONOSUMDB=k8s.io/kubernetes go build -trimpath \
    -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/component-base/version.gitVersion=$v" \
    -o "$kubectl_dir/kubectl" k8s.io/kubernetes/cmd/kubectl)
fi
if [[ ! -x $helm_dir/helm ]]; then
  echo "building helm into $helm_dir (once)..." >&2
  (cd bench/tools && go build -o "$helm_dir/" helm.sh/helm/v3/cmd/helm)
fi
KUBECTL=$kubectl_dir/kubectl HELM=$helm_dir/helm
export KUBECONFIG=$("$KUBE" sandbox kubeconfig --path)

work=$(mktemp -d)
run=$$ # namespaces of an earlier run may still be terminating
NK=bench-kube-$run NC=bench-kubectl-$run NH=bench-helm-$run
cleanup() {
  for ns in $NK $NC $NH; do "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# app DIR NAMESPACE TAG [CONFIGMAPS]: writes the objects, one file each.
app() {
  local dir=$1 ns=$2 tag=$3 cms=${4:-33}
  rm -rf "$dir"; mkdir -p "$dir"
  # 00-: kubectl applies files in name order and needs the namespace first.
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$ns" >"$dir/00-namespace.yaml"
  for i in $(seq 1 33); do
    if (( i <= cms )); then
      printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: %s}\ndata: {k: v}\n' "$i" "$ns" >"$dir/cm-$i.yaml"
    fi
    printf 'apiVersion: v1\nkind: Service\nmetadata: {name: s%d, namespace: %s}\nspec:\n  selector: {app: d%d}\n  ports: [{port: 80}]\n' "$i" "$ns" "$i" >"$dir/svc-$i.yaml"
    printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d%d, namespace: %s}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: d%d}}\n  template:\n    metadata: {labels: {app: d%d}}\n    spec:\n      containers: [{name: c, image: "registry.example.com/app:%s"}]\n' \
      "$i" "$ns" "$i" "$i" "$tag" >"$dir/deploy-$i.yaml"
  done
}
# chart DIR TAG: the same objects as a Helm chart (helm creates the namespace).
chart() {
  local dir=$1 tag=$2
  app "$work/helm-src" "$NH" "$tag"
  rm -rf "$dir"; mkdir -p "$dir/templates"
  printf 'apiVersion: v2\nname: bench\nversion: 1.0.0\n' >"$dir/Chart.yaml"
  cp "$work"/helm-src/{cm,svc,deploy}-*.yaml "$dir/templates/"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
requests() { sed -n 's/^api requests: \([0-9]*\).*/\1/p' "$1"; }

kube_deploy() { KUBE_API_STATS=1 "$KUBE" deploy -f "$work/kube" --app bench --yes --timeout 5m >"$work/out" 2>"$work/kube.log"; }
kubectl_deploy() {
  "$KUBECTL" apply --server-side --field-manager bench -f "$work/kubectl" -v=6 >"$work/kubectl.log" 2>&1
  for i in $(seq 1 33); do "$KUBECTL" rollout status -n "$NC" "deployment/d$i" --timeout 5m -v=6 >>"$work/kubectl.log" 2>&1; done
}
kubectl_requests() { grep -c '"Response" verb=' "$work/kubectl.log" || true; }
helm_deploy() { "$HELM" upgrade --install bench "$work/chart" -n "$NH" --create-namespace --wait --timeout 5m >/dev/null 2>&1; }

declare -A T R
step() { # name
  local s
  s=$(now); kube_deploy; T[kube-$1]=$(since "$s"); R[kube-$1]=$(requests "$work/kube.log")
  s=$(now); kubectl_deploy; T[kubectl-$1]=$(since "$s"); R[kubectl-$1]=$(kubectl_requests)
  s=$(now); helm_deploy; T[helm-$1]=$(since "$s")
}

app "$work/kube" "$NK" 1; app "$work/kubectl" "$NC" 1; chart "$work/chart" 1
step first
step noop
app "$work/kube" "$NK" 2; app "$work/kubectl" "$NC" 2; chart "$work/chart" 2
step image

app "$work/kube" "$NK" 2 23
s=$(now); kube_deploy; prune_t=$(since "$s"); prune_stats=$(grep '^api requests' "$work/kube.log")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "100-object app on the sandbox (33 Deployments, 33 Services, 33 ConfigMaps, 1 Namespace)"
printf '%-14s %9s %9s %9s %12s %12s %10s %10s\n' step kube kubectl helm kube/kubectl kube/helm "kube reqs" "kubectl reqs"
for s in first noop image; do
  printf '%-14s %8ss %8ss %8ss %12s %12s %10s %10s\n' "$s" "${T[kube-$s]}" "${T[kubectl-$s]}" "${T[helm-$s]}" \
    "$(ratio "${T[kube-$s]}" "${T[kubectl-$s]}")" "$(ratio "${T[kube-$s]}" "${T[helm-$s]}")" "${R[kube-$s]}" "${R[kubectl-$s]}"
done
echo
echo "prune: a deploy that removes 10 ConfigMaps took ${prune_t}s; $prune_stats."
echo "       Prune itself is a GET and a DELETE per removed object and never lists: the inventory names"
echo "       every object, so its cost does not grow with the number of kinds or namespaces."
echo
echo "goals: kube within 1.2x of kubectl, faster than helm (kube does more: plan, prune, revision)"
