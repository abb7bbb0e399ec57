#!/usr/bin/env bash
# check-suites.sh — the Tests/ layout and the suite names the scripts filter by, checked without
# a build (scripts/test.sh runs it first; CONTRIBUTING.md describes the layout):
#   - a file of a test target that declares a @Suite declares one, and is named as it
#     (Tests/K8sEnvRunnerTests/Pool/PoolQueueTests.swift holds `struct PoolQueueTests`);
#   - every `--skip NAME` and `--filter NAME` in scripts/ and .ci/ names a suite or a test target
#     that exists: `swift test` runs or skips nothing for a name that matches nothing, so a
#     renamed suite would silently leave a pass without its tests or with tests it meant to skip.
# Prints each problem as FILE:LINE: what, and exits 1 if there is one.
#
# Usage: scripts/check-suites.sh
set -euo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."

problems=0
problem() { printf '%s\n' "$*" >&2; problems=$((problems + 1)); }

# The test targets: folders of Tests/ named *Tests (K8sEnvTestSupport is a library target).
targets=()
for dir in Tests/*Tests/; do targets+=("$(basename "$dir")"); done

# Every suite: FILE LINE NAME, for each type declared with a @Suite attribute (which may span
# lines: from a line starting with @Suite, the first `struct|class|enum|actor NAME ... {`).
suites_file=$(mktemp)
trap 'rm -f "$suites_file"' EXIT
for target in "${targets[@]}"; do
  find "Tests/$target" -name '*.swift' -print0 | sort -z | xargs -0 -r awk '
    FNR == 1 { pending = 0 }
    /^[ \t]*@Suite/ { pending = 1 }
    pending && match($0, /(^|[ \t)])((public|internal|package|private|fileprivate|final)[ \t]+)*(struct|class|enum|actor)[ \t]+[A-Za-z_][A-Za-z0-9_]*[^{"]*\{/) {
      decl = substr($0, RSTART, RLENGTH); sub(/[ \t]*(:[^{]*)?\{$/, "", decl); n = split(decl, words, /[ \t]+/)
      print FILENAME, FNR, words[n]; pending = 0
    }' >>"$suites_file"
done

# One suite a file, named as the file.
while read -r file count; do
  if [[ $count -gt 1 ]]; then
    problem "$file:1: $count suites in one file ($(awk -v f="$file" '$1 == f { printf "%s%s", sep, $3; sep = ", " }' "$suites_file")): give each a file of its own, named as the suite"
  fi
done < <(awk '{ n[$1]++ } END { for (f in n) print f, n[f] }' "$suites_file" | sort)
while read -r file line name; do
  base=$(basename "$file" .swift)
  [[ $base == "$name" ]] || problem "$file:$line: suite $name is in $base.swift: name the file $name.swift"
done <"$suites_file"
dupes=$(awk '{ print $3 }' "$suites_file" | sort | uniq -d)
for name in $dupes; do
  problem "$(awk -v n="$name" '$3 == n { printf "%s%s:%s", sep, $1, $2; sep = " and " }' "$suites_file"): two suites named $name (--filter and --skip could not tell them apart)"
done

# The names given to --skip and --filter: plain names only (a "$variable" or a regular
# expression is not checked).
known=" ${targets[*]} $(awk '{ printf "%s ", $3 }' "$suites_file")"
while IFS=: read -r file line text; do
  while read -r name; do
    [[ -n $name ]] || continue
    [[ $known == *" $name "* ]] || problem "$file:$line: $name (after --skip or --filter) names no suite and no test target under Tests/"
  done < <(grep -oE -- '--(skip|filter)[ =]+[A-Za-z_][A-Za-z0-9_]*([^A-Za-z0-9_./*|()\\[]|$)' <<<"$text" \
             | sed -E 's/^--(skip|filter)[ =]+//; s/[^A-Za-z0-9_]$//')
done < <(grep -rnE -- '--(skip|filter)[ =]+[A-Za-z_]' scripts .ci action.yml 2>/dev/null | grep -v '^scripts/check-suites.sh:')

if [[ $problems -gt 0 ]]; then
  echo "check-suites: $problems problem(s) (Tests/ layout and suite names: CONTRIBUTING.md)" >&2
  exit 1
fi
echo "check-suites: $(wc -l <"$suites_file") suites in ${#targets[@]} test targets, one a file; every --skip/--filter names one" >&2
