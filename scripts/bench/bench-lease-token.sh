#!/usr/bin/env bash
# bench-lease-token.sh — what a lease's own token costs a client's requests: a lease's token is
# not in kube-apiserver's token file, so kube-apiserver asks k8senv's token webhook about it on
# every request (no webhook cache; its own 10 s cache of successful authentications in front),
# while the instance's admin token is found in the file. One `k8senv up --detach` of one
# environment (pool size 1, no CRDs or seeds), one lease (`k8senv acquire`), then N rounds of two
# measurements, alternating L A L A … so that machine drift spreads over both:
#   L lease   REQUESTS GETs of the default namespace with the lease's token (from its kubeconfig)
#   A admin   the same with the instance's admin token (<instance>/token)
# Each measurement is one Python client on one keep-alive HTTPS connection (our CA verified),
# sequential requests; requests per second is REQUESTS over the wall time of the loop.
#
# Per-run lines and progress go to standard error; the summary to standard output:
#   lease-token lease_median_rps=X admin_median_rps=X runs=N requests=R
#   lease-token-ratio lease_vs_admin_rps=Rx
#
# Usage: scripts/bench/bench-lease-token.sh [--runs N] [--requests R] [--storage embedded|etcd|kine] [--k8senv PATH] [--keep]
#   --runs N       rounds (default 5)
#   --requests R   GETs per measurement (default 2000)
#   --storage S    the storage (default embedded)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD / K8SENV_KINE if set, else what
# `install-binaries.sh --check` resolves. Nothing is installed or built.
# Everything started is stopped, and the work folder removed, on exit (also after Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-lease-token

runs=5 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}" requests=2000
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --requests) requests="${2:?--requests needs a number}"; shift 2 ;;
    --requests=*) requests="${1#--requests=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-lease-token: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || { stack_log "--requests must be a positive integer"; exit 2; }
bench_binaries
bench_k8senv
bench_workroot bench-lease-token

config="$workroot/k8senv.yaml"
bench_config "$config" "" ""
stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER ($("$K8SENV_KUBE_APISERVER" --version 2>/dev/null))"
stack_log "k8senv: $k8senv ($("$k8senv" --version 2>/dev/null)); storage: $storage; runs: $runs; requests: $requests"
stack_log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

bench_up "$workroot/run" "$config" "cache"
# The lease's holder is this script (it outlives every measurement).
grant="$(XDG_CACHE_HOME="$cache" "$k8senv" acquire -f "$config" --state-dir "$BENCH_STATE" -e bench --holder $$ --format json)" ||
  fail "k8senv acquire failed"

# measure KIND: one client's GETs; prints requests per second.
measure() {
  GRANT="$grant" KIND="$1" REQUESTS="$requests" python3 - <<'EOF'
import http.client, json, os, ssl, time, urllib.parse
grant = json.loads(os.environ["GRANT"])
folder = os.path.dirname(os.path.dirname(grant["caFile"]))
if os.environ["KIND"] == "lease":
    token = grant["token"]
else:
    token = open(os.path.join(folder, "token")).read().strip()
url = urllib.parse.urlparse(grant["server"])
context = ssl.create_default_context(cafile=grant["caFile"])
connection = http.client.HTTPSConnection(url.hostname, url.port, context=context)
headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
def get():
    connection.request("GET", "/api/v1/namespaces/default", headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"GET with the {os.environ['KIND']} token: {response.status}")
for _ in range(20):
    get()  # the connection and kube-apiserver's caches warm
n = int(os.environ["REQUESTS"])
start = time.perf_counter()
for _ in range(n):
    get()
print(f"{n / (time.perf_counter() - start):.1f}")
EOF
}

lease=() admin=()
for ((r = 1; r <= runs; r++)); do
  l="$(measure lease)" || fail "the lease's client failed"
  a="$(measure admin)" || fail "the admin's client failed"
  lease+=("$l") admin+=("$a")
  stack_log "run $r/$runs lease_rps=$l admin_rps=$a"
done
stack_log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
XDG_CACHE_HOME="$cache" "$k8senv" release -f "$config" --state-dir "$BENCH_STATE" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lease"])' "$grant")" >/dev/null ||
  fail "k8senv release failed"

m_l="$(stack_median "${lease[@]}")" m_a="$(stack_median "${admin[@]}")"
printf 'lease-token lease_median_rps=%s admin_median_rps=%s runs=%d requests=%d\n' "$m_l" "$m_a" "$runs" "$requests"
printf 'lease-token-ratio lease_vs_admin_rps=%sx\n' "$(ratio "$m_l" "$m_a")"
