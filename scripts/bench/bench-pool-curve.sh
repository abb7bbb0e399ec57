#!/usr/bin/env bash
# bench-pool-curve.sh — what a pool of N instances costs: for each N of --sizes (1, 2, 4, 8) and
# each storage of --storages (embedded, etcd, kine), `k8senv up --detach` of the example
# (examples/k8senv.yaml, its environment base: 3 CRDs, two seed sets) with --pool-size N:
#   cold   time to all-ready from an empty snapshot cache (the first instance builds the
#          snapshot, the others start from it), a new cache folder each run
#   warm   time to all-ready from the cache (a hit is checked in every run)
#   idle   after a warm start and --settle seconds: the resident memory (VmRSS, /proc/PID/status)
#          of each kube-apiserver, of each store process (etcd, k8senv-kine; the embedded store
#          lives in k8senv), of k8senv itself, and the store's size on disk per instance
# The baseline is N = 1 in the same invocation: each line has the warm and cold ratios to it.
# Then, for each N above --bounded K (default: the number of cores), the start concurrency: N
# separate `up --detach -e base --pool-size 1` of the example from the warm cache, all at once
# against at most K starting at a time (alternating the two), time to the last one ready.
# Rounds alternate cold and warm so that machine drift spreads over both.
#
# Results (standard output), one line per storage and size, then the start lines:
#   pool-curve storage=S size=N cold_s=X warm_s=X cold_vs_size1=Rx warm_vs_size1=Rx
#     apiserver_rss_MiB=X store_rss_MiB=X k8senv_rss_MiB=X total_rss_MiB=X store_disk_MiB=X runs=R
#   pool-start storage=S size=N all_s=X bounded_s=X bound=K runs=R
#   pool-start-ratio storage=S size=N bounded_vs_all=Rx
# (apiserver_rss_MiB, store_rss_MiB and store_disk_MiB are per instance, medians; store_rss_MiB
# is 0 on embedded, whose stores are in k8senv_rss_MiB; total_rss_MiB is all of the run's.)
# With --out DIR (default docs/explanation/pool-curve): DIR/pool-curve.csv, DIR/pool-start.csv
# and DIR/pool-curve.png (matplotlib), and with --doc (default docs/explanation/performance.md)
# the section between its "pool-cost" markers rewritten: table, plot, command, load, advice.
#
# Usage: scripts/bench/bench-pool-curve.sh [--sizes 1,2,4,8] [--storages embedded,etcd,kine]
#          [--runs N] [--bounded K] [--settle S] [--out DIR] [--doc FILE | --no-doc] [--note TEXT]
#          [--k8senv PATH] [--keep]
#   --sizes LIST     pool sizes (default 1,2,4,8; 1 is added as the baseline when missing)
#   --storages LIST  storages (default embedded,etcd,kine)
#   --runs N         rounds per storage and size (default 3)
#   --bounded K      the bounded start concurrency compared with all at once (default: nproc);
#                    0 skips the comparison
#   --settle S       seconds between ready and the idle RSS reading (default 10)
#   --out DIR        where the CSVs and the PNG go (default docs/explanation/pool-curve)
#   --doc FILE       the page whose pool-cost section is rewritten (default
#                    docs/explanation/performance.md); --no-doc leaves it alone
#   --note TEXT      a paragraph the section shows under the command (what was special about the run)
#   --k8senv PATH    the k8senv binary (default $K8SENV_BIN, else the release build under
#                    ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep           keep the work folder (logs, state) and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves; kine defaults to k8senv-kine beside the k8senv binary.
# The plot needs matplotlib (Debian: apt-get install python3-matplotlib; or pip install
# matplotlib): checked before anything starts. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
# Takes ~30 min with the defaults on 2 cores (~3 min with --sizes 1,2,4 --storages embedded --runs 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-pool-curve

