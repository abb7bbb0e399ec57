#!/usr/bin/env bash
# bench-pool-transport.sh — the pool service's transport against a baseline k8senv binary, a
# benchmark (not a test): the same config, the same Python standard-library client, the service
# of one binary then of the other, alternating, in one invocation. Prints, on stdout, per round
# and binary:
#   <label> round=R first200_p50_ms=.. first200_p99_ms=.. steady_p50_ms=.. steady_p99_ms=..
#           acquire_p50_ms=.. release_p50_ms=.. status_p50_ms=..   (each request alone; status is
#           the transport with nothing behind it)
# and at the end, per figure, the ratio of the medians, current over baseline (below 1.05 is the
# goal: no worse than 5%):
#   transport-ratio steady_p50_ms_current_over_baseline=Rx baseline=X current=X   (and so on)
#
# Usage: scripts/bench/bench-pool-transport.sh --baseline PATH [--current PATH] [--rounds N] [--cycles N]
#   --baseline   a k8senv binary to compare with (e.g. one built from an earlier commit)
#   --current    the k8senv to measure (default: the one scripts/setup.sh builds)
# Config: clients/testdata/k8senv.yaml, up --detach with --pool-size 4 -e isolation, embedded store.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"  # for --help, after the cd
cd "$(dirname "$0")/../.."
baseline="" current="" rounds=2 cycles=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baseline) baseline="${2:?}"; shift 2 ;;
    --current) current="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --cycles) cycles="${2:?}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$self"; exit 0 ;;
    *) echo "bench-pool-transport: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -x $baseline ]] || { echo "bench-pool-transport: --baseline must name a k8senv binary" >&2; exit 2; }
eval "$(scripts/install-binaries.sh)"
if [[ -z $current ]]; then
  scratch="${K8SENV_SCRATCH:-.build}"
  swift build --scratch-path "$scratch" --product k8senv >&2
  current="$(swift build --scratch-path "$scratch" --show-bin-path)/k8senv"
fi
config="$PWD/clients/testdata/k8senv.yaml"
work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-transport.XXXXXX")"
trap '"$current" down -f "$config" --state-dir "$work/state" >/dev/null 2>&1 || "$baseline" down -f "$config" --state-dir "$work/state" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

measure() {  # label binary round
  local label="$1" binary="$2" round="$3"
  eval "$("$binary" up --detach --quiet -f "$config" --state-dir "$work/state" --pool-size 4 -e isolation)"
  PYTHONPATH="$PWD/clients/python" CYCLES="$cycles" /usr/bin/python3 scripts/bench/lib/lease-cycles.py | awk -v label="$label" -v round="$round" '
    $1 == "socket-lease-first" { split($3, a, "="); split($4, b, "="); f50 = a[2]; f99 = b[2] }
    $1 == "socket-lease" { split($3, a, "="); split($4, b, "="); s50 = a[2]; s99 = b[2] }
    $1 == "socket-split" { split($3, a, "="); split($4, r, "="); split($5, t, "="); ac = a[2]; re = r[2]; st = t[2] }
    END { printf "%s round=%s first200_p50_ms=%s first200_p99_ms=%s steady_p50_ms=%s steady_p99_ms=%s acquire_p50_ms=%s release_p50_ms=%s status_p50_ms=%s\n", label, round, f50, f99, s50, s99, ac, re, st }'
  "$binary" down -f "$config" --state-dir "$work/state" >&2
}

results="$work/results"
for ((round = 1; round <= rounds; round++)); do
  measure baseline "$baseline" "$round" | tee -a "$results"
  measure current "$current" "$round" | tee -a "$results"
done
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    fields = line.split()
    values = dict(f.split("=") for f in fields[1:])
    for key, value in values.items():
        if key != "round":
            rows.setdefault((fields[0], key), []).append(float(value))
for key in ("first200_p50_ms", "first200_p99_ms", "steady_p50_ms", "steady_p99_ms", "acquire_p50_ms", "release_p50_ms", "status_p50_ms"):
    b, c = statistics.median(rows[("baseline", key)]), statistics.median(rows[("current", key)])
    print(f"transport-ratio {key}_current_over_baseline={c / b:.2f}x baseline={b:.2f} current={c:.2f}")
PY
