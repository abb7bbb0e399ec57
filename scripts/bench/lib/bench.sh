# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are the interface to the sourcing script
# scripts/bench/lib/bench.sh — what the benchmarks that run the k8senv binary share (bench-users,
# bench-audit, bench-controllers, bench-diff, bench-environments): their common options, the
# binaries, the k8senv binary, a work folder whose runs are brought down on exit, a config of one
# environment, and `up --detach`/`down` timed and checked. Sources stack.sh.
#
#   source "$here/lib/bench.sh"; STACK_LOG_PREFIX=bench-x
#   runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
#   while [[ $# -gt 0 ]]; do
#     if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
#     case "$1" in …the script's own options… esac
#   done
#   bench_check_options
#   bench_binaries [K8SENV_EXTRA …]   # K8SENV_KUBE_APISERVER, K8SENV_ETCD and these, or exit 1
#   bench_k8senv                      # sets k8senv (the release build unless --k8senv), or exit 1
#   bench_workroot NAME               # sets workroot, cache; on exit: down, leftovers, removal
#   bench_config FILE TOP ENV         # one environment "bench" of one instance
#   bench_up DIR CONFIG "cache hit"   # sets T_UP, T_API, BENCH_STATE, BENCH_UP_OUT
#   bench_down DIR CONFIG

bench_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=stack.sh source-path=SCRIPTDIR
source "$bench_here/stack.sh"
bench_scripts="$(cd "$bench_here/../.." && pwd)"
bench_repo="$(cd "$bench_scripts/.." && pwd)"

fail() { stack_log "error: $*"; exit 1; }
show_tail() { [[ -f "$1" ]] && { stack_log "tail of $1:"; tail -n 25 "$1" >&2; }; return 0; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }

# bench_option ARGS…: --runs N, --storage S, --k8senv PATH, --keep (and --x=V forms) into the
# variables runs, storage, k8senv, keep; BENCH_SHIFT is how many arguments it took. Returns 1
# for any other argument.
bench_option() {
  BENCH_SHIFT=2
  case "$1" in
    --runs) runs="${2:?--runs needs a number}" ;;
    --runs=*) runs="${1#--runs=}"; BENCH_SHIFT=1 ;;
    --storage) storage="${2:?--storage needs embedded, etcd or kine}" ;;
    --storage=*) storage="${1#--storage=}"; BENCH_SHIFT=1 ;;
    --k8senv) k8senv="${2:?--k8senv needs a path}" ;;
    --k8senv=*) k8senv="${1#--k8senv=}"; BENCH_SHIFT=1 ;;
    --keep) keep=1; BENCH_SHIFT=1 ;;
    *) return 1 ;;
  esac
}

# Usage errors (exit 2) for the common options.
bench_check_options() {
  [[ "$runs" =~ ^[1-9][0-9]*$ ]] || { stack_log "--runs must be a positive integer"; exit 2; }
  case "${storage:-embedded}" in embedded|etcd|kine) ;; *) stack_log "--storage must be embedded, etcd or kine"; exit 2 ;; esac
}

# bench_binaries [VAR…]: K8SENV_KUBE_APISERVER, K8SENV_ETCD and each VAR as set, else as
# `install-binaries.sh --check` resolves them; exits 1 naming one that is not an executable.
# Nothing is installed or built.
bench_binaries() {
  local v missing=0 exports
  for v in K8SENV_KUBE_APISERVER K8SENV_ETCD "$@"; do [[ -n "${!v:-}" ]] || missing=1; done
  if [[ $missing -eq 1 ]]; then
    exports="$("$bench_scripts/install-binaries.sh" --check 2>/dev/null)" || true
    eval "$exports"
  fi
  stack_require_binaries || exit 1
  for v in "$@"; do
    [[ -n "${!v:-}" && -x "${!v}" ]] || fail "$v is not set to an executable; run: eval \"\$(scripts/install-binaries.sh)\""
  done
  [[ "${storage:-embedded}" != kine || -n "${K8SENV_KINE:-}" ]] || fail "--storage kine needs K8SENV_KINE (k8senv-kine works)"
}

# bench_k8senv: k8senv is --k8senv's path, else the release build under ${K8SENV_SCRATCH:-.build};
# exits 1 when it is not there, warns when Sources/ is newer.
bench_k8senv() {
  local bindir
  if [[ -z "${k8senv:-}" ]]; then
    bindir="$(cd "$bench_repo" && swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}" --show-bin-path 2>/dev/null)" || bindir=""
    k8senv="$bindir/k8senv"
  fi
  [[ -x "$k8senv" ]] || fail "no k8senv binary at '$k8senv'; build it: swift build -c release (or pass --k8senv PATH)"
  if [[ -n "$(find "$bench_repo/Sources" "$bench_repo/Package.swift" -newer "$k8senv" -type f 2>/dev/null | head -n1)" ]]; then
    stack_log "warning: $k8senv is older than some files of Sources/; rebuild for current numbers"
  fi
}

