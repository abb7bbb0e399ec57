#!/usr/bin/env bash
# bench-postmortem.sh — post-mortem bundles (docs/explanation/postmortem.md), in one invocation:
#   1. capture time (as `run` reports it) and bundle size, per instance, for examples/k8senv.yaml;
#   2. the same for an instance holding 2,000 more objects (ConfigMaps of ~100 bytes);
#   3. `k8senv open --detach BUNDLE` to ready against a warm `k8senv up --detach -e ENV` of the
#      same environment (medians of --runs N each, alternated), and their ratio (goal: < 1.5).
# Prints, on stdout:
#   postmortem-capture config=example|2000-objs instance=NAME storage=S bytes=N capture_s=X   (one per bundle)
#   postmortem-open env=ENV instance=NAME up_median_s=X open_median_s=X runs=N
#   postmortem-ratio open_vs_up=Rx
#
# Usage: K8SENV_BINARY=path/to/k8senv [K8SENV_STORAGE=embedded|etcd|kine] scripts/bench/bench-postmortem.sh [--runs N]
#   (run `eval "$(scripts/install-binaries.sh)"` first). Works in a temporary folder with its own
#   caches; removes it at the end.
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
k8senv="${K8SENV_BINARY:?set K8SENV_BINARY to the built k8senv}"
runs=3
[ "${1:-}" = --runs ] && runs="$2"
work="$(mktemp -d)"
cleanup() {
  for d in "$work"/examples "$work"/big "$work"/open; do [ -d "$d" ] && (cd "$d" && "$k8senv" down >/dev/null 2>&1 || true); done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$work/cache"
cp -r examples crds "$work/"
rm -rf "$work/examples/.k8senv"
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# The time `run` reports for each bundle: "NAME: post-mortem bundle PATH (SIZE, 0.04s); …"
report() {
  grep 'post-mortem bundle' "$1" | sed -E 's/^([^:]+): post-mortem bundle ([^ ]+) \(([^,]+), ([0-9.]+)s\).*/\1 \2 \4/' |
    while read -r name path seconds; do
      printf 'postmortem-capture config=%s instance=%s storage=%s bytes=%s capture_s=%s\n' "$2" "$name" "${K8SENV_STORAGE:-embedded}" "$(stat -c %s "$path")" "$seconds"
    done
}

(cd "$work/examples" && "$k8senv" run -f k8senv.yaml -- true >/dev/null 2>&1)   # warm the cache
(cd "$work/examples" && "$k8senv" run -f k8senv.yaml --postmortem "$work/pm-example" -- sh -c 'exit 1' 2>"$work/example.err" >/dev/null) || true
report "$work/example.err" example

mkdir -p "$work/big"
cat > "$work/big/k8senv.yaml" <<YAML
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: \${K8SENV_KUBE_APISERVER:-kube-apiserver}
  etcd: \${K8SENV_ETCD:-etcd}
  kine: \${K8SENV_KINE:-kine}
storage: \${K8SENV_STORAGE:-embedded}
timeouts: {start: 120s}
environments:
  big: {pool: {size: 1}}
YAML
for i in $(seq 1 2000); do
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%04d, namespace: default}\ndata: {value: "%s"}\n---\n' "$i" "$(printf '%080d' "$i")"
done > "$work/big/objects.yaml"
(cd "$work/big" && "$k8senv" run -f k8senv.yaml --postmortem "$work/pm-big" -- \
  sh -c 'kubectl apply -f objects.yaml >/dev/null && echo "objects: $(kubectl get configmaps -n default -o name | wc -l)" >&2; exit 1' \
  2>"$work/big.err" >/dev/null) || true
grep '^objects:' "$work/big.err" >&2 || true
report "$work/big.err" "2000-objs"

# open vs a warm up of the same environment.
bundle="$(ls "$work"/pm-example/*.k8senv-bundle | head -1)"
instance="$(basename "$bundle" .k8senv-bundle)"
env="${instance%-*}"
mkdir -p "$work/open"
ups=(); opens=()
for _ in $(seq 1 "$runs"); do
  t0=$(now); (cd "$work/examples" && "$k8senv" up --detach --quiet -f k8senv.yaml -e "$env" --pool-size 1 >/dev/null 2>&1); t1=$(now)
  (cd "$work/examples" && "$k8senv" down >/dev/null)
  t2=$(now); (cd "$work/open" && "$k8senv" open --detach --quiet "$bundle" >/dev/null 2>&1); t3=$(now)
  (cd "$work/open" && "$k8senv" down >/dev/null)
  ups+=("$(echo "$t1 - $t0" | bc)"); opens+=("$(echo "$t3 - $t2" | bc)")
done
up=$(printf '%s\n' "${ups[@]}" | median)
open=$(printf '%s\n' "${opens[@]}" | median)
printf 'postmortem-open env=%s instance=%s up_median_s=%.2f open_median_s=%.2f runs=%s\n' "$env" "$instance" "$up" "$open" "$runs"
printf 'postmortem-ratio open_vs_up=%.2fx\n' "$(echo "$open / $up" | bc -l)"