command_line="scripts/bench/bench-pool-curve.sh$(printf ' %q' "$@")"
runs=3 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
sizes=1,2,4,8 storages=embedded,etcd,kine bound="$(nproc)" settle=10
out="$bench_repo/docs/explanation/pool-curve" doc="$bench_repo/docs/explanation/performance.md" note=""
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --sizes) sizes="${2:?--sizes needs a list, e.g. 1,2,4,8}"; shift 2 ;;
    --storages) storages="${2:?--storages needs a list, e.g. embedded,etcd}"; shift 2 ;;
    --bounded) bound="${2:?--bounded needs a number}"; shift 2 ;;
    --settle) settle="${2:?--settle needs seconds}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --doc) doc="${2:?--doc needs a file}"; shift 2 ;;
    --no-doc) doc=""; shift ;;
    --note) note="${2:?--note needs a text}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-pool-curve: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ "$sizes" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { stack_log "--sizes must be positive integers separated by commas, e.g. 1,2,4,8"; exit 2; }
[[ "$storages" =~ ^(embedded|etcd|kine)(,(embedded|etcd|kine))*$ ]] || { stack_log "--storages must be embedded, etcd or kine, separated by commas"; exit 2; }
[[ "$bound" =~ ^[0-9]+$ ]] || { stack_log "--bounded must be a number (0: no comparison)"; exit 2; }
[[ "$settle" =~ ^[0-9]+$ ]] || { stack_log "--settle must be whole seconds"; exit 2; }
IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a storage_list <<<"$storages"
# N = 1 is the baseline of every ratio.
[[ ",$sizes," == *,1,* ]] || size_list=(1 "${size_list[@]}")
mapfile -t size_list < <(printf '%s\n' "${size_list[@]}" | sort -nu)

# The plot's Python: the first of python3 and Debian's /usr/bin/python3 that has matplotlib.
plot_python=""
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import matplotlib' 2>/dev/null; then plot_python="$p"; break; fi
done
[[ -n "$plot_python" ]] || fail "the plot needs matplotlib: apt-get install python3-matplotlib (Debian), or pip install matplotlib"
[[ -z "$doc" || -f "$doc" ]] || fail "--doc $doc: no such file"
[[ -z "$doc" ]] || grep -q '^<!-- pool-cost:begin' "$doc" || fail "--doc $doc: no '<!-- pool-cost:begin -->' marker line"

bench_binaries
bench_k8senv
[[ -n "${K8SENV_KINE:-}" ]] || export K8SENV_KINE="$(dirname "$k8senv")/k8senv-kine"
[[ ",$storages," != *,kine,* || -x "$K8SENV_KINE" ]] || fail "--storages kine needs K8SENV_KINE (no $K8SENV_KINE)"
export K8SENV_KUBE_APISERVER K8SENV_ETCD K8SENV_KINE
bench_workroot bench-pool-curve
example="$bench_repo/examples/k8senv.yaml"
# The example's CI profile: the same environments with a start timeout for a busy machine.
up_args=(-f "$example" --profile ci -e base)

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null | head -n1)); sizes: ${size_list[*]}; storages: ${storage_list[*]}; runs: $runs"
stack_log "cores: $(nproc); load average at start: $load_start"

# up_run DIR CACHE WANT SIZE: `k8senv up --detach` of the example's base with --pool-size SIZE,
# state in DIR/state, snapshot cache CACHE; WANT ("cache hit" or "cache miss") is checked.
# Sets T_UP. Runs in a subshell too (the start comparison): the caller tracks DIR for the exit.
up_run() {
  local d="$1" want="$3" t0
  mkdir -p "$d"
  t0="$EPOCHREALTIME"
  XDG_CACHE_HOME="$2" "$k8senv" up --detach "${up_args[@]}" --pool-size "$4" --state-dir "$d/state" >"$d/up.out" 2>"$d/up.err" || {
    show_tail "$d/up.err"; show_tail "$d/state/supervisor.log"; fail "k8senv up --detach --pool-size $4 ($STORAGE_NOW) failed"; }
  T_UP="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}')"
  grep -q "$want" "$d/state/supervisor.log" ||
    stack_log "warning: expected a $want in $d/state/supervisor.log; got: $(head -n1 "$d/state/supervisor.log")"
}
# down_run DIR CACHE: `k8senv down` of up_run's run.
down_run() {
  XDG_CACHE_HOME="$2" "$k8senv" down -f "$example" --state-dir "$1/state" >"$1/down.out" 2>&1 || {
    show_tail "$1/down.out"; fail "k8senv down failed"; }
  [[ $keep -eq 1 ]] || rm -rf "$1"
}
track() { bench_track "$example" "$1/state"; }

