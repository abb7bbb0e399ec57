#!/usr/bin/env bash
# fuzz.sh — fuzzes the YAML reader and the config validator (Fuzz/YAMLFuzzer/main.swift) with
# libFuzzer for a bounded time, one process, one job.
#
# Usage: scripts/fuzz.sh [--keep-going] [SECONDS]        (default 600)
#
#   --keep-going  run libFuzzer's fork mode with one worker (-fork=1 -ignore_crashes=1
#                 -ignore_timeouts=1 -ignore_ooms=1): a finding is saved and fuzzing goes on
#                 until SECONDS, so one known slow input does not end the run. Without it,
#                 libFuzzer stops at the first finding.
#
# 1. Builds the fuzzer with swiftc (not SwiftPM): Fuzz/YAMLFuzzer/main.swift and every
#    Sources/K8sEnvSpec/**/*.swift compiled as one module, so the library's `package` API is
#    visible, with -sanitize=fuzzer,address (or -sanitize=fuzzer alone when AddressSanitizer
#    does not link here). The binary: ${K8SENV_SCRATCH:-.build}/fuzz/yaml-fuzzer.
# 2. Seeds a corpus in a temporary folder from Tests/K8sEnvSpecTests/Corpus/**/*.yaml,
#    examples/**/*.yaml, crds/*.yaml and Tests/Fixtures/crds/**/*.yaml (relative to the
#    repository root; skipped when absent).
# 3. Runs libFuzzer with the dictionary Fuzz/yaml.dict, -max_len=65536, -timeout=10,
#    -rss_limit_mb=2048 and -max_total_time=SECONDS. The log: ${K8SENV_SCRATCH:-.build}/fuzz/fuzz.log.
#
# Exit status: 0 when the time ran out without a finding; 1 when libFuzzer found a crash, a
# timeout, an out-of-memory or a leak (the input is kept under
# ${K8SENV_SCRATCH:-.build}/fuzz/artifacts/ and its path printed); 2 on bad usage.
#
# Environment: FUZZ_SANITIZERS overrides the sanitizer list (e.g. "fuzzer" to skip ASan);
# FUZZ_EXTRA_ARGS adds libFuzzer flags (e.g. "-seed=1"); SWIFTC picks the compiler.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds=600 keep_going=0 positional=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --keep-going) keep_going=1; shift ;;
    -*) echo "fuzz: unknown option: $1 (usage: scripts/fuzz.sh [--keep-going] [SECONDS])" >&2; exit 2 ;;
    *)
      [[ $positional -eq 0 ]] || { echo "fuzz: usage: scripts/fuzz.sh [--keep-going] [SECONDS]" >&2; exit 2; }
      seconds="$1" positional=1; shift ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive integer, not '$seconds'" >&2; exit 2; }

swiftc="${SWIFTC:-}"
if [[ -z "$swiftc" ]]; then
  if command -v swiftc >/dev/null; then swiftc="$(command -v swiftc)"; else swiftc=/opt/swift/usr/bin/swiftc; fi
fi
[[ -x "$swiftc" ]] || { echo "fuzz: swiftc not found (set SWIFTC)" >&2; exit 1; }

scratch="${K8SENV_SCRATCH:-.build}"
mkdir -p "$scratch/fuzz/artifacts"
out="$(cd "$scratch/fuzz" && pwd)"
binary="$out/yaml-fuzzer"
artifacts="$out/artifacts"
log="$out/fuzz.log"

