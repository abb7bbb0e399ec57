#!/usr/bin/env bash
# bench-environments.sh — the Environments benchmark (issue 4; its targets are the environments-targets line below):
# in one invocation, on the same binaries, N rounds of four measurements, interleaved
# A B C D A B C D … so that machine drift spreads over all of them:
#   A envtest  etcd + kube-apiserver (scripts/bench/lib/stack.sh), /readyz 200, `kubectl apply
#              --server-side -f` of the CRD folder, `kubectl wait --for condition=established
#              --timeout=120s crd --all`; timed from the start (PKI, etcd) to established.
#   B cold     `k8senv up --detach` of one environment (crds: the folder, storage etcd, pool size 1)
#              with an empty snapshot cache (a fresh XDG_CACHE_HOME per run); timed to its return.
#   C warm     the same with a cache filled beforehand (a cache hit); timed to its return.
#   D bare     kube-apiserver spawn to /livez 200, etcd started before the clock (fresh PKI and
#              data dir), as scripts/bench/bench-bare-start.sh.
# Stopping (`k8senv down`, SIGTERM to the stack) is never inside a timing. Before round 1 one
# untimed `k8senv up`/`down` fills the warm cache (and warms the page cache for everyone).
# After the rounds, `etcdctl snapshot restore` of that cache entry is timed alone (the restore
# step of C, which k8senv does not report separately).
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   environments envtest_median_s=X cold_median_s=X warm_median_s=X bare_median_s=X cold_vs_envtest=Rx warm_vs_bare=Rx runs=N
#   environments-targets cold_vs_envtest=Rx<=0.6:met|missed warm_vs_bare=Rx<=1.1:met|missed
#
# Usage: scripts/bench/bench-environments.sh [--runs N] [--crds DIR] [--k8senv PATH] [--keep]
#   --runs N       rounds (default 3)
#   --crds DIR     the CRD folder (default Tests/Fixtures/crds/cluster-api-v0.4.8 of the repo)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder (logs, configs, state) and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_ETCDCTL if set, else what
# `install-binaries.sh --check` resolves; kubectl on PATH. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-environments

runs=3 keep=0 storage=etcd crds="$repo/Tests/Fixtures/crds/cluster-api-v0.4.8" k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  if [[ "$1" != --storage* ]] && bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --crds) crds="${2:?--crds needs a folder}"; shift 2 ;;
    --crds=*) crds="${1#--crds=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-environments: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ -d "$crds" ]] || { echo "bench-environments: --crds: not a folder: $crds" >&2; exit 2; }
crds="$(cd "$crds" && pwd)"
ncrds="$(find "$crds" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | wc -l)"
[[ "$ncrds" -gt 0 ]] || { echo "bench-environments: no .yaml/.yml/.json files in $crds" >&2; exit 2; }

# --- binaries, work folder -------------------------------------------------------------------
bench_binaries K8SENV_ETCDCTL
command -v kubectl >/dev/null || fail "kubectl is not on PATH"
bench_k8senv
bench_workroot bench-env
config="$workroot/k8senv.yaml"
# The bare start (D) runs etcd and kube-apiserver through stack.sh.
bench_before_exit() { stack_cleanup; }

cat > "$config" <<EOF
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries:
  kubeAPIServer: $(yaml_quote "$K8SENV_KUBE_APISERVER")
  etcd: $(yaml_quote "$K8SENV_ETCD")
  etcdctl: $(yaml_quote "$K8SENV_ETCDCTL")
storage: etcd
timeouts:
  start: 120s
  crds: 120s
environments:
  bench:
    pool:
      size: 1
    crds:
      - $(yaml_quote "$crds/")
EOF

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "etcd: $K8SENV_ETCD ($("$K8SENV_ETCD" --version 2>/dev/null | head -n1)); etcdctl: $K8SENV_ETCDCTL"
stack_log "kubectl: $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -n1))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null))"
stack_log "CRDs: $crds ($ncrds files); runs: $runs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the four measurements --------------------------------------------------------------------
# A: envtest-style. Sets T_A and A_DETAIL.
run_envtest() {
  local d="$1" t0 t_ready t_applied t_est n
  mkdir -p "$d"
  t0="$EPOCHREALTIME"
  stack_gen_pki "$d"
  stack_start_etcd "$d" || fail "envtest: etcd did not start"
  stack_start_apiserver "$d" "$STACK_ETCD_URL"
  stack_wait_url "$STACK_APISERVER_URL/readyz" "$d" 120 "$STACK_APISERVER_PID" || fail "envtest: kube-apiserver not ready"
  t_ready="$EPOCHREALTIME"
  kubectl --kubeconfig "$d/kubeconfig" --cache-dir "$d/kube-cache" apply --server-side -f "$crds" \
    >"$d/apply.log" 2>&1 || { show_tail "$d/apply.log"; fail "envtest: kubectl apply failed"; }
  t_applied="$EPOCHREALTIME"
  kubectl --kubeconfig "$d/kubeconfig" --cache-dir "$d/kube-cache" wait --for condition=established \
    --timeout=120s crd --all >"$d/wait.log" 2>&1 || { show_tail "$d/wait.log"; fail "envtest: kubectl wait failed"; }
  t_est="$EPOCHREALTIME"
  T_A="$(awk -v a="$t0" -v b="$t_est" 'BEGIN{printf "%.3f", b-a}')"
  n="$(grep -c 'condition met' "$d/wait.log" || true)"
  A_DETAIL="$(awk -v a="$t0" -v s="$STACK_APISERVER_SPAWN" -v r="$t_ready" -v p="$t_applied" -v e="$t_est" \
    'BEGIN{printf "pki+etcd %.2fs, apiserver to readyz %.2fs, apply %.2fs, wait %.2fs", s-a, r-s, p-r, e-p}'), $n CRDs established"
  stack_stop "$STACK_APISERVER_PID"
  stack_stop "$STACK_ETCD_PID"
  STACK_PIDS=()
}

