#!/usr/bin/env bash
# bench-controllers.sh — what `controllers:` costs an instance's start, and the memory of the
# kube-controller-manager it brings: in one invocation, on the same binaries, N rounds of two
# measurements, alternating C N C N … so that machine drift spreads over both:
#   C controllers  `k8senv up --detach` of one environment (pool size 1, no CRDs or seeds) with
#                  `controllers: CONTROLLERS` (default: default, the documented node-free set)
#   N none         the same environment without controllers (no kube-controller-manager)
# Both are warm starts: controllers are not part of the cache key, so the two configs share one
# snapshot, filled by an untimed `up`/`down` before round 1 (a cache hit is checked in every
# run). Each measurement is the whole `k8senv up --detach` to its return (wall: for C, until
# kube-controller-manager's /healthz answers too). While C runs, the resident memory (VmRSS) of
# its kube-controller-manager and of its kube-apiserver is read, twice: right after `up`
# returns, and SETTLE seconds later (informers filled). `k8senv down` runs after that.
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   controllers up_median_s=X none_median_s=X kcm_start_median_s=X kcm_rss_mb=X kcm_rss_settled_mb=X apiserver_rss_mb=X runs=N
#   controllers-ratio up_controllers_vs_none=Rx
#
# Usage: scripts/bench/bench-controllers.sh [--runs N] [--storage embedded|etcd|kine] [--controllers LIST]
#                                     [--settle S] [--k8senv PATH] [--keep]
#   --runs N            rounds (default 5)
#   --storage S         the storage of both configs (default embedded)
#   --controllers LIST  the value of `controllers:` (default: default; e.g. "[namespace, garbagecollector]")
#   --settle S          seconds between the two memory readings (default 5)
#   --k8senv PATH       the k8senv binary (default $K8SENV_BIN, else the release build under
#                       ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep              keep the work folder (logs, configs, state) and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_KUBE_CONTROLLER_MANAGER / K8SENV_ETCD / K8SENV_ETCDCTL /
# K8SENV_KINE if set, else what `install-binaries.sh --check` resolves. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-controllers

runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}" controllers=default settle=5
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --controllers) controllers="${2:?--controllers needs a value}"; shift 2 ;;
    --controllers=*) controllers="${1#--controllers=}"; shift ;;
    --settle) settle="${2:?--settle needs seconds}"; shift 2 ;;
    --settle=*) settle="${1#--settle=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-controllers: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ "$settle" =~ ^[0-9]+$ ]] || { echo "bench-controllers: --settle must be whole seconds" >&2; exit 2; }
bench_binaries K8SENV_KUBE_CONTROLLER_MANAGER
bench_k8senv
bench_workroot bench-controllers

with_config="$workroot/with/k8senv.yaml" none_config="$workroot/none/k8senv.yaml"
bench_config "$with_config" "" "    controllers: $controllers"
bench_config "$none_config" "" ""

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "kube-controller-manager: $K8SENV_KUBE_CONTROLLER_MANAGER; controllers: $controllers"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null)); storage: $storage; runs: $runs"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$k8senv" validate -f "$with_config" >&2 || { stack_log "error: the config with controllers is not valid"; exit 1; }
if [[ "$("$k8senv" hash -f "$with_config" --apiserver-version v0)" != "$("$k8senv" hash -f "$none_config" --apiserver-version v0)" ]]; then
  stack_log "warning: the two configs have different cache keys: one of them is a cold start"
fi

# rss_mb PID: VmRSS in MB (empty when gone).
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || true; }
# recorded FIELD STATE: a field of the first instance of the run record under STATE.
recorded() {
  local record
  record="$(ls "$2"/runs/*/run.json 2>/dev/null | head -n1)"
  [[ -n "$record" ]] || return 0
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"][0].get(sys.argv[2], ""))' "$record" "$1"
}

# run_up DIR CONFIG WANT [MEASURE]: `k8senv up --detach` of CONFIG, state in DIR/state; WANT:
# cache hit or miss. Sets T_UP (wall), T_KCM (kube-controller-manager to ready, as k8senv
# reports it) and, with MEASURE=1, RSS_KCM, RSS_KCM_SETTLED and RSS_API.
run_up() {
  local d="$1" config="$2" measure="${4:-0}" st kcm api
  bench_up "$1" "$2" "$3"
  st="$BENCH_STATE"
  T_KCM="$(sed -n 's/.*kube-controller-manager [^ ]* ready in \([0-9.]*\)s .*/\1/p' "$st/supervisor.log" | head -n1)"
  if [[ $measure -eq 1 ]]; then
    kcm="$(recorded controllerManagerPID "$st")" api="$(recorded apiServerPID "$st")"
    [[ -n "$kcm" && -n "$T_KCM" ]] || { show_tail "$st/supervisor.log"; fail "no kube-controller-manager in the run with controllers"; }
    RSS_KCM="$(rss_mb "$kcm")"
    sleep "$settle"
    RSS_KCM_SETTLED="$(rss_mb "$kcm")" RSS_API="$(rss_mb "$api")"
  else
    [[ -z "$(recorded controllerManagerPID "$st")" ]] || fail "a kube-controller-manager ran without controllers"
  fi
  bench_down "$d" "$config"
}

stack_log "filling the snapshot cache (untimed)…"
run_up "$workroot/prime" "$none_config" "cache miss"
[[ $keep -eq 1 ]] || rm -rf "$workroot/prime"

with=() none=() kcm=() rss=() rss_settled=() api_rss=()
for ((r = 1; r <= runs; r++)); do
  run_up "$workroot/c$r" "$with_config" "cache hit" 1
  with+=("$T_UP"); kcm+=("$T_KCM"); rss+=("$RSS_KCM"); rss_settled+=("$RSS_KCM_SETTLED"); api_rss+=("$RSS_API")
  stack_log "run $r/$runs C controllers_s=$T_UP (kube-controller-manager ${T_KCM}s, rss ${RSS_KCM} MB, ${RSS_KCM_SETTLED} MB after ${settle}s; kube-apiserver rss ${RSS_API} MB)"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/c$r"

  run_up "$workroot/n$r" "$none_config" "cache hit"
  none+=("$T_UP")
  stack_log "run $r/$runs N none_s=$T_UP"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/n$r"
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

m_c="$(stack_median "${with[@]}")" m_n="$(stack_median "${none[@]}")" m_k="$(stack_median "${kcm[@]}")"
printf 'controllers up_median_s=%s none_median_s=%s kcm_start_median_s=%s kcm_rss_mb=%s kcm_rss_settled_mb=%s apiserver_rss_mb=%s runs=%d\n' \
  "$m_c" "$m_n" "$m_k" "$(stack_median "${rss[@]}")" "$(stack_median "${rss_settled[@]}")" "$(stack_median "${api_rss[@]}")" "$runs"
printf 'controllers-ratio up_controllers_vs_none=%sx\n' "$(ratio "$m_c" "$m_n")"