# bench_workroot NAME: a work folder (workroot) with a snapshot cache folder (cache). On exit
# (also after Ctrl-C): every run bench_up started is brought down, what is left of processes
# naming the folder is killed, and the folder is removed (kept with --keep). A script may
# define bench_before_exit, called first.
bench_workroot() {
  workroot="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-$1.XXXXXX")"
  cache="$workroot/cache"
  bench_runs=()   # CONFIG:STATE of each `up`, for `down` on exit
  trap _bench_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
_bench_exit() {
  local rc=$? s
  trap '' INT TERM
  if declare -F bench_before_exit >/dev/null; then bench_before_exit || true; fi
  for s in "${bench_runs[@]}"; do
    if [[ -e "${s#*:}/current" ]]; then
      XDG_CACHE_HOME="$cache" timeout 30 "$k8senv" down -f "${s%%:*}" --state-dir "${s#*:}" >/dev/null 2>&1 || true
    fi
  done
  stack_kill_leftovers "$workroot"
  if [[ ${keep:-0} -eq 1 ]]; then stack_log "work folder kept in $workroot"; else rm -rf "$workroot"; fi
  exit "$rc"
}
# bench_track CONFIG STATE: a run the exit brings down (bench_up does it for its own).
bench_track() { bench_runs+=("$1:$2"); }

yaml_quote() { local s="${1//\'/\'\'}"; printf "'%s'" "$s"; }
# bench_config FILE TOP ENV: a config of one environment "bench" of one instance on $storage,
# with the resolved binaries; TOP goes at the top level, ENV under the environment.
bench_config() {
  mkdir -p "$(dirname "$1")"
  cat > "$1" <<EOF
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: $(yaml_quote "$K8SENV_KUBE_APISERVER")
  kubeControllerManager: $(yaml_quote "${K8SENV_KUBE_CONTROLLER_MANAGER:-kube-controller-manager}")
  etcd: $(yaml_quote "$K8SENV_ETCD")
  etcdctl: $(yaml_quote "${K8SENV_ETCDCTL:-etcdctl}")
  kine: $(yaml_quote "${K8SENV_KINE:-kine}")
storage: ${storage:-embedded}
timeouts:
  start: 120s
$2
environments:
  bench:
    pool:
      size: 1
$3
EOF
}

# bench_up DIR CONFIG WANT: `k8senv up --detach` of CONFIG with the work folder's cache, state in
# DIR/state; WANT ("cache hit" or "cache miss") is checked in its log. Sets T_UP (wall seconds),
# T_API (kube-apiserver to ready, as k8senv reports it), BENCH_STATE and BENCH_UP_OUT (its
# standard output: the exports).
bench_up() {
  local d="$1" config="$2" want="$3" t0
  BENCH_STATE="$d/state" BENCH_UP_OUT="$d/up.out"
  mkdir -p "$d"
  bench_track "$config" "$BENCH_STATE"
  t0="$EPOCHREALTIME"
  XDG_CACHE_HOME="$cache" "$k8senv" up --detach -f "$config" --state-dir "$BENCH_STATE" >"$BENCH_UP_OUT" 2>"$d/up.err" || {
    show_tail "$d/up.err"; show_tail "$BENCH_STATE/supervisor.log"; fail "k8senv up --detach failed"; }
  T_UP="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}')"
  T_API="$(sed -n 's/.*, kube-apiserver [^ ]* ready in \([0-9.]*\)s at .*/\1/p' "$BENCH_STATE/supervisor.log" | head -n1)"
  [[ -n "$T_API" ]] || { show_tail "$BENCH_STATE/supervisor.log"; fail "no 'kube-apiserver … ready in' line in $BENCH_STATE/supervisor.log"; }
  grep -q "$want" "$BENCH_STATE/supervisor.log" ||
    stack_log "warning: expected a $want in $BENCH_STATE/supervisor.log; got: $(head -n1 "$BENCH_STATE/supervisor.log")"
}

# bench_down DIR CONFIG: `k8senv down` of the run bench_up DIR CONFIG started.
bench_down() {
  XDG_CACHE_HOME="$cache" "$k8senv" down -f "$2" --state-dir "$1/state" >"$1/down.out" 2>&1 || {
    show_tail "$1/down.out"; fail "k8senv down failed"; }
}