# --- 1. Build -------------------------------------------------------------------------------
mapfile -t sources < <(find Sources/K8sEnvSpec -name '*.swift' | LC_ALL=C sort)
build() {  # build SANITIZERS
  "$swiftc" -sanitize="$1" -parse-as-library -O -g \
    -module-name K8sEnvSpec -package-name main \
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
    "${sources[@]}" Fuzz/YAMLFuzzer/main.swift \
    -I Sources/CYAML -I Sources/COpenSSL \
    -Xcc -fmodule-map-file=Sources/CYAML/module.modulemap \
    -Xcc -fmodule-map-file=Sources/COpenSSL/module.modulemap \
    -lyaml -lcrypto -o "$binary.new" 2> "$out/build.log"
  local rc=$?
  # ld.gold warns about every ASan check thunk ("Cannot export local symbol"); the rest matters.
  grep -v "Cannot export local symbol" "$out/build.log" >&2 || true
  return $rc
}
sanitizers="${FUZZ_SANITIZERS:-fuzzer,address}"
echo "fuzz: building $binary (-sanitize=$sanitizers, ${#sources[@]} library sources)" >&2
if ! build "$sanitizers"; then
  if [[ -z "${FUZZ_SANITIZERS:-}" ]]; then
    sanitizers=fuzzer
    echo "fuzz: the build with AddressSanitizer failed; building with -sanitize=fuzzer alone" >&2
    build "$sanitizers" || { echo "fuzz: build failed (see $out/build.log)" >&2; exit 1; }
  else
    echo "fuzz: build failed (see $out/build.log)" >&2
    exit 1
  fi
fi
mv -f "$binary.new" "$binary"

# --- 2. Seed corpus ---------------------------------------------------------------------------
corpus="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-fuzz-corpus.XXXXXX")"
trap 'rm -rf "$corpus"' EXIT
seeds=0
while IFS= read -r -d '' file; do
  # Name by content: identical files collapse into one seed.
  cp "$file" "$corpus/$(sha1sum < "$file" | cut -c1-40)"
  seeds=$((seeds + 1))
done < <(
  for dir in Tests/K8sEnvSpecTests/Corpus examples; do
    [[ -d "$dir" ]] && find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0
  done
  [[ -d crds ]] && find crds -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' \) -print0
  find Tests/Fixtures/crds -type f \( -name '*.yaml' -o -name '*.yml' \) -print0
  true
)
echo "fuzz: seeded $corpus with $seeds files ($(find "$corpus" -type f | wc -l) distinct)" >&2

# --- 3. Fuzz --------------------------------------------------------------------------------
# Leak checking stays on, but the Swift regex runtime keeps its parse trees alive on purpose
# (the bundled schema's compiled patterns live for the whole process): not ours to report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/Fuzz/lsan.supp:print_suppressions=0}"

mode=()
[[ $keep_going -eq 1 ]] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)

before="$(find "$artifacts" -type f | LC_ALL=C sort)"
echo "fuzz: running $seconds s$([[ $keep_going -eq 1 ]] && echo ' (fork mode, keep going)'), log $log" >&2
set +e
# shellcheck disable=SC2086  # FUZZ_EXTRA_ARGS is a list of flags
"$binary" "$corpus" \
  -dict="$root/Fuzz/yaml.dict" \
  -max_len=65536 -timeout=10 -rss_limit_mb=2048 -max_total_time="$seconds" \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "${mode[@]}" ${FUZZ_EXTRA_ARGS:-} \
  2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

after="$(find "$artifacts" -type f | LC_ALL=C sort)"
new="$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')"
final="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
# Fork mode prints no final stats: the last status line's #N is the total.
[[ -n "$execs" ]] || execs="$(printf '%s\n' "$final" | sed -n 's/^#\([0-9]*\).*/\1/p')"
echo "fuzz: last status: ${final:-none}" >&2
echo "fuzz: executions: ${execs:-unknown}; sanitizers: $sanitizers" >&2
if [[ $rc -ne 0 || -n "$new" ]]; then
  echo "fuzz: libFuzzer found a problem (exit $rc). Input(s):" >&2
  if [[ -n "$new" ]]; then printf '  %s\n' "$new" >&2; else echo "  (none written; see $log)" >&2; fi
  echo "fuzz: reproduce with: $binary <input>   (see docs/how-to/fuzz.md)" >&2
  exit 1
fi
echo "fuzz: no crash in $seconds s" >&2
