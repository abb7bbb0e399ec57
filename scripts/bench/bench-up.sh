#!/usr/bin/env bash
# bench-up.sh — `k8senv up --detach` to ready, against a bare etcd + kube-apiserver start to
# /livez 200, in one run on the same binaries. Prints, on stdout:
#   bare-start median_s=X.XXX runs=N          etcd spawn -> kube-apiserver /livez 200 (by hand)
#   up-detach median_s=X.XXX runs=N           `k8senv up --detach` wall time until it returns
#   up-vs-bare bare_median_s=X.XXX up_median_s=X.XXX ratio=X.XXX   (target: ratio <= 1.15)
#
# Usage: scripts/bench/bench-up.sh [--runs N] [--keep]
#   --runs N   runs of each (default 5), interleaved (bare, up, bare, up, ...) so both see the
#              same machine load
#   --keep     keep the work directory (configs, logs) and print its path
#
# The bare start (scripts/bench/lib/stack.sh, the flags of docs/reference/apiserver-flags.md): fresh
# PKI (not timed) and etcd data dir each run; the clock starts just before etcd is spawned and
# stops at kube-apiserver's first /livez 200 (polled every 50 ms with the token and our CA).
# The k8senv side: a config with one environment of one instance (pool.size 1), storage etcd,
# no CRDs or seeds, the snapshot cache warm after the first run (as a user's second up); the clock
# covers the whole `k8senv up --detach` process (config, version probe, PKI, etcd, kube-apiserver,
# /livez, the default namespace, the run record); `k8senv down` runs after the clock stops.
# k8senv is built in release (`swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}"`).
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD if set, else what `install-binaries.sh --check`
# resolves (this script never installs or builds them).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=lib/stack.sh source-path=SCRIPTDIR
source "$here/lib/stack.sh"
STACK_LOG_PREFIX=bench-up

runs=5 keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-up: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-up: --runs must be a positive integer" >&2; exit 2; }

if [[ -z "${K8SENV_KUBE_APISERVER:-}" || -z "${K8SENV_ETCD:-}" ]]; then
  exports="$("$here/../install-binaries.sh" --check 2>/dev/null)" || {
    stack_log "error: binaries missing; run: eval \"\$(scripts/install-binaries.sh)\""; exit 1; }
  eval "$exports"
fi
stack_require_binaries

scratch="${K8SENV_SCRATCH:-$root/.build}"
stack_log "swift build -c release --scratch-path $scratch"
(cd "$root" && swift build -c release --scratch-path "$scratch" --product k8senv >&2)
k8senv="$(cd "$root" && swift build -c release --scratch-path "$scratch" --show-bin-path)/k8senv"
[[ -x "$k8senv" ]] || { stack_log "error: no k8senv at $k8senv after the build"; exit 1; }

workroot="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-up.XXXXXX")"
config="$workroot/up/k8senv.yaml"
mkdir -p "$workroot/up"
# Binaries as absolute paths: no ${VAR} lookups differ between the two sides.
cat > "$config" <<EOF
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: "$K8SENV_KUBE_APISERVER"
  etcd: "$K8SENV_ETCD"
storage: etcd
timeouts:
  start: 120s
environments:
  bench:
    pool: {size: 1}
EOF

on_exit() {
  "$k8senv" down -f "$config" >/dev/null 2>&1 || true
  stack_cleanup
  if [[ $keep -eq 1 ]]; then stack_log "work directory kept in $workroot"; else rm -rf "$workroot"; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

stack_log "k8senv: $k8senv ($("$k8senv" --version))"
stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "etcd: $K8SENV_ETCD ($("$K8SENV_ETCD" --version 2>/dev/null | head -n1))"

bare=() up=()
for ((r = 1; r <= runs; r++)); do
  # (a) bare: etcd + kube-apiserver by hand, to /livez 200.
  d="$workroot/bare$r"
  stack_gen_pki "$d"
  t0="$EPOCHREALTIME"
  stack_start_etcd "$d"
  stack_start_apiserver "$d" "$STACK_ETCD_URL"
  stack_wait_url "$STACK_APISERVER_URL/livez" "$d" 120 "$STACK_APISERVER_PID"
  t_bare="$(stack_elapsed "$t0")"
  t_api="$(stack_elapsed "$STACK_APISERVER_SPAWN")"
  bare+=("$t_bare")
  stack_stop "$STACK_APISERVER_PID"
  stack_stop "$STACK_ETCD_PID"
  STACK_PIDS=()

  # (b) k8senv up --detach until it returns (ready); down outside the clock.
  t0="$EPOCHREALTIME"
  if ! "$k8senv" up --detach --quiet -f "$config" > "$workroot/up$r.log" 2>&1; then
    stack_log "error: k8senv up --detach failed (run $r):"; cat "$workroot/up$r.log" >&2
    exit 1
  fi
  t_up="$(stack_elapsed "$t0")"
  up+=("$t_up")
  "$k8senv" down -f "$config" > /dev/null

  stack_log "run $r/$runs: bare_s=$t_bare (kube-apiserver alone ${t_api}s, etcd ${STACK_ETCD_READY_S}s) up_s=$t_up"
done

bare_median="$(stack_median "${bare[@]}")"
up_median="$(stack_median "${up[@]}")"
ratio="$(awk -v u="$up_median" -v b="$bare_median" 'BEGIN{printf "%.3f\n", u/b}')"
printf 'bare-start median_s=%s runs=%d\n' "$bare_median" "$runs"
printf 'up-detach median_s=%s runs=%d\n' "$up_median" "$runs"
printf 'up-vs-bare bare_median_s=%s up_median_s=%s ratio=%s\n' "$bare_median" "$up_median" "$ratio"
