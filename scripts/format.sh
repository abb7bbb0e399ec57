#!/usr/bin/env bash
# format.sh — formats the package's Swift in place with the toolchain's swift-format and the
# repository's .swift-format (4 spaces, 120 columns; CONTRIBUTING.md says why each rule that is
# off is off): Sources/, Tests/, Benchmarks/, Fuzz/ and Package.swift, but not the generated files
# (protoc's Sources/K8sEnvStore/Generated/ from scripts/gen-etcd-proto.sh, and
# Sources/K8sEnvSpec/Schema/BundledSchema.swift from scripts/embed-schema.sh, which a test compares
# with the schema byte for byte): their scripts write them. Running it again changes nothing.
#
# Usage: scripts/format.sh          format in place
#        scripts/format.sh --lint   change nothing: print every line the formatter would change or
#                                   a rule rejects as FILE:LINE:COL, and exit 1 if there is one
#                                   (scripts/test.sh runs this)
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."

files=()
while IFS= read -r -d '' file; do files+=("$file"); done < <(
  find Sources Tests Benchmarks Fuzz -name '*.swift' -not -path 'Sources/K8sEnvStore/Generated/*' \
    -not -path Sources/K8sEnvSpec/Schema/BundledSchema.swift -print0 | sort -z)
files+=(Package.swift)

case "${1:-}" in
  "")
    swift format format --configuration .swift-format --in-place --parallel "${files[@]}"
    ;;
  --lint)
    if ! swift format lint --configuration .swift-format --strict --parallel "${files[@]}"; then
      echo "format: the lines above are not as scripts/format.sh writes them (run it, or fix what it cannot: CONTRIBUTING.md)" >&2
      exit 1
    fi
    echo "format: ${#files[@]} files as .swift-format writes them" >&2
    ;;
  *)
    echo "format: unknown argument $1 (scripts/format.sh [--lint])" >&2
    exit 2
    ;;
esac
