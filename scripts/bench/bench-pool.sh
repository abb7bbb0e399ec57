#!/usr/bin/env bash
# bench-pool.sh — a benchmark, not a test: acquire + create 20 ConfigMaps + release cycles on a
# warm pool (the Swift library API), median and p95 per phase. Targets: acquire of an idle
# instance under 5 ms; release with cleanup under 100 ms median.
#
# Usage: scripts/bench/bench-pool.sh [CYCLES]   (default 50; config: examples/k8senv.yaml, environment base)
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
cycles="${1:-50}"
eval "$(scripts/install-binaries.sh)"
scratch="${K8SENV_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product k8senv-pool-benchmark >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
"$bin/k8senv-pool-benchmark" examples/k8senv.yaml base "$cycles"
