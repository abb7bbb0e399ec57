#!/usr/bin/env bash
# bench-audit.sh — what `audit:` costs: an instance's start and the latency of requests, in one
# invocation, on the same binaries, N rounds of three measurements, alternating O M R O M R …
# so that machine drift spreads over all:
#   O off       `k8senv up --detach` of one environment (pool size 1, no CRDs or seeds), no audit
#   M metadata  the same with `audit: {level: Metadata}` (k8senv's built-in policy)
#   R reqresp   the same with `audit: {level: RequestResponse}` (bodies too)
# All are warm starts: audit is not part of the cache key, so the configs share one snapshot,
# filled by an untimed `up`/`down` before round 1 (a cache hit is checked in every run). Each
# start is timed twice: the whole `k8senv up --detach` to its return (wall), and kube-apiserver's
# own start to ready as k8senv reports it. Then, on the running instance, a Python client (one
# keep-alive HTTPS connection, the admin token) makes REQUESTS requests: a create of a ConfigMap,
# then a get of it, alternately; the median latency of each kind is recorded (and the audit log
# is checked to hold the creates). `k8senv down` runs after that.
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   audit off_up_median_s=X metadata_up_median_s=X reqresp_up_median_s=X off_apiserver_median_s=X …
#   audit-latency off_create_ms=X metadata_create_ms=X reqresp_create_ms=X off_get_ms=X … requests=N
#   audit-ratio up_metadata_vs_off=Rx up_reqresp_vs_off=Rx apiserver_metadata_vs_off=Rx
#               create_metadata_vs_off=Rx create_reqresp_vs_off=Rx get_metadata_vs_off=Rx get_reqresp_vs_off=Rx
#
# Usage: scripts/bench/bench-audit.sh [--runs N] [--requests N] [--storage embedded|etcd|kine] [--k8senv PATH] [--keep]
#   --runs N       rounds (default 5)
#   --requests N   requests per run, half creates, half gets (default 400)
#   --storage S    the storage of the configs (default embedded)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder (logs, configs, state, audit logs) and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_ETCDCTL / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-audit

runs=5 requests=400 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --requests) requests="${2:?--requests needs a number}"; shift 2 ;;
    --requests=*) requests="${1#--requests=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-audit: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || { echo "bench-audit: --requests must be a positive integer" >&2; exit 2; }
bench_binaries
bench_k8senv
bench_workroot bench-audit

off_config="$workroot/off/k8senv.yaml" meta_config="$workroot/metadata/k8senv.yaml" rr_config="$workroot/reqresp/k8senv.yaml"
bench_config "$off_config" "" ""
bench_config "$meta_config" "audit: {level: Metadata}" ""
bench_config "$rr_config" "audit: {level: RequestResponse}" ""

stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null)); storage: $storage; runs: $runs"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "$("$k8senv" hash -f "$off_config" --apiserver-version v0)" != "$("$k8senv" hash -f "$meta_config" --apiserver-version v0)" ]]; then
  stack_log "warning: the two configs have different cache keys: one of them is a cold start"
fi

# run_up DIR CONFIG WANT: `k8senv up --detach` of CONFIG, state in DIR/state; WANT: cache hit or
# miss. Sets T_UP (wall), T_API (kube-apiserver to ready, as k8senv reports it), and T_CREATE
# and T_GET (median ms) from the request loop on the running instance.
run_up() {
  local kubeconfig latencies
  bench_up "$@"
  kubeconfig="$(sed -n 's/^export KUBECONFIG=//p' "$BENCH_UP_OUT" | tr -d "'")"
  latencies="$(python3 "$workroot/requests.py" "$kubeconfig" "$requests")" || fail "the request loop failed"
  read -r T_CREATE T_GET <<<"$latencies"
  AUDITED="$(cat "$(dirname "$kubeconfig")/logs/audit.log" 2>/dev/null | grep -c '"verb":"create"' || true)"
  bench_down "$1" "$2"
}

