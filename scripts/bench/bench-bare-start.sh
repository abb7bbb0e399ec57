#!/usr/bin/env bash
# bench-bare-start.sh — the "bare start" baseline: etcd + kube-apiserver started by hand with the
# flags of docs/reference/apiserver-flags.md, timed from kube-apiserver spawn to /livez 200
# (polled every 50 ms with the bearer token and our CA). Fresh PKI and etcd data dir every run;
# etcd is started and healthy before the clock starts. Prints, on stdout:
#   bare-start median_s=X.XXX runs=N
#
# Usage: scripts/bench/bench-bare-start.sh [--runs N] [--readyz] [--keep]
#   --runs N   number of runs (default 5)
#   --readyz   also report the median time to /readyz 200 (a second line, bare-start-readyz ...)
#   --keep     keep the work directories (logs, certs) and print their path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD if set, else what `install-binaries.sh --check`
# resolves (this script never installs or builds anything).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/stack.sh source-path=SCRIPTDIR
source "$here/lib/stack.sh"
STACK_LOG_PREFIX=bench-bare-start

runs=5 readyz=0 keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    --readyz) readyz=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-bare-start: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-bare-start: --runs must be a positive integer" >&2; exit 2; }

if [[ -z "${K8SENV_KUBE_APISERVER:-}" || -z "${K8SENV_ETCD:-}" ]]; then
  exports="$("$here/../install-binaries.sh" --check 2>/dev/null)" || {
    "$here/../install-binaries.sh" --check >/dev/null || true
    stack_log "error: binaries missing; run: eval \"\$(scripts/install-binaries.sh)\""; exit 1; }
  eval "$exports"
fi
stack_require_binaries

workroot="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-bare.XXXXXX")"
on_exit() {
  stack_cleanup
  if [[ $keep -eq 1 ]]; then stack_log "work directories kept in $workroot"; else rm -rf "$workroot"; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "etcd: $K8SENV_ETCD ($("$K8SENV_ETCD" --version 2>/dev/null | head -n1))"

livez=() ready=()
for ((r = 1; r <= runs; r++)); do
  d="$workroot/run$r"
  stack_gen_pki "$d"
  stack_start_etcd "$d"
  stack_start_apiserver "$d" "$STACK_ETCD_URL"
  stack_wait_url "$STACK_APISERVER_URL/livez" "$d" 120 "$STACK_APISERVER_PID"
  t_livez="$(stack_elapsed "$STACK_APISERVER_SPAWN")"
  livez+=("$t_livez")
  line="run $r/$runs: livez_s=$t_livez (etcd ready in ${STACK_ETCD_READY_S}s)"
  if [[ $readyz -eq 1 ]]; then
    stack_wait_url "$STACK_APISERVER_URL/readyz" "$d" 120 "$STACK_APISERVER_PID"
    t_ready="$(stack_elapsed "$STACK_APISERVER_SPAWN")"
    ready+=("$t_ready")
    line+=" readyz_s=$t_ready"
  fi
  stack_log "$line"
  stack_stop "$STACK_APISERVER_PID"
  stack_stop "$STACK_ETCD_PID"
  STACK_PIDS=()
done

printf 'bare-start median_s=%s runs=%d\n' "$(stack_median "${livez[@]}")" "$runs"
if [[ $readyz -eq 1 ]]; then
  printf 'bare-start-readyz median_s=%s runs=%d\n' "$(stack_median "${ready[@]}")" "$runs"
fi
