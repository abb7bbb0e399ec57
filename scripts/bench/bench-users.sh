#!/usr/bin/env bash
# bench-users.sh — what `users:` (and the RBAC authorization they bring) costs an instance's
# start: in one invocation, on the same binaries, N rounds of two measurements, alternating
# R A R A … so that machine drift spreads over both:
#   R rbac     `k8senv up --detach` of one environment (pool size 1, no CRDs or seeds) with two
#              users (alice in group dev, bob) and so --authorization-mode=RBAC
#   A allow    the same environment without users: --authorization-mode=AlwaysAllow (k8senv's
#              default without users)
# Both are warm starts: users and authorization are not part of the cache key, so the two
# configs share one snapshot, filled by an untimed `up`/`down` before round 1 (a cache hit is
# checked in every run). Each measurement is timed twice: the whole `k8senv up --detach` to its
# return (wall), and kube-apiserver's own start to ready as k8senv reports it ("kube-apiserver
# vX ready in Ys": spawn to /livez 200 and the default namespace). `k8senv down` runs after the
# clock stops.
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   users rbac_median_s=X allow_median_s=X rbac_apiserver_median_s=X allow_apiserver_median_s=X runs=N
#   users-ratio up_rbac_vs_allow=Rx apiserver_rbac_vs_allow=Rx
#
# Usage: scripts/bench/bench-users.sh [--runs N] [--storage embedded|etcd|kine] [--k8senv PATH] [--keep]
#   --runs N       rounds (default 5)
#   --storage S    the storage of both configs (default embedded)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder (logs, configs, state) and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_ETCDCTL / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-users

runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-users: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
bench_binaries
bench_k8senv
bench_workroot bench-users

rbac_config="$workroot/rbac/k8senv.yaml" allow_config="$workroot/allow/k8senv.yaml"
bench_config "$rbac_config" "users:
  - name: alice
    groups: [dev]
  - name: bob" ""
bench_config "$allow_config" "apiServer:
  authorization: AlwaysAllow" ""

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null)); storage: $storage; runs: $runs"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$("$k8senv" hash -f "$rbac_config" --apiserver-version v0)" != "$("$k8senv" hash -f "$allow_config" --apiserver-version v0)" ]]; then
  stack_log "warning: the two configs have different cache keys: one of them is a cold start"
fi

# run_up DIR CONFIG WANT: `k8senv up --detach` of CONFIG (bench_up: T_UP, T_API), then down.
run_up() { bench_up "$@"; bench_down "$1" "$2"; }

stack_log "filling the snapshot cache (untimed)…"
run_up "$workroot/prime" "$allow_config" "cache miss"
[[ $keep -eq 1 ]] || rm -rf "$workroot/prime"

rbac=() allow=() rbac_api=() allow_api=()
for ((r = 1; r <= runs; r++)); do
  run_up "$workroot/r$r" "$rbac_config" "cache hit"
  grep -q '^export K8SENV_KUBECONFIG_BENCH_ALICE=' "$workroot/r$r/up.out" || fail "the RBAC run exported no K8SENV_KUBECONFIG_BENCH_ALICE"
  rbac+=("$T_UP"); rbac_api+=("$T_API")
  stack_log "run $r/$runs R rbac_s=$T_UP (kube-apiserver ${T_API}s)"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/r$r"

  run_up "$workroot/a$r" "$allow_config" "cache hit"
  allow+=("$T_UP"); allow_api+=("$T_API")
  stack_log "run $r/$runs A allow_s=$T_UP (kube-apiserver ${T_API}s)"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/a$r"
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

m_r="$(stack_median "${rbac[@]}")" m_a="$(stack_median "${allow[@]}")"
m_ra="$(stack_median "${rbac_api[@]}")" m_aa="$(stack_median "${allow_api[@]}")"
printf 'users rbac_median_s=%s allow_median_s=%s rbac_apiserver_median_s=%s allow_apiserver_median_s=%s runs=%d\n' \
  "$m_r" "$m_a" "$m_ra" "$m_aa" "$runs"
printf 'users-ratio up_rbac_vs_allow=%sx apiserver_rbac_vs_allow=%sx\n' "$(ratio "$m_r" "$m_a")" "$(ratio "$m_ra" "$m_aa")"