# requests.py KUBECONFIG N: N requests on one keep-alive HTTPS connection (creates of ConfigMaps
# and gets of them, alternately); prints the median ms of each kind.
cat > "$workroot/requests.py" <<'EOF'
import http.client, json, os, ssl, statistics, sys, time
kubeconfig, n = sys.argv[1], int(sys.argv[2])
folder = os.path.dirname(kubeconfig)
server = next(l.split("server:", 1)[1].strip() for l in open(kubeconfig) if "server:" in l)
token = open(os.path.join(folder, "token")).read().strip()
context = ssl.create_default_context(cafile=os.path.join(folder, "pki", "ca.crt"))
host, port = server[len("https://"):].split(":")
c = http.client.HTTPSConnection(host, int(port), context=context)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
creates, gets = [], []
for i in range(max(n // 2, 1)):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-%d" % i}, "data": {"k": "v" * 64}})
    t = time.perf_counter()
    c.request("POST", "/api/v1/namespaces/default/configmaps", body, headers)
    r = c.getresponse(); r.read()
    creates.append(time.perf_counter() - t)
    if r.status != 201: sys.exit("create: %d" % r.status)
    t = time.perf_counter()
    c.request("GET", "/api/v1/namespaces/default/configmaps/bench-%d" % i, headers=headers)
    r = c.getresponse(); r.read()
    gets.append(time.perf_counter() - t)
    if r.status != 200: sys.exit("get: %d" % r.status)
print("%.3f %.3f" % (statistics.median(creates) * 1000, statistics.median(gets) * 1000))
EOF

stack_log "filling the snapshot cache (untimed)…"
run_up "$workroot/prime" "$off_config" "cache miss"
[[ $keep -eq 1 ]] || rm -rf "$workroot/prime"

declare -A up api create get
for ((r = 1; r <= runs; r++)); do
  for v in off metadata reqresp; do
    case "$v" in off) config="$off_config" ;; metadata) config="$meta_config" ;; *) config="$rr_config" ;; esac
    run_up "$workroot/$v$r" "$config" "cache hit"
    up[$v]+="$T_UP " api[$v]+="$T_API " create[$v]+="$T_CREATE " get[$v]+="$T_GET "
    stack_log "run $r/$runs $v up_s=$T_UP (kube-apiserver ${T_API}s) create_ms=$T_CREATE get_ms=$T_GET audited_creates=$AUDITED"
    if [[ "$v" != off && "$AUDITED" -lt $((requests / 2)) ]]; then fail "the $v run's audit log lacks the creates"; fi
    if [[ "$v" == off && "$AUDITED" -ne 0 ]]; then fail "the run without audit wrote an audit log"; fi
    [[ $keep -eq 1 ]] || rm -rf "$workroot/$v$r"
  done
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { local -a xs; read -r -a xs <<<"$1"; stack_median "${xs[@]}"; }
declare -A m_up m_api m_create m_get
for v in off metadata reqresp; do
  m_up[$v]="$(med "${up[$v]}")" m_api[$v]="$(med "${api[$v]}")"
  m_create[$v]="$(med "${create[$v]}")" m_get[$v]="$(med "${get[$v]}")"
done
printf 'audit off_up_median_s=%s metadata_up_median_s=%s reqresp_up_median_s=%s off_apiserver_median_s=%s metadata_apiserver_median_s=%s reqresp_apiserver_median_s=%s runs=%d\n' \
  "${m_up[off]}" "${m_up[metadata]}" "${m_up[reqresp]}" "${m_api[off]}" "${m_api[metadata]}" "${m_api[reqresp]}" "$runs"
printf 'audit-latency off_create_ms=%s metadata_create_ms=%s reqresp_create_ms=%s off_get_ms=%s metadata_get_ms=%s reqresp_get_ms=%s requests=%d\n' \
  "${m_create[off]}" "${m_create[metadata]}" "${m_create[reqresp]}" "${m_get[off]}" "${m_get[metadata]}" "${m_get[reqresp]}" "$requests"
printf 'audit-ratio up_metadata_vs_off=%sx up_reqresp_vs_off=%sx apiserver_metadata_vs_off=%sx create_metadata_vs_off=%sx create_reqresp_vs_off=%sx get_metadata_vs_off=%sx get_reqresp_vs_off=%sx\n' \
  "$(ratio "${m_up[metadata]}" "${m_up[off]}")" "$(ratio "${m_up[reqresp]}" "${m_up[off]}")" "$(ratio "${m_api[metadata]}" "${m_api[off]}")" \
  "$(ratio "${m_create[metadata]}" "${m_create[off]}")" "$(ratio "${m_create[reqresp]}" "${m_create[off]}")" \
  "$(ratio "${m_get[metadata]}" "${m_get[off]}")" "$(ratio "${m_get[reqresp]}" "${m_get[off]}")"
