#!/usr/bin/env bash
# bench-token-review.sh — the token webhook's answer to one review (TokenWebhook.answer: a
# TokenReview or a SubjectAccessReview in, its answer out), which kube-apiserver asks for on
# every request made with a lease's token. Its Codable types against the JSONSerialization code
# they replaced (kept in Benchmarks/PoolBenchmark/TokenReviewBenchmark.swift as the baseline),
# on the bodies kube-apiserver v1.20 sends, half TokenReviews and half SubjectAccessReviews;
# ROUNDS rounds of REVIEWS answers each, the two sides alternating. In process: no server, no
# kube-apiserver (bench-lease-token.sh measures the whole request).
#
# Prints, on stdout:
#   token-review codable_ns=.. jsonserialization_ns=.. reviews=N rounds=N   median ns per answer
#   token-review-ratio jsonserialization_over_codable=..x                  > 1: Codable is faster
#
# Usage: scripts/bench/bench-token-review.sh [--reviews N] [--rounds N]
#   --reviews N   answers per round and side (default 20000)
#   --rounds N    rounds (default 9)
# k8senv-pool-benchmark is built in release (swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}").
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"  # for --help, after the cd
cd "$(dirname "$0")/../.."
reviews=20000 rounds=9
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reviews) reviews="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$self"; exit 0 ;;
    *) echo "bench-token-review: unknown argument: $1" >&2; exit 2 ;;
  esac
done
scratch="${K8SENV_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product k8senv-pool-benchmark >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
"$bin/k8senv-pool-benchmark" --token-review "$reviews" "$rounds"
