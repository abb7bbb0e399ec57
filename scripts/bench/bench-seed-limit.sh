#!/usr/bin/env bash
# bench-seed-limit.sh — k8senv's seeding against kube-apiserver's own create rate: how close
# `k8senv up` gets to what the server can take, for the same objects on the same kind of
# instance. Generated objects (default 2,000 ConfigMaps and 500 Widgets of
# crds/widgets.example.k8senv.dev.yaml, all in namespace "bench") and a config of two
# environments: "bench" (the Widget CRD, the Namespace) and "seed" (extends bench; one seed set
# of the objects). Every measurement starts a fresh instance from bench's snapshot (a cache hit:
# CRD established, namespace there, nothing else), so each one meets the same store:
#   raw C   `up --detach -e bench` (that environment alone), then rawcreate (lib/rawcreate, Go standard library, built
#           with scripts/go-offline.sh) POSTs the objects with C requests in flight on one
#           HTTP/2 connection — the transport client-go and k8senv use; bodies encoded before
#           the clock starts; clocked from the first request to the last answer. C is each of
#           --levels (default 1 4 8 16 32).
#   k8senv  `up --detach -e seed`: bench's snapshot hit, seed's missed (a comment with the run's
#           number in the objects' file changes seed's key), so k8senv applies the seed set;
#           its time is the one k8senv reports ("seed set seed/objects: N objects applied in Xs":
#           reading the file, kind order, every request).
#   base    the same with --baseline's binary (another k8senv, e.g. the one before a change).
# A round measures each of them once, in an order that rotates from round to round so that
# machine drift spreads over all. With --apply, each raw level is measured a second time as
# server-side apply (PATCH, fieldManager=k8senv, force), as k8senv sends it.
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   seed-limit raw_c1_per_s=X … raw_c32_per_s=X raw_best_per_s=X raw_best_inflight=C k8senv_per_s=X [base_per_s=X] objects=N runs=R
#   [seed-limit-apply apply_c1_per_s=X … apply_best_per_s=X]
#   seed-limit-ratio k8senv_vs_raw_best=Rx [base_vs_raw_best=Rx k8senv_vs_base=Rx]
# Rates are medians over the rounds (objects per second). Goal: k8senv_vs_raw_best >= 0.8.
#
# Usage: scripts/bench/bench-seed-limit.sh [--runs N] [--configmaps N] [--widgets N]
#            [--levels "1 4 8 16 32"] [--apply] [--baseline PATH] [--storage S] [--k8senv PATH] [--keep]
#   --runs N         rounds (default 3)
#   --configmaps N   ConfigMaps (default 2000), --widgets N Widgets (default 500)
#   --levels "C …"   the raw client's requests in flight (default "1 4 8 16 32")
#   --apply          also measure raw server-side apply at each level
#   --baseline PATH  another k8senv binary to measure beside (its own snapshot cache)
#   --storage S      embedded, etcd or kine (default embedded)
#   --k8senv PATH    the k8senv binary (default $K8SENV_BIN, else the release build under
#                    ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep           keep the work folder and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves; Go (Debian's golang-go) builds rawcreate into the work
# folder. Nothing is installed. Everything started is stopped, and the work folder removed, on
# exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-seed-limit

runs=3 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}" configmaps=2000 widgets=500 levels="1 4 8 16 32" apply=0 baseline=""
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --configmaps) configmaps="${2:?--configmaps needs a number}"; shift 2 ;;
    --configmaps=*) configmaps="${1#--configmaps=}"; shift ;;
    --widgets) widgets="${2:?--widgets needs a number}"; shift 2 ;;
    --widgets=*) widgets="${1#--widgets=}"; shift ;;
    --levels) levels="${2:?--levels needs numbers}"; shift 2 ;;
    --levels=*) levels="${1#--levels=}"; shift ;;
    --apply) apply=1; shift ;;
    --baseline) baseline="${2:?--baseline needs a path}"; shift 2 ;;
    --baseline=*) baseline="${1#--baseline=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-seed-limit: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ "$configmaps" =~ ^[0-9]+$ && "$widgets" =~ ^[0-9]+$ && $((configmaps + widgets)) -gt 0 ]] ||
  { stack_log "--configmaps and --widgets must be numbers, not both 0"; exit 2; }
for c in $levels; do [[ "$c" =~ ^[1-9][0-9]*$ ]] || { stack_log "--levels must be positive integers, got '$c'"; exit 2; }; done
[[ -n "$levels" ]] || { stack_log "--levels is empty"; exit 2; }
[[ -z "$baseline" || -x "$baseline" ]] || { stack_log "--baseline '$baseline' is not an executable"; exit 2; }
command -v go >/dev/null || fail "no go on PATH (apt-get install golang-go): it builds lib/rawcreate"
bench_binaries
bench_k8senv
bench_workroot bench-seed-limit