# idle DIR: the idle figures of up_run's run, from its run record and /proc: per instance
# kube-apiserver RSS and store size (medians), store process RSS (median, 0 when in k8senv),
# k8senv's RSS, the run's total RSS, all in MiB.
idle() {
  python3 - "$1"/state/runs/*/run.json <<'EOF'
import json, os, statistics, sys
record = json.load(open(sys.argv[1]))
def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    except OSError:
        pass
    sys.exit(f"bench-pool-curve: process {pid} of {sys.argv[1]} is gone")
def disk(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            st = os.lstat(os.path.join(root, f))
            total += st.st_blocks * 512
    return total / 2**20
owner = record["ownerPID"]
instances = record["instances"]
api = [rss(i["apiServerPID"]) for i in instances]
stores = sorted({i["storagePID"] for i in instances if i.get("storagePID") and i["storagePID"] != owner})
store = [rss(p) for p in stores]
k8senv = rss(owner)
# The store's files in an instance folder (Sources/K8sEnvRunner/Instance/InstanceLayout.swift):
# store/ (embedded), etcd-data/ (etcd), kine/ (kine).
def store_disk(folder):
    return sum(disk(os.path.join(folder, name)) for name in ("store", "etcd-data", "kine"))
sizes = [store_disk(os.path.dirname(i["kubeconfig"])) for i in instances]
print(f"{statistics.median(api):.1f} {statistics.median(store) if store else 0:.1f} {k8senv:.1f} "
      f"{sum(api) + sum(store) + k8senv:.1f} {statistics.median(sizes):.2f}")
EOF
}

csv="$workroot/pool-curve.csv" start_csv="$workroot/pool-start.csv"
echo "storage,size,cold_s,warm_s,apiserver_rss_mib,store_rss_mib,k8senv_rss_mib,total_rss_mib,store_disk_mib,runs" >"$csv"
echo "storage,size,all_s,bounded_s,bound,runs" >"$start_csv"
for STORAGE_NOW in "${storage_list[@]}"; do
  export K8SENV_STORAGE="$STORAGE_NOW"
  warm_cache="$workroot/cache-$STORAGE_NOW"
  stack_log "$STORAGE_NOW: filling the snapshot cache (untimed)…"
  track "$workroot/prime-$STORAGE_NOW"
  up_run "$workroot/prime-$STORAGE_NOW" "$warm_cache" "cache miss" 1
  down_run "$workroot/prime-$STORAGE_NOW" "$warm_cache"
  base_cold="" base_warm=""
  for n in "${size_list[@]}"; do
    cold=() warm=() apis=() stores=() owners=() totals=() disks=()
    for ((r = 1; r <= runs; r++)); do
      d="$workroot/$STORAGE_NOW-$n-cold-$r"; track "$d"
      up_run "$d" "$d/cache" "cache miss" "$n"; cold+=("$T_UP")
      down_run "$d" "$d/cache"
      d="$workroot/$STORAGE_NOW-$n-warm-$r"; track "$d"
      up_run "$d" "$warm_cache" "cache hit" "$n"; warm+=("$T_UP")
      sleep "$settle"
      read -r a s o t k < <(idle "$d") || fail "no idle figures for $d"
      apis+=("$a"); stores+=("$s"); owners+=("$o"); totals+=("$t"); disks+=("$k")
      down_run "$d" "$warm_cache"
      stack_log "$STORAGE_NOW size $n run $r/$runs: cold_s=${cold[-1]} warm_s=${warm[-1]} apiserver_rss=${a} MiB store_rss=${s} MiB k8senv_rss=${o} MiB total=${t} MiB store_disk=${k} MiB"
    done
    mc="$(stack_median "${cold[@]}")" mw="$(stack_median "${warm[@]}")"
    [[ $n -ne 1 ]] || { base_cold="$mc" base_warm="$mw"; }
    ma="$(stack_median "${apis[@]}")" ms="$(stack_median "${stores[@]}")" mo="$(stack_median "${owners[@]}")"
    mt="$(stack_median "${totals[@]}")" mk="$(stack_median "${disks[@]}")"
    printf 'pool-curve storage=%s size=%d cold_s=%s warm_s=%s cold_vs_size1=%sx warm_vs_size1=%sx apiserver_rss_MiB=%.1f store_rss_MiB=%.1f k8senv_rss_MiB=%.1f total_rss_MiB=%.1f store_disk_MiB=%.2f runs=%d\n' \
      "$STORAGE_NOW" "$n" "$mc" "$mw" "$(ratio "$mc" "$base_cold")" "$(ratio "$mw" "$base_warm")" "$ma" "$ms" "$mo" "$mt" "$mk" "$runs"
    echo "$STORAGE_NOW,$n,$mc,$mw,$ma,$ms,$mo,$mt,$mk,$runs" >>"$csv"
  done

  # The start concurrency: N runs of one instance each, all at once or at most $bound at a time.
  [[ $bound -gt 0 ]] || continue
  for n in "${size_list[@]}"; do
    [[ $n -gt $bound ]] || continue
    all=() bounded=()
    for ((r = 1; r <= runs; r++)); do
      for mode in all bounded; do
        limit=$n; [[ $mode == all ]] || limit=$bound
        d="$workroot/$STORAGE_NOW-$n-$mode-$r"
        for ((i = 0; i < n; i++)); do track "$d/$i"; done
        t0="$EPOCHREALTIME"
        for ((i = 0; i < n; i++)); do
          while (($(jobs -rp | wc -l) >= limit)); do wait -n || true; done
          ( up_run "$d/$i" "$warm_cache" "cache hit" 1 && touch "$d/$i/ready" ) &
        done
        wait
        for ((i = 0; i < n; i++)); do
          [[ -e "$d/$i/ready" ]] || fail "start $i of the $mode comparison failed (size $n, $STORAGE_NOW)"
        done
        t="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}')"
        if [[ $mode == all ]]; then all+=("$t"); else bounded+=("$t"); fi
        for ((i = 0; i < n; i++)); do down_run "$d/$i" "$warm_cache"; done
        [[ $keep -eq 1 ]] || rm -rf "$d"
        stack_log "$STORAGE_NOW size $n run $r/$runs: $n single starts, $mode (at most $limit at once): ${t}s"
      done
    done
    ma="$(stack_median "${all[@]}")" mb="$(stack_median "${bounded[@]}")"
    printf 'pool-start storage=%s size=%d all_s=%s bounded_s=%s bound=%d runs=%d\n' "$STORAGE_NOW" "$n" "$ma" "$mb" "$bound" "$runs"
    printf 'pool-start-ratio storage=%s size=%d bounded_vs_all=%sx\n' "$STORAGE_NOW" "$n" "$(ratio "$mb" "$ma")"
    echo "$STORAGE_NOW,$n,$ma,$mb,$bound,$runs" >>"$start_csv"
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
stack_log "load average at end: $load_end"

mkdir -p "$out"
cp "$csv" "$start_csv" "$out/"
"$plot_python" "$here/lib/pool-curve.py" --csv "$out/pool-curve.csv" --start-csv "$out/pool-start.csv" --png "$out/pool-curve.png" \
  ${doc:+--doc "$doc"} --command "$command_line" --cores "$(nproc)" --load "$load_start / $load_end" \
  --apiserver "$("$K8SENV_KUBE_APISERVER" --version 2>/dev/null)" --k8senv-version "$("$k8senv" --version 2>/dev/null | sed -n 's/^commit: //p')" \
  --elapsed "$SECONDS" --note "$note" >&2
stack_log "wrote $out/pool-curve.csv, $out/pool-start.csv, $out/pool-curve.png${doc:+ and the pool-cost section of $doc}"
