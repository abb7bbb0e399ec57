#!/usr/bin/env bash
# soak-store.sh — a soak run (not a test) of kube-apiserver on the embedded store.
#
# Starts one instance with `storage: embedded` (or the storage given), kube-apiserver compacting
# every minute and events living one minute (so leases expire during the run), then for
# DURATION keeps creating, updating and deleting ConfigMaps and creating Events while
# `kubectl get configmaps --watch` runs. At the end it prints:
#   soak storage=… seconds=… watch_lines=… compact_revision=… watch_added=… watch_modified=…
#        watch_deleted=… events_left=… apiserver_storage_errors=…
# and the kube-apiserver log lines about storage errors, if any. Exit 1 if any.
#
# Usage: scripts/bench/soak-store.sh [DURATION_SECONDS (default 600)] [STORAGE (default embedded)]
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
duration="${1:-600}" storage="${2:-embedded}"
eval "$(scripts/install-binaries.sh)"
scratch="${K8SENV_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product k8senv >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-soak.XXXXXX")"
cat > "$work/k8senv.yaml" <<EOF
apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries: {kubeAPIServer: "$K8SENV_KUBE_APISERVER", etcd: "$K8SENV_ETCD"}
storage: $storage
apiServer:
  extraArgs: ["--etcd-compaction-interval=1m", "--event-ttl=1m"]
environments:
  soak: {pool: {size: 1}}
EOF
trap '"$bin/k8senv" down -f "$work/k8senv.yaml" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin/k8senv" up -f "$work/k8senv.yaml" --detach --no-cache --quiet >&2
eval "$("$bin/k8senv" env -f "$work/k8senv.yaml")"
export KUBECACHEDIR="$work/kubectl-cache"
kubectl get configmaps -n default --watch --output-watch-events -o 'custom-columns=TYPE:.type' --no-headers > "$work/watch.txt" 2>&1 &
watcher=$!
sleep 1
python3 - "$KUBECONFIG" "$duration" <<'PY'
import base64, json, re, ssl, sys, time, http.client, random
kubeconfig, duration = open(sys.argv[1]).read(), float(sys.argv[2])
ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", kubeconfig).group(1)).decode()
token = re.search(r"token: (\S+)", kubeconfig).group(1)
host, port = re.search(r"server: https://(\S+)", kubeconfig).group(1).split(":")
conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cadata=ca))
H = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def call(method, path, body=None, ok=(200, 201)):
    conn.request(method, path, json.dumps(body) if body is not None else None, H)
    r = conn.getresponse(); data = r.read()
    if r.status not in ok: sys.exit(f"{method} {path}: HTTP {r.status} {data[:200]!r}")
    return json.loads(data) if data else None
writes, end, i = 0, time.time() + duration, 0
base = "/api/v1/namespaces/default"
while time.time() < end:
    name = f"soak-{i % 50}"
    existing = call("GET", f"{base}/configmaps/{name}", ok=(200, 404))
    if existing.get("kind") == "Status":
        call("POST", f"{base}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": "0"}})
    elif random.random() < 0.3:
        call("DELETE", f"{base}/configmaps/{name}")
    else:
        existing["data"] = {"n": str(i)}
        call("PUT", f"{base}/configmaps/{name}", existing)
    if i % 10 == 0:
        call("POST", f"{base}/events", {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "soak-"},
             "involvedObject": {"kind": "ConfigMap", "name": name, "namespace": "default"}, "reason": "Soak", "message": str(i)})
    writes += 1; i += 1
    time.sleep(0.02)
print(writes)
PY
sleep 2
kill "$watcher" 2>/dev/null || true
writes_done=$(wc -l < "$work/watch.txt")
log="$(dirname "$KUBECONFIG")/logs/kube-apiserver.log"
compacted="n/a"
if [[ "$storage" == embedded ]]; then  # the store's own record of kube-apiserver's compactions
  compacted=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); r=c.execute("select value from meta where name=\"compact_revision\"").fetchone(); print(r[0] if r else 0)' "$(dirname "$KUBECONFIG")/store/state.db")
fi
errors="$(grep -E '^E[0-9]{4}' "$log" | grep -iE 'etcd|storage|compact|watch' || true)"
events_left=$(kubectl get events -n default --no-headers 2>/dev/null | wc -l)
count() { grep -c "^$1" "$work/watch.txt" || true; }
echo "soak storage=$storage seconds=$duration watch_lines=$writes_done compact_revision=$compacted watch_added=$(count ADDED) watch_modified=$(count MODIFIED) watch_deleted=$(count DELETED) events_left=$events_left apiserver_storage_errors=$(printf '%s' "$errors" | grep -c . || true)"
if [[ -n "$errors" ]]; then printf '%s\n' "$errors" | head -20; exit 1; fi
