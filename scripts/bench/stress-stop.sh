#!/usr/bin/env bash
# stress-stop.sh — the stop-crash stress of issue #11 at full size, on the embedded store:
# 300 store start/stop cycles under connecting clients (StopStressTests), then 150
# `k8senv run` in a row with kubectl polling throughout, the first 50 of them with a client
# opening HTTP/2 connections to the store's port across each teardown (RunStressTests).
# Every run must end with its command's status; the guard fails the run if anything is left.
#
# Usage: scripts/bench/stress-stop.sh [runs]   (default 150; CI runs the same tests with 24)
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../.."
export K8SENV_STRESS_RUNS="${1:-150}"
exec scripts/test.sh --filter StopStressTests --filter RunStressTests
