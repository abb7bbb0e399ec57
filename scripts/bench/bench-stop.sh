#!/usr/bin/env bash
# bench-stop.sh — how long throwaway instances take to stop, a benchmark (not a test), in one
# run on one machine state. Prints, on stdout:
#   noop-down median_ms=..                        `k8senv down` with nothing running (the CLI's
#                                                 own start and exit: the baseline)
#   down config=NAME median_ms=.. ratio_over_noop=..x
#                                                 `k8senv down` of an `up --detach`, signal to
#                                                 exit, every instance stopped and its folder gone
#   run-teardown config=NAME median_ms=..         `k8senv run -- CMD`: from the command's last
#                                                 act to run's exit (instances stopped, folder
#                                                 removed)
# Target (issue #15): down and run's teardown of throwaway instances under 100 ms.
#
# Usage: scripts/bench/bench-stop.sh [--runs N] [--storage embedded|etcd|kine]
# Configs: examples/k8senv.yaml, and clients/testdata/k8senv.yaml with --pool-size 4 -e isolation.
# k8senv is built in release (swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}").
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"  # for --help, after the cd
cd "$(dirname "$0")/../.."
runs=7 storage=embedded
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --storage) storage="${2:?}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$self"; exit 0 ;;
    *) echo "bench-stop: unknown argument: $1" >&2; exit 2 ;;
  esac
done
eval "$(scripts/install-binaries.sh)"
scratch="${K8SENV_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product k8senv >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
export PATH="$bin:$PATH" K8SENV_STORAGE="$storage"
work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-stop.XXXXXX")"
trap 'for s in "$work"/state-*; do [[ -d "$s" ]] && k8senv down --state-dir "$s" -f examples/k8senv.yaml >/dev/null 2>&1; done; rm -rf "$work"' EXIT

RUNS="$runs" WORK="$work" /usr/bin/python3 - <<'PY'
import os, statistics, subprocess, time
runs, work = int(os.environ["RUNS"]), os.environ["WORK"]
configs = [("example", os.path.abspath("examples/k8senv.yaml"), []),
           ("isolation-pool4", os.path.abspath("clients/testdata/k8senv.yaml"), ["--pool-size", "4", "-e", "isolation"])]

def ms(seconds):
    return seconds * 1000

def timed(args):
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ms(time.perf_counter() - started)

empty = os.path.join(work, "state-empty")
os.makedirs(empty)
noop = statistics.median(timed(["k8senv", "down", "--state-dir", empty, "-f", configs[0][1]]) for _ in range(runs))
print(f"noop-down median_ms={noop:.1f}", flush=True)

for name, config, extra in configs:
    state = os.path.join(work, f"state-{name}")
    downs = []
    for _ in range(runs):
        subprocess.run(["k8senv", "up", "--detach", "--quiet", "-f", config, "--state-dir", state, *extra],
                       check=True, capture_output=True)
        time.sleep(1)  # settled, as a user's down would find it
        downs.append(timed(["k8senv", "down", "--state-dir", state, "-f", config]))
    down = statistics.median(downs)
    print(f"down config={name} median_ms={down:.1f} ratio_over_noop={down / noop:.1f}x", flush=True)

    mark = os.path.join(work, "mark")
    teardowns = []
    for _ in range(runs):
        proc = subprocess.run(["k8senv", "run", "--quiet", "-f", config, "--state-dir", state, "--fresh", *extra, "--",
                               "/usr/bin/python3", "-c", f"import time; open({mark!r}, 'w').write(repr(time.time()))"],
                              check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ended = time.time()
        teardowns.append(ms(ended - float(open(mark).read())))
    print(f"run-teardown config={name} median_ms={statistics.median(teardowns):.1f}", flush=True)
PY
