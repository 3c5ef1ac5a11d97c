#!/usr/bin/env bash
# Deploy benchmark on the local sandbox, side by side in one run: a 100-object app
# (1 Namespace, 33 ConfigMaps, 33 Services, 33 Deployments) deployed by
#   kube deploy                                   (plan, apply, prune, revision, wait)
#   kubectl apply --server-side + rollout status  (apply and wait only)
#   helm upgrade --install --wait                 (apply, wait, release history)
# for three steps: first deploy (until Ready), no-op redeploy, one image change;
# then a no-op redeploy of 1,500 ConfigMaps by kube and kubectl. Every tool talks to
# the API server through bench/apiproxy, which counts requests by verb, the same
# way for all. Prints times, ratios, requests, and the goals of docs/deploy.md:
# no-op of 1,500 objects under 3 s; a first deploy of 100 objects in at most half
# kubectl's time with no more requests than kubectl.
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

work=$(mktemp -d)
run=$$ # namespaces of an earlier run may still be terminating
NK=bench-kube-$run NC=bench-kubectl-$run NH=bench-helm-$run NB=bench-big-kube-$run NBC=bench-big-kubectl-$run
# Every tool goes through the counting proxy.
go build -o "$work/apiproxy" ./bench/apiproxy
"$work/apiproxy" --kubeconfig "$("$KUBE" sandbox kubeconfig --path)" --write-kubeconfig "$work/kubeconfig" 2>/dev/null &
proxy=$!
for _ in $(seq 50); do [[ -s $work/kubeconfig ]] && break; sleep 0.1; done
export KUBECONFIG=$work/kubeconfig
counts_url=$(awk '/server:/ {print $2}' "$KUBECONFIG")/__bench/counts
cleanup() {
  for ns in $NK $NC $NH $NB $NBC; do "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; done
  kill "$proxy" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# counts: the requests since the last call, as "N (VERB n, ...)".
counts() { curl -s "$counts_url?reset=1" | awk 'NF { t += $2; s = s (s ? ", " : "") $1 " " $2 } END { printf "%d (%s)", t, s }'; }
total() { sed 's/ .*//' <<<"$1"; }

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

kube_deploy() { "$KUBE" deploy --kubeconfig "$KUBECONFIG" -f "$work/kube" --app bench --yes --timeout 5m >"$work/out" 2>"$work/kube.log"; }
kubectl_deploy() {
  "$KUBECTL" apply --server-side --field-manager bench -f "$work/kubectl" >"$work/kubectl.log" 2>&1
  for i in $(seq 1 33); do "$KUBECTL" rollout status -n "$NC" "deployment/d$i" --timeout 5m >>"$work/kubectl.log" 2>&1; done
}
helm_deploy() { "$HELM" upgrade --install bench "$work/chart" -n "$NH" --create-namespace --wait --timeout 5m >/dev/null 2>&1; }

declare -A T R
step() { # name
  local s
  counts >/dev/null
  s=$(now); kube_deploy; T[kube-$1]=$(since "$s"); R[kube-$1]=$(counts)
  s=$(now); kubectl_deploy; T[kubectl-$1]=$(since "$s"); R[kubectl-$1]=$(counts)
  s=$(now); helm_deploy; T[helm-$1]=$(since "$s"); R[helm-$1]=$(counts)
}

app "$work/kube" "$NK" 1; app "$work/kubectl" "$NC" 1; chart "$work/chart" 1
step first
step noop
app "$work/kube" "$NK" 2; app "$work/kubectl" "$NC" 2; chart "$work/chart" 2
step image

app "$work/kube" "$NK" 2 23
counts >/dev/null
s=$(now); kube_deploy; prune_t=$(since "$s"); prune_stats=$(counts)

# 1,500 ConfigMaps: a first deploy, then the no-op redeploy that is timed.
big() { # dir namespace
  rm -rf "$1"; mkdir -p "$1"
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$2" >"$1/00-namespace.yaml"
  for i in $(seq 1 1500); do printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: %s}\ndata: {k: v}\n' "$i" "$2"; done >"$1/configmaps.yaml"
}
big "$work/big" "$NB"; big "$work/bigc" "$NBC"
"$KUBE" deploy --kubeconfig "$KUBECONFIG" -f "$work/big" --app big --yes --timeout 5m >/dev/null 2>&1
"$KUBECTL" apply --server-side --field-manager bench -f "$work/bigc" >/dev/null 2>&1
counts >/dev/null
s=$(now); "$KUBE" deploy --kubeconfig "$KUBECONFIG" -f "$work/big" --app big --yes --timeout 5m >/dev/null 2>&1; big_kube_t=$(since "$s"); big_kube_r=$(counts)
s=$(now); "$KUBECTL" apply --server-side --field-manager bench -f "$work/bigc" >/dev/null 2>&1; big_kubectl_t=$(since "$s"); big_kubectl_r=$(counts)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict A B: "met" when A <= B.
verdict() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; then echo met; else echo "NOT MET"; fi; }
echo
echo "100-object app on the sandbox (33 Deployments, 33 Services, 33 ConfigMaps, 1 Namespace)"
printf '%-8s %8s %8s %8s %12s %10s\n' step kube kubectl helm kube/kubectl kube/helm
for s in first noop image; do
  printf '%-8s %7ss %7ss %7ss %12s %10s\n' "$s" "${T[kube-$s]}" "${T[kubectl-$s]}" "${T[helm-$s]}" \
    "$(ratio "${T[kube-$s]}" "${T[kubectl-$s]}")" "$(ratio "${T[kube-$s]}" "${T[helm-$s]}")"
done
echo
echo "API requests by verb (through the counting proxy)"
for s in first noop image; do
  for tool in kube kubectl helm; do printf '%-8s %-8s %s\n' "$s" "$tool" "${R[$tool-$s]}"; done
done
echo
echo "no-op redeploy of 1,500 ConfigMaps: kube ${big_kube_t}s, $big_kube_r requests;"
echo "                                    kubectl apply --server-side ${big_kubectl_t}s, $big_kubectl_r requests"
echo "prune: a deploy that removes 10 ConfigMaps took ${prune_t}s, $prune_stats requests."
echo
echo "goals:"
echo "  no-op of 1,500 objects under 3 s:                   ${big_kube_t}s  $(verdict "$big_kube_t" 3)"
echo "  first deploy of 100 objects <= 0.5x kubectl's time: $(ratio "${T[kube-first]}" "${T[kubectl-first]}")x  $(verdict "$(ratio "${T[kube-first]}" "${T[kubectl-first]}")" 0.5)"
echo "  first deploy, no more requests than kubectl:         $(total "${R[kube-first]}") vs $(total "${R[kubectl-first]}")  $(verdict "$(total "${R[kube-first]}")" "$(total "${R[kubectl-first]}")")"
