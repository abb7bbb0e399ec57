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
# Usage: scripts/bench-users.sh [--runs N] [--storage embedded|etcd|kine] [--k8senv PATH] [--keep]
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
repo="$(cd "$here/.." && pwd)"
# shellcheck source=lib/stack.sh source-path=SCRIPTDIR
source "$here/lib/stack.sh"
STACK_LOG_PREFIX=bench-users

runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    --storage) storage="${2:?--storage needs embedded, etcd or kine}"; shift 2 ;;
    --storage=*) storage="${1#--storage=}"; shift ;;
    --k8senv) k8senv="${2:?--k8senv needs a path}"; shift 2 ;;
    --k8senv=*) k8senv="${1#--k8senv=}"; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-users: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-users: --runs must be a positive integer" >&2; exit 2; }
case "$storage" in embedded|etcd|kine) ;; *) echo "bench-users: --storage must be embedded, etcd or kine" >&2; exit 2 ;; esac

# --- binaries -------------------------------------------------------------------------------
if [[ -z "${K8SENV_KUBE_APISERVER:-}" || -z "${K8SENV_ETCD:-}" ]]; then
  exports="$("$here/install-binaries.sh" --check 2>/dev/null)" || {
    stack_log "error: binaries missing; run: eval \"\$(scripts/install-binaries.sh)\""; exit 1; }
  eval "$exports"
fi
stack_require_binaries
if [[ -z "$k8senv" ]]; then
  bindir="$(cd "$repo" && swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}" --show-bin-path 2>/dev/null)" || bindir=""
  k8senv="$bindir/k8senv"
fi
[[ -x "$k8senv" ]] || { stack_log "error: no k8senv binary at '$k8senv'; build it: swift build -c release (or pass --k8senv PATH)"; exit 1; }
if [[ -n "$(find "$repo/Sources" "$repo/Package.swift" -newer "$k8senv" -type f 2>/dev/null | head -n1)" ]]; then
  stack_log "warning: $k8senv is older than some files of Sources/; rebuild for current numbers"
fi

# --- work folder, cleanup ---------------------------------------------------------------------
workroot="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-users.XXXXXX")"
cache="$workroot/cache"
state_dirs=()   # every --state-dir handed to `k8senv up`, with its config, for `down` on exit

on_exit() {
  local rc=$? s
  trap '' INT TERM
  for s in "${state_dirs[@]}"; do
    if [[ -e "${s#*:}/current" ]]; then
      XDG_CACHE_HOME="$cache" timeout 30 "$k8senv" down -f "${s%%:*}" --state-dir "${s#*:}" >/dev/null 2>&1 || true
    fi
  done
  stack_kill_leftovers "$workroot"
  if [[ $keep -eq 1 ]]; then stack_log "work folder kept in $workroot"; else rm -rf "$workroot"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

yaml_quote() { local s="${1//\'/\'\'}"; printf "'%s'" "$s"; }
# write_config FILE TOP: one environment "bench" of one instance; TOP goes at the top level.
write_config() {
  cat > "$1" <<EOF
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: $(yaml_quote "$K8SENV_KUBE_APISERVER")
  etcd: $(yaml_quote "$K8SENV_ETCD")
  etcdctl: $(yaml_quote "${K8SENV_ETCDCTL:-etcdctl}")
  kine: $(yaml_quote "${K8SENV_KINE:-kine}")
storage: $storage
timeouts:
  start: 120s
$2
environments:
  bench:
    pool:
      size: 1
EOF
}
rbac_config="$workroot/rbac/k8senv.yaml" allow_config="$workroot/allow/k8senv.yaml"
mkdir -p "$workroot/rbac" "$workroot/allow"
write_config "$rbac_config" "users:
  - name: alice
    groups: [dev]
  - name: bob"
write_config "$allow_config" "apiServer:
  authorization: AlwaysAllow"

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null)); storage: $storage; runs: $runs"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$("$k8senv" hash -f "$rbac_config" --apiserver-version v0)" != "$("$k8senv" hash -f "$allow_config" --apiserver-version v0)" ]]; then
  stack_log "warning: the two configs have different cache keys: one of them is a cold start"
fi

fail() { stack_log "error: $*"; exit 1; }
show_tail() { [[ -f "$1" ]] && { stack_log "tail of $1:"; tail -n 25 "$1" >&2; }; return 0; }

# run_up DIR CONFIG WANT: `k8senv up --detach` of CONFIG, state in DIR/state; WANT: cache hit or
# miss. Sets T_UP (wall) and T_API (kube-apiserver to ready, as k8senv reports it).
run_up() {
  local d="$1" config="$2" want="$3" t0 t1 st="$1/state"
  mkdir -p "$d"
  state_dirs+=("$config:$st")
  t0="$EPOCHREALTIME"
  XDG_CACHE_HOME="$cache" "$k8senv" up --detach -f "$config" --state-dir "$st" >"$d/up.out" 2>"$d/up.err" || {
    show_tail "$d/up.err"; show_tail "$st/supervisor.log"; fail "k8senv up --detach failed"; }
  t1="$EPOCHREALTIME"
  T_UP="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')"
  T_API="$(sed -n 's/.*, kube-apiserver [^ ]* ready in \([0-9.]*\)s at .*/\1/p' "$st/supervisor.log" | head -n1)"
  [[ -n "$T_API" ]] || { show_tail "$st/supervisor.log"; fail "no 'kube-apiserver … ready in' line in $st/supervisor.log"; }
  grep -q "$want" "$st/supervisor.log" ||
    stack_log "warning: expected a $want in $st/supervisor.log; got: $(head -n1 "$st/supervisor.log")"
  XDG_CACHE_HOME="$cache" "$k8senv" down -f "$config" --state-dir "$st" >"$d/down.out" 2>&1 || {
    show_tail "$d/down.out"; fail "k8senv down failed"; }
}

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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
printf 'users rbac_median_s=%s allow_median_s=%s rbac_apiserver_median_s=%s allow_apiserver_median_s=%s runs=%d\n' \
  "$m_r" "$m_a" "$m_ra" "$m_aa" "$runs"
printf 'users-ratio up_rbac_vs_allow=%sx apiserver_rbac_vs_allow=%sx\n' "$(ratio "$m_r" "$m_a")" "$(ratio "$m_ra" "$m_aa")"