rawcreate="$workroot/rawcreate"
"$bench_scripts/go-offline.sh" "$here/lib/rawcreate" go build -o "$rawcreate" . || fail "building lib/rawcreate failed"

# The objects, twice: a manifest for k8senv (one JSON document a YAML document: the same bytes
# both ways) and PATH<tab>JSON lines for rawcreate.
mkdir -p "$workroot/seeds"
python3 - "$configmaps" "$widgets" "$workroot" <<'EOF'
import json, sys
configmaps, widgets, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
colors = ["red", "green", "blue"]
objects = []
for i in range(configmaps):
    objects.append(("/api/v1/namespaces/bench/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "namespace": "bench", "labels": {"app": "bench", "shard": str(i % 16)}},
        "data": {"index": str(i), "config.yaml": f"replicas: {i % 7 + 1}\nimage: registry.example/app:{i}\n" + "x" * 200}}))
for i in range(widgets):
    objects.append(("/apis/example.k8senv.dev/v1alpha1/namespaces/bench/widgets", {
        "apiVersion": "example.k8senv.dev/v1alpha1", "kind": "Widget",
        "metadata": {"name": f"widget-{i:05d}", "namespace": "bench"},
        "spec": {"color": colors[i % 3], "size": i % 100 + 1, "labels": {"tier": f"t{i % 4}"},
                 "parts": [{"name": "a", "count": i % 5}, {"name": "b", "count": 1}]}}))
with open(f"{root}/objects.tsv", "w") as tsv, open(f"{root}/objects.body", "w") as yaml:
    for path, o in objects:
        text = json.dumps(o, separators=(",", ":"))
        tsv.write(f"{path}\t{text}\n")
        yaml.write(f"---\n{text}\n")
EOF
objects=$((configmaps + widgets))
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n' > "$workroot/seeds/namespace.yaml"
# seeds/objects.yaml for round R (its first line makes seed's cache key differ from round to round).
write_objects() { { printf '# round %s\n' "$1"; cat "$workroot/objects.body"; } > "$workroot/seeds/objects.yaml"; }
write_objects prime

config="$workroot/k8senv.yaml"
bench_config "$config" "  seeds: 600s" "    crds: [$(yaml_quote "$bench_repo/crds/widgets.example.k8senv.dev.yaml")]
    seeds:
      - name: namespace
        manifests: [seeds/namespace.yaml]
  seed:
    extends: bench
    pool:
      size: 1
    seeds:
      - name: objects
        manifests: [seeds/objects.yaml]"

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null | head -n1))${baseline:+; baseline: $baseline ($("$baseline" --version 2>/dev/null | head -n1))}"
stack_log "storage: $storage; runs: $runs; objects: $configmaps ConfigMaps + $widgets Widgets; raw levels: $levels$([[ $apply -eq 1 ]] && echo ' (create and apply)')"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# with_binary BIN: k8senv and cache name BIN and its own snapshot cache folder.
main_k8senv="$k8senv" main_cache="$cache"
with_binary() {
  if [[ "$1" == base ]]; then k8senv="$baseline" cache="$workroot/cache-base"; else k8senv="$main_k8senv" cache="$main_cache"; fi
}

# raw DIR MODE C: a fresh instance of bench, then rawcreate; sets RATE.
raw() {
  local d="$1" mode="$2" c="$3" kubeconfig folder server out
  up_one "$d" bench
  grep -q "cache hit" "$BENCH_STATE/supervisor.log" "$d/up.err" 2>/dev/null ||
    stack_log "warning: expected a cache hit for bench in $d/up.err"
  kubeconfig="$(sed -n "s/^export KUBECONFIG=//p" "$d/up.out" | tr -d "'")"
  folder="$(dirname "$kubeconfig")"
  server="$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -n1)"
  out="$("$rawcreate" -server "$server" -ca "$folder/pki/ca.crt" -token "$folder/token" -objects "$workroot/objects.tsv" \
    -inflight "$c" -mode "$mode")" || { bench_down "$d" "$config"; fail "rawcreate ($mode, $c in flight) failed"; }
  bench_down "$d" "$config"
  RATE="$(sed -n 's/.*per_s=\([0-9.]*\).*/\1/p' <<<"$out")"
  local exists; exists="$(sed -n 's/.*already_exists=\([0-9]*\).*/\1/p' <<<"$out")"
  [[ "${exists:-0}" == 0 ]] ||
    stack_log "warning: $exists of $objects fresh creates were answered 409 AlreadyExists ($storage, $c in flight): the server created an object twice"
  [[ $keep -eq 1 ]] || rm -rf "$d"
}

