#!/usr/bin/env bash
# bench-bundles.sh — bundle size and `k8senv cache export`/`import` wall times, per environment,
# for examples/k8senv.yaml and for a config of the 20 Cluster API v0.4.8 CRDs. Prints, on stdout,
# one line per environment:
#   bundle config=examples|capi env=ENV storage=S bytes=N export_s=X import_s=X
#
# Usage: K8SENV_BINARY=path/to/k8senv [K8SENV_STORAGE=embedded|etcd] scripts/bench/bench-bundles.sh [CAPI_CRD_FOLDER]
#   (run `eval "$(scripts/install-binaries.sh)"` first). Works in a temporary folder with its own
#   caches; removes it at the end.
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
k8senv="${K8SENV_BINARY:?set K8SENV_BINARY to the built k8senv}"
capi="${1:-$(cd "$(dirname "$0")/../.." && pwd)/Tests/Fixtures/crds/cluster-api-v0.4.8}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r examples crds "$work/"
rm -rf "$work/examples/.k8senv"
mkdir -p "$work/capi"
cp -r "$capi" "$work/capi/crds"
cat > "$work/capi/k8senv.yaml" <<YAML
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: \${K8SENV_KUBE_APISERVER:-kube-apiserver}
  etcd: \${K8SENV_ETCD:-etcd}
storage: \${K8SENV_STORAGE:-embedded}
timeouts: {start: 120s, crds: 180s}
environments:
  capi:
    pool: {size: 1}
    crds: [crds/]
YAML
now() { date +%s.%N; }
for config in examples/k8senv.yaml capi/k8senv.yaml; do
  dir="$work/$(dirname "$config")"
  export XDG_CACHE_HOME="$work/cache-build"
  (cd "$dir" && "$k8senv" run -f k8senv.yaml -- true >/dev/null 2>&1)
  for env in $(cd "$dir" && "$k8senv" hash -f k8senv.yaml | awk '{print $1}'); do
    bundle="$work/$env.k8senv-bundle"
    t0=$(now); (cd "$dir" && "$k8senv" cache export -f k8senv.yaml -e "$env" -o "$bundle" >/dev/null); t1=$(now)
    XDG_CACHE_HOME="$work/cache-import-$env" "$k8senv" cache import "$bundle" >/dev/null; t2=$(now)
    printf 'bundle config=%s env=%s storage=%s bytes=%s export_s=%.3f import_s=%.3f\n' "$(dirname "$config")" "$env" "${K8SENV_STORAGE:-embedded}" \
      "$(stat -c %s "$bundle")" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
  done
done