# k8senv's step times from a supervisor log, as one short phrase.
k8senv_steps() {
  local log="$1" hit
  hit="$(grep -o -m1 'cache hit\|cache miss' "$log" || true)"
  sed -n \
    -e 's/.*: etcd ready in \([^,]*\), kube-apiserver [^ ]* ready in \([^ ]*\) at .*/etcd \1, kube-apiserver \2/p' \
    -e 's/.*: \([0-9]*\) CRDs\{0,1\} of .* established in \(.*\)$/\1 CRDs established \2/p' \
    -e 's/.*: snapshot [0-9a-f]* saved (\(.*\)) in \(.*\)$/built+saved (\1) in \2/p' "$log" |
    paste -sd ';' - | sed 's/;/; /g' | sed "s/^/${hit:-cache ?}: /"
}

# B and C: `k8senv up --detach` with XDG_CACHE_HOME=$2, state in $1/state. Sets T_UP and UP_DETAIL.
run_up() {
  local cache="$2"   # bench_up's snapshot cache, for this run
  bench_up "$1" "$config" "$3"
  UP_DETAIL="$(k8senv_steps "$BENCH_STATE/supervisor.log")"
  bench_down "$1" "$config"
}

# D: bare start. Sets T_D and D_DETAIL.
run_bare() {
  local d="$1"
  stack_gen_pki "$d"
  stack_start_etcd "$d" || fail "bare: etcd did not start"
  stack_start_apiserver "$d" "$STACK_ETCD_URL"
  stack_wait_url "$STACK_APISERVER_URL/livez" "$d" 120 "$STACK_APISERVER_PID" || fail "bare: kube-apiserver not live"
  T_D="$(stack_elapsed "$STACK_APISERVER_SPAWN")"
  D_DETAIL="etcd ready in ${STACK_ETCD_READY_S}s before the clock"
  stack_stop "$STACK_APISERVER_PID"
  stack_stop "$STACK_ETCD_PID"
  STACK_PIDS=()
}

warm_cache="$workroot/warm-cache"
stack_log "filling the warm cache (untimed)…"
run_up "$workroot/prime" "$warm_cache" "cache miss"
stack_log "  prime: ${T_UP}s ($UP_DETAIL)"

envtest=() cold=() warm=() bare=()
for ((r = 1; r <= runs; r++)); do
  run_envtest "$workroot/a$r"
  envtest+=("$T_A"); stack_log "run $r/$runs A envtest_s=$T_A ($A_DETAIL)"
  rm -rf "$workroot/a$r"

  run_up "$workroot/b$r" "$workroot/b$r/cache" "cache miss"
  cold+=("$T_UP"); stack_log "run $r/$runs B cold_s=$T_UP ($UP_DETAIL)"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/b$r"

  run_up "$workroot/c$r" "$warm_cache" "cache hit"
  warm+=("$T_UP"); stack_log "run $r/$runs C warm_s=$T_UP ($UP_DETAIL)"
  [[ $keep -eq 1 ]] || rm -rf "$workroot/c$r"

  run_bare "$workroot/d$r"
  bare+=("$T_D"); stack_log "run $r/$runs D bare_s=$T_D ($D_DETAIL)"
  rm -rf "$workroot/d$r"
done

# The restore step of C alone: `etcdctl snapshot restore` of the warm cache's entry, as k8senv runs it.
db="$(find "$warm_cache" -name etcd.db -type f | head -n1)"
if [[ -n "$db" ]]; then
  restores=()
  for ((r = 1; r <= runs; r++)); do
    t0="$EPOCHREALTIME"
    "$K8SENV_ETCDCTL" snapshot restore "$db" --data-dir="$workroot/restore$r" --name=k8senv \
      --initial-cluster=k8senv=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
      >"$workroot/restore$r.log" 2>&1 || { show_tail "$workroot/restore$r.log"; fail "etcdctl snapshot restore failed"; }
    restores+=("$(stack_elapsed "$t0")")
    rm -rf "$workroot/restore$r"
  done
  stack_log "etcdctl snapshot restore alone ($(du -h "$db" | cut -f1) db): ${restores[*]} s, median $(stack_median "${restores[@]}") s"
else
  stack_log "warning: no etcd.db in the warm cache ($warm_cache)"
fi
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

m_a="$(stack_median "${envtest[@]}")" m_b="$(stack_median "${cold[@]}")"
m_c="$(stack_median "${warm[@]}")" m_d="$(stack_median "${bare[@]}")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN{print (r <= t ? "met" : "missed")}'; }
r_cold="$(ratio "$m_b" "$m_a")" r_warm="$(ratio "$m_c" "$m_d")"
printf 'environments envtest_median_s=%s cold_median_s=%s warm_median_s=%s bare_median_s=%s cold_vs_envtest=%sx warm_vs_bare=%sx runs=%d\n' \
  "$m_a" "$m_b" "$m_c" "$m_d" "$r_cold" "$r_warm" "$runs"
printf 'environments-targets cold_vs_envtest=%sx<=0.6:%s warm_vs_bare=%sx<=1.1:%s\n' \
  "$r_cold" "$(verdict "$r_cold" 0.6)" "$r_warm" "$(verdict "$r_warm" 1.1)"
