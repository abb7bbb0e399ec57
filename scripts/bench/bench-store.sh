#!/usr/bin/env bash
# bench-store.sh — benchmarks (not tests) of the embedded store, each against etcd in the same run.
#
#   store-start        store process start until it answers an etcd Status call (k8senv-kine vs
#                      etcd; target: the store under 50 ms). Polled with Python's etcd3 client.
#   instance-start     `k8senv up --detach --no-cache` of one instance without CRDs (embedded vs
#                      etcd): storage + kube-apiserver to ready.
#   configmap-creates  1,000 ConfigMaps created one after another through kube-apiserver (HTTPS,
#                      Python); creates per second on embedded, on k8senv-kine and on etcd
#                      (target: embedded at least etcd's rate), and the RSS of the storage process
#                      afterwards (k8senv-kine vs etcd: the embedded store has no process of its own).
#   release            scripts/bench/bench-pool.sh's release phase: reset (embedded) vs namespace
#                      cleanup (etcd) (target: reset under 10 ms median).
#
# Usage: scripts/bench/bench-store.sh [--runs N] [--creates N] [--cycles N]
# Every figure is a median of N runs (default 5), printed with the ratio to etcd's. Needs the
# binaries of scripts/install-binaries.sh and Debian's python3-etcd3 (/usr/bin/python3).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"  # for --help, after the cd
cd "$(dirname "$0")/../.."
runs=5 creates=1000 cycles=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --creates) creates="$2"; shift 2 ;;
    --cycles) cycles="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$self"; exit 0 ;;
    *) echo "bench-store: unknown argument $1" >&2; exit 2 ;;
  esac
done
eval "$(scripts/install-binaries.sh)"
scratch="${K8SENV_SCRATCH:-.build}"
echo "bench-store: building (release)" >&2
swift build -c release --scratch-path "$scratch" --product k8senv >&2
swift build -c release --scratch-path "$scratch" --product k8senv-kine >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-store.XXXXXX")"
trap 'for d in "$work"/*/; do [[ -f "$d/k8senv.yaml" ]] && "$bin/k8senv" down -f "$d/k8senv.yaml" >/dev/null 2>&1; done; rm -rf "$work"' EXIT

/usr/bin/python3 - "$bin/k8senv-kine" "$K8SENV_ETCD" "$work" "$runs" <<'PY'
import etcd3, os, socket, statistics, subprocess, sys, time
kine, etcd, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def start(kind, i):
    port = free_port()
    if kind == "store":
        cmd = [kine, f"--endpoint=sqlite://{work}/store-{i}/state.db", f"--listen-address=127.0.0.1:{port}"]
    else:
        peer = free_port()
        cmd = [etcd, f"--data-dir={work}/etcd-{i}", f"--listen-client-urls=http://127.0.0.1:{port}",
               f"--advertise-client-urls=http://127.0.0.1:{port}", f"--listen-peer-urls=http://127.0.0.1:{peer}",
               f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}", f"--initial-cluster=default=http://127.0.0.1:{peer}",
               "--unsafe-no-fsync"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The port first (a refused connect is instant), then an etcd Status call on a new channel
    # per try (a gRPC channel that failed once waits out a reconnect backoff).
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
        except OSError:
            if p.poll() is not None: sys.exit(f"{kind} exited")
            time.sleep(0.001)
    while True:
        try:
            etcd3.client(port=port, timeout=1).status(); break
        except Exception:
            if p.poll() is not None: sys.exit(f"{kind} exited")
            time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    p.terminate(); p.wait()
    return elapsed
times = {"store": [], "etcd": []}
for i in range(runs):
    for kind in ("store", "etcd"):
        times[kind].append(start(kind, i))
s, e = statistics.median(times["store"]), statistics.median(times["etcd"])
print(f"store-start store_ms={s*1000:.1f} etcd_ms={e*1000:.1f} ratio_vs_etcd={s/e:.2f}x runs={runs}")
PY

python3 - "$bin/k8senv" "$work" "$runs" "$creates" <<'PY'
import base64, json, os, ssl, statistics, subprocess, sys, time, http.client, re
k8senv, work, runs, creates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def write(folder, storage):
    os.makedirs(folder, exist_ok=True)
    env = os.environ
    open(f"{folder}/k8senv.yaml", "w").write(f"""apiVersion: k8senv.dev/v1alpha1
kind: Config
binaries: {{kubeAPIServer: "{env['K8SENV_KUBE_APISERVER']}", etcd: "{env['K8SENV_ETCD']}", kine: "{os.path.dirname(k8senv)}/k8senv-kine"}}
storage: {storage}
environments:
  one: {{pool: {{size: 1}}}}
""")
def up(folder):
    t0 = time.perf_counter()
    subprocess.run([k8senv, "up", "-f", f"{folder}/k8senv.yaml", "--detach", "--no-cache", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0
def down(folder):
    subprocess.run([k8senv, "down", "-f", f"{folder}/k8senv.yaml"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def record(folder):
    runs_dir = f"{folder}/.k8senv/runs"
    run = sorted(os.listdir(runs_dir))[-1]
    return json.load(open(f"{runs_dir}/{run}/run.json"))["instances"][0]
def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0
def creates_per_second(instance):
    kubeconfig = open(instance["kubeconfig"]).read()
    ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", kubeconfig).group(1)).decode()
    token = re.search(r"token: (\S+)", kubeconfig).group(1)
    ctx = ssl.create_default_context(cadata=ca)
    host, port = instance["server"].replace("https://", "").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=ctx)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    t0 = time.perf_counter()
    for i in range(creates):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 100}})
        conn.request("POST", "/api/v1/namespaces/default/configmaps", body, headers)
        r = conn.getresponse(); r.read()
        if r.status != 201: sys.exit(f"create {i}: HTTP {r.status}")
    return creates / (time.perf_counter() - t0)
kinds = ["embedded", "etcd", "kine"]
for k in kinds: write(f"{work}/{k}", k)
start = {k: [] for k in kinds}
rate = {k: [] for k in kinds}
rss = {k: [] for k in kinds}
for i in range(runs):
    for k in kinds:
        folder = f"{work}/{k}"
        start[k].append(up(folder))
        instance = record(folder)
        rate[k].append(creates_per_second(instance))
        if k != "embedded": rss[k].append(rss_kb(instance["storagePID"]))
        down(folder)
m = {k: statistics.median(start[k]) for k in kinds}
print(f"instance-start embedded_s={m['embedded']:.2f} etcd_s={m['etcd']:.2f} kine_s={m['kine']:.2f} ratio_vs_etcd={m['embedded']/m['etcd']:.2f}x runs={runs}")
r = {k: statistics.median(rate[k]) for k in kinds}
print(f"configmap-creates creates={creates} embedded_per_s={r['embedded']:.0f} kine_per_s={r['kine']:.0f} etcd_per_s={r['etcd']:.0f} ratio_vs_etcd={r['embedded']/r['etcd']:.2f}x runs={runs}")
mk, me = statistics.median(rss["kine"]), statistics.median(rss["etcd"])
print(f"storage-rss after_creates kine_MiB={mk/1024:.1f} etcd_MiB={me/1024:.1f} ratio_vs_etcd={mk/me:.2f}x runs={runs}")
PY

for storage in embedded etcd; do
  out="$(K8SENV_STORAGE=$storage scripts/bench/bench-pool.sh "$cycles" 2>/dev/null | grep -i release || true)"
  echo "release-$storage $out"
done
