#!/usr/bin/env bash
# bench-diff.sh — what `k8senv diff` costs: its baseline at start (for everyone) and a diff (for
# those who ask). In one invocation, on the same binaries, N rounds on a copy of the example
# (examples/k8senv.yaml: CRDs, seeds, two environments, three instances), each round:
#   U up       `k8senv up --detach` (a cache hit) to its return (wall)
#   M mark     the request the baseline costs an etcd or kine instance at start, as curl makes it
#              (GET /api/v1/namespaces?limit=1, a new TLS connection: an upper bound); the
#              embedded store makes none (it reads its revision)
#   D diff     `k8senv diff` of every instance, after a change in base-0 (exit 1 checked)
#   S status   `k8senv status` of every instance (one /readyz each): a command to compare with
# then `k8senv down` (untimed).
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   diff up_median_s=X mark_median_s=X diff_median_s=X status_median_s=X runs=N storage=S
#   diff-ratio mark_vs_up=Rx diff_vs_status=Rx
#
# Usage: scripts/bench/bench-diff.sh [--runs N] [--storage embedded|etcd|kine] [--k8senv PATH] [--keep]
#   --runs N       rounds (default 5)
#   --storage S    the storage (default embedded)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-diff

runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-diff: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
command -v curl >/dev/null || { echo "bench-diff: needs curl" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "bench-diff: needs kubectl" >&2; exit 1; }
bench_binaries
bench_k8senv
bench_workroot bench-diff

cp -R "$repo/examples" "$repo/crds" "$workroot/"
rm -rf "$workroot/examples/.k8senv"
config="$workroot/examples/k8senv.yaml" state="$workroot/state"
export XDG_CACHE_HOME="$cache" K8SENV_STORAGE="$storage" KUBECACHEDIR="$workroot/kubectl-cache"
bench_track "$config" "$state"
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b-a}'; }

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER; k8senv: $k8senv; storage: $storage; runs: $runs"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
stack_log "filling the snapshot cache (untimed)…"
"$k8senv" up --detach --quiet -f "$config" --state-dir "$state" >/dev/null 2>"$workroot/prime.err" || { cat "$workroot/prime.err" >&2; fail "up failed"; }
"$k8senv" down -f "$config" --state-dir "$state" >/dev/null 2>&1

ups=() marks=() diffs=() statuses=()
for ((r = 1; r <= runs; r++)); do
  t0="$EPOCHREALTIME"
  "$k8senv" up --detach --quiet -f "$config" --state-dir "$state" >"$workroot/up.out" 2>"$workroot/up.err" || { cat "$workroot/up.err" >&2; fail "up failed"; }
  t_up="$(elapsed "$t0" "$EPOCHREALTIME")"
  kubeconfig="$(sed -n 's/^export KUBECONFIG=//p' "$workroot/up.out" | tr -d "'")"
  folder="$(dirname "$kubeconfig")"
  server="$(sed -n 's/^ *server: //p' "$kubeconfig" | head -n1)"
  t_mark="$(curl -s -o /dev/null -w '%{time_total}' --cacert "$folder/pki/ca.crt" \
    -H "Authorization: Bearer $(cat "$folder/token")" "$server/api/v1/namespaces?limit=1")"
  KUBECONFIG="$kubeconfig" kubectl create namespace bench-leak >/dev/null
  t0="$EPOCHREALTIME"
  set +e; "$k8senv" diff -f "$config" --state-dir "$state" >"$workroot/diff.out" 2>"$workroot/diff.err"; rc=$?; set -e
  t_diff="$(elapsed "$t0" "$EPOCHREALTIME")"
  [[ $rc -eq 1 ]] && grep -q '^+ created v1/Namespace bench-leak$' "$workroot/diff.out" ||
    { cat "$workroot/diff.out" "$workroot/diff.err" >&2; fail "diff did not show the namespace (exit $rc)"; }
  t0="$EPOCHREALTIME"
  "$k8senv" status -f "$config" --state-dir "$state" >/dev/null
  t_status="$(elapsed "$t0" "$EPOCHREALTIME")"
  "$k8senv" down -f "$config" --state-dir "$state" >/dev/null 2>&1
  ups+=("$t_up") marks+=("$t_mark") diffs+=("$t_diff") statuses+=("$t_status")
  stack_log "run $r/$runs up_s=$t_up mark_s=$t_mark diff_s=$t_diff status_s=$t_status"
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

m_u="$(stack_median "${ups[@]}")" m_m="$(stack_median "${marks[@]}")"
m_d="$(stack_median "${diffs[@]}")" m_s="$(stack_median "${statuses[@]}")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", a/b}'; }
printf 'diff up_median_s=%s mark_median_s=%s diff_median_s=%s status_median_s=%s runs=%d storage=%s\n' \
  "$m_u" "$m_m" "$m_d" "$m_s" "$runs" "$storage"
printf 'diff-ratio mark_vs_up=%sx diff_vs_status=%sx\n' "$(ratio "$m_m" "$m_u")" "$(ratio "$m_d" "$m_s")"
