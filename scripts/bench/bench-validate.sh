#!/usr/bin/env bash
# bench-validate.sh — how `k8senv validate` and `k8senv hash` grow with the number of
# environments (issue 25: validate was quadratic, 16,000 environments took 24 s). For each N, a
# config of N environments is generated: chains of 10 (each extends the one before), every
# environment with one seed set of one Namespace file; then `k8senv validate -f` and
# `k8senv hash -f … --apiserver-version v1.20.2` (no binary is run) are timed, best of --runs.
# Nothing is started.
#
# The summary to standard output, one line per N:
#   validate environments=N validate_s=X hash_s=X
#
# Usage: scripts/bench/bench-validate.sh [--environments "1000 4000 16000"] [--runs N] [--k8senv PATH] [--keep]
#   --environments  the sizes, in one argument (default "1000 4000 16000")
#   --runs N        runs per size and command; the best is reported (default 1)
#   --k8senv PATH   the k8senv binary (default $K8SENV_BIN, else the release build under
#                   ${K8SENV_SCRATCH:-.build}; build it first: swift build -c release)
#   --keep          keep the work folder (the configs) and print its path
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/bench.sh source-path=SCRIPTDIR
source "$here/lib/bench.sh"
STACK_LOG_PREFIX=bench-validate

runs=1 keep=0 sizes="1000 4000 16000" k8senv="${K8SENV_BIN:-}"
while [[ $# -gt 0 ]]; do
  if bench_option "$@"; then shift "$BENCH_SHIFT"; continue; fi
  case "$1" in
    --environments) sizes="${2:?--environments needs sizes}"; shift 2 ;;
    --environments=*) sizes="${1#--environments=}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench-validate: unknown argument: $1" >&2; exit 2 ;;
  esac
done
bench_check_options
for n in $sizes; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench-validate: --environments: not a positive integer: $n" >&2; exit 2; }; done
bench_k8senv
bench_workroot bench-validate

printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n' > "$workroot/ns.yaml"

# The best wall time of `$@` over $runs runs, in seconds (3 decimals); output discarded.
best_of() {
  local best="" i start end t
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || fail "failed: $*"
    end=$(date +%s%N)
    t=$(( (end - start) / 1000000 ))
    [[ -z "$best" || $t -lt $best ]] && best=$t
  done
  printf '%d.%03d' $((best / 1000)) $((best % 1000))
}

for n in $sizes; do
  config="$workroot/k8senv-$n.yaml"
  {
    printf 'apiVersion: k8senv.dev/v1alpha1\nkind: Config\nenvironments:\n'
    for ((i = 0; i < n; i++)); do
      printf '  e%d:\n' "$i"
      if (( i % 10 != 0 )); then printf '    extends: e%d\n' $((i - 1)); fi
      printf '    seeds: [{name: s%d, manifests: [ns.yaml]}]\n' "$i"
    done
  } > "$config"
  validate_s=$(best_of "$k8senv" validate -f "$config")
  hash_s=$(best_of "$k8senv" hash -f "$config" --apiserver-version v1.20.2)
  stack_log "environments=$n validate ${validate_s}s hash ${hash_s}s"
  echo "validate environments=$n validate_s=$validate_s hash_s=$hash_s"
done
