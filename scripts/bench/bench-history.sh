#!/usr/bin/env bash
# bench-history.sh — what `k8senv diff`'s baseline costs the embedded store over a long
# pool-service run. The embedded store keeps the history from each instance's baseline (its
# revision when the run started) through compactions until the run stops
# (docs/explanation/diff.md), where it would otherwise keep only each key's newest row. This
# measures that history, not a time.
#
# One environment of one instance on the embedded store (kube-apiserver compacting every 10 s:
# --etcd-compaction-interval=10s), `k8senv up --detach`, then N lease cycles through the pool
# service (Python client): acquire, create K ConfigMaps of B bytes of data, release (reset, which
# writes each of them back as a delete). After a wait past a compaction, the instance's store
# file is read (read-only, beside the running store):
#   rows         every row the store keeps (the history)
#   live         the rows that are each key's newest and not deleted: what a compaction keeps
#                without a baseline to protect (the baseline of the same invocation)
# Summary on standard output:
#   history cycles=N objects_per_cycle=K bytes_per_object=B rows=R live=L kept_rows_per_cycle=X
#     value_kb=V live_value_kb=W kept_kb_per_cycle=Y compact_revision=C
#   history-ratio rows_over_live=Rx value_over_live=Rx
#
# Usage: scripts/bench/bench-history.sh [--cycles N] [--objects K] [--bytes B] [--k8senv PATH] [--keep]
#   --cycles N     lease cycles (default 200)   --objects K  ConfigMaps per lease (default 5)
#   --bytes B      data bytes per ConfigMap (default 1024)
#   --k8senv PATH  the k8senv binary (default $K8SENV_BIN, else the release build under
#                  ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep         keep the work folder and print its path
# Binaries: K8SENV_KUBE_APISERVER / K8SENV_ETCD if set, else what `install-binaries.sh --check`
# resolves. Nothing is installed or built. Everything started is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-history

runs=1 keep=0 storage=embedded k8senv="${K8SENV_BIN:-}" cycles=200 objects=5 bytes=1024
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --cycles) cycles="${2:?}"; shift 2 ;;
    --objects) objects="${2:?}"; shift 2 ;;
    --bytes) bytes="${2:?}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-history: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
[[ $storage == embedded ]] || { echo "bench-history: the history is the embedded store's (--storage embedded)" >&2; exit 2; }
for n in "$cycles" "$objects" "$bytes"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench-history: --cycles, --objects and --bytes take positive integers" >&2; exit 2; }
done
bench_binaries
bench_k8senv
bench_workroot bench-history

config="$workroot/k8senv.yaml"
bench_config "$config" 'apiServer: {extraArgs: ["--etcd-compaction-interval=10s"]}' ""
stack_log "kube-apiserver: $K8SENV_KUBE_APISERVER; k8senv: $k8senv; cycles: $cycles × $objects ConfigMaps of $bytes bytes"
bench_up "$workroot/run" "$config" "cache miss"
eval "$(cat "$BENCH_UP_OUT")"
run_dir="$(dirname "$(sed -n 's/^export KUBECONFIG=//p' "$BENCH_UP_OUT" | tr -d "'")")"
database="$run_dir/store/state.db"
[[ -f "$database" ]] || fail "no store file at $database"

PYTHONPATH="$repo/clients/python" CYCLES="$cycles" OBJECTS="$objects" BYTES="$bytes" DATABASE="$database" \
  /usr/bin/python3 - <<'PY'
import http.client, json, os, sqlite3, ssl, sys, time
from k8senv_pool import Client

cycles, objects, size = int(os.environ["CYCLES"]), int(os.environ["OBJECTS"]), int(os.environ["BYTES"])
client = Client(os.environ["K8SENV_POOL"])

def measure():
    db = sqlite3.connect(f"file:{os.environ['DATABASE']}?mode=ro", uri=True, timeout=30)
    try:
        rows, value = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM kv").fetchone()
        live, live_value = db.execute("""
            SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM kv k
            WHERE deleted = 0 AND revision = (SELECT MAX(revision) FROM kv WHERE key = k.key)""").fetchone()
        found = db.execute("SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()
        return rows, value, live, live_value, int(found[0]) if found else 0
    finally:
        db.close()

start = measure()
print(f"bench-history: at start rows={start[0]} live={start[2]}", file=sys.stderr, flush=True)
data = "x" * size
for c in range(cycles):
    inst = client.acquire(timeout=60)
    context = ssl.create_default_context(cafile=inst.ca_file)
    host, port = inst.server.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    for o in range(objects):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"cycle-{c}-{o}"}, "data": {"payload": data}})
        conn.request("POST", "/api/v1/namespaces/default/configmaps", body,
                     {"Authorization": "Bearer " + inst.token, "Content-Type": "application/json"})
        answer = conn.getresponse()
        answer.read()
        if answer.status != 201:
            sys.exit(f"bench-history: create in cycle {c}: HTTP {answer.status}")
    conn.close()
    inst.release()
    if (c + 1) % 50 == 0:
        print(f"bench-history: {c + 1}/{cycles} cycles", file=sys.stderr, flush=True)
# kube-apiserver compacts every 10 s; wait for one past the last write.
time.sleep(25)
rows, value, live, live_value, compacted = measure()
if compacted == 0:
    sys.exit("bench-history: no compaction happened in 25 s (is --etcd-compaction-interval=10s taken?)")
kept_rows = (rows - live - (start[0] - start[2])) / cycles
kept_kb = (value - live_value - (start[1] - start[3])) / cycles / 1024
print(f"history cycles={cycles} objects_per_cycle={objects} bytes_per_object={size} rows={rows} live={live} "
      f"kept_rows_per_cycle={kept_rows:.1f} value_kb={value / 1024:.0f} live_value_kb={live_value / 1024:.0f} "
      f"kept_kb_per_cycle={kept_kb:.1f} compact_revision={compacted}")
print(f"history-ratio rows_over_live={rows / live:.2f}x value_over_live={value / max(live_value, 1):.2f}x")
PY
bench_down "$workroot/run" "$config"