# up_one DIR ENV: `k8senv up --detach -e ENV` (that environment alone), output in DIR/up.out and
# DIR/up.err, state in DIR/state (BENCH_STATE); brought down on exit if still running.
up_one() {
  local d="$1"
  BENCH_STATE="$d/state"
  mkdir -p "$d"
  bench_track "$config" "$BENCH_STATE"
  XDG_CACHE_HOME="$cache" "$k8senv" up --detach -f "$config" -e "$2" --state-dir "$BENCH_STATE" >"$d/up.out" 2>"$d/up.err" || {
    show_tail "$d/up.err"; show_tail "$BENCH_STATE/supervisor.log"; fail "k8senv up --detach -e $2 failed"; }
}

# seeded DIR ROUND: `up --detach -e seed` (seed's snapshot missed); sets RATE from k8senv's line.
seeded() {
  local d="$1" seconds n
  write_objects "$2"
  up_one "$d" seed
  read -r n seconds < <(sed -n 's/.*seed set seed\/objects: \([0-9]*\) objects applied in \([0-9.]*\)s.*/\1 \2/p' \
    "$d/up.err" "$BENCH_STATE/supervisor.log" 2>/dev/null | head -n1) || true
  bench_down "$d" "$config"
  [[ -n "${seconds:-}" ]] || { show_tail "$d/up.err"; fail "no 'seed set seed/objects: N objects applied in Xs' line (a cache hit?)"; }
  [[ "$n" == "$objects" ]] || fail "k8senv applied $n objects, expected $objects"
  RATE="$(awk -v n="$n" -v s="$seconds" 'BEGIN{printf "%.1f", n/s}')"
  [[ $keep -eq 1 ]] || rm -rf "$d"
}

stack_log "filling the snapshot cache (untimed)…"
up_one "$workroot/prime" bench
bench_down "$workroot/prime" "$config"
if [[ -n "$baseline" ]]; then
  with_binary base
  up_one "$workroot/prime-base" bench
  bench_down "$workroot/prime-base" "$config"
  with_binary main
fi

# The measurements of a round, rotated by one each round.
items=()
for c in $levels; do items+=("create:$c"); [[ $apply -eq 1 ]] && items+=("apply:$c"); done
items+=("k8senv")
[[ -n "$baseline" ]] && items+=("base")
declare -A rates
for ((r = 1; r <= runs; r++)); do
  n=${#items[@]}
  for ((i = 0; i < n; i++)); do
    item="${items[$(((i + r - 1) % n))]}"
    case "$item" in
      create:* | apply:*)
        raw "$workroot/r$r-${item/:/-}" "${item%%:*}" "${item#*:}"
        stack_log "run $r/$runs raw ${item%%:*} ${item#*:} in flight: ${RATE}/s (load $(cut -d' ' -f1 /proc/loadavg))" ;;
      k8senv | base)
        with_binary "$item"
        seeded "$workroot/r$r-$item" "$r"
        with_binary main
        stack_log "run $r/$runs $item seeding: ${RATE}/s (load $(cut -d' ' -f1 /proc/loadavg))" ;;
    esac
    rates[$item]+="$RATE "
  done
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# median_rate ITEM
median_rate() { read -r -a v <<<"${rates[$1]}"; stack_median "${v[@]}"; }
line="seed-limit" best=0 best_c=0
for c in $levels; do
  m="$(median_rate "create:$c")"
  line+=" raw_c${c}_per_s=$m"
  if awk -v a="$m" -v b="$best" 'BEGIN{exit !(a > b)}'; then best="$m" best_c="$c"; fi
done
m_k="$(median_rate k8senv)"
line+=" raw_best_per_s=$best raw_best_inflight=$best_c k8senv_per_s=$m_k"
[[ -n "$baseline" ]] && { m_b="$(median_rate base)"; line+=" base_per_s=$m_b"; }
printf '%s objects=%d runs=%d storage=%s\n' "$line" "$objects" "$runs" "$storage"
if [[ $apply -eq 1 ]]; then
  line="seed-limit-apply" abest=0
  for c in $levels; do
    m="$(median_rate "apply:$c")"
    line+=" apply_c${c}_per_s=$m"
    awk -v a="$m" -v b="$abest" 'BEGIN{exit !(a > b)}' && abest="$m"
  done
  printf '%s apply_best_per_s=%s apply_best_vs_raw_best=%sx\n' "$line" "$abest" "$(ratio "$abest" "$best")"
fi
line="seed-limit-ratio k8senv_vs_raw_best=$(ratio "$m_k" "$best")x"
[[ -n "$baseline" ]] && line+=" base_vs_raw_best=$(ratio "$m_b" "$best")x k8senv_vs_base=$(ratio "$m_k" "$m_b")x"
printf '%s\n' "$line"
