#!/usr/bin/env bash
# bench-yaml.sh — YAML-to-JSON throughput, a benchmark (not a test). In one run, on the same
# input, prints:
#   yaml-input files=N bytes=B copies=C
#   libyaml-events libyaml_events_MBps=X          (raw yaml_parser_parse loop, C, -O2)
#   k8senv-json k8senv_MBps=X                     (k8senv json --count: parse + resolve + JSON)
#   pyyaml-csafe pyyaml_csafe_MBps=X              (yaml.load_all CSafeLoader -> compact json.dumps)
#   yaml-to-json k8senv_MBps=.. pyyaml_csafe_MBps=.. libyaml_events_MBps=.. ratio_vs_pyyaml=..x ratio_vs_libyaml=..x
#   validate-example median_ms=X runs=20
#
# Usage: scripts/bench/bench-yaml.sh [CRD_FOLDER] [--mb N] [--runs N]
#   CRD_FOLDER  YAML input: every .yaml/.yml file below it (default Tests/Fixtures/crds,
#               relative to the repository root), concatenated in memory into one multi-document
#               stream, repeated until it is at least --mb megabytes (default 20), written once.
#   --runs N    runs per tool; the median is reported (default 5).
#
# Each figure is input megabytes (10^6 bytes) over the wall time of a whole process (start-up
# included, nothing subtracted), timed with Python's time.perf_counter around subprocess.run.
# k8senv is built first with `swift build -c release --scratch-path "${K8SENV_SCRATCH:-.build}"`
# (the first build takes a few minutes). Needs cc and libyaml-dev (yaml.h, -lyaml), python3 with
# PyYAML built against libyaml (yaml.CSafeLoader).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

folder="Tests/Fixtures/crds" mb=20 runs=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mb) mb="${2:?--mb needs a number}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$root/scripts/bench/bench-yaml.sh"; exit 0 ;;
    -*) echo "bench-yaml: unknown option: $1" >&2; exit 2 ;;
    *) folder="$1"; shift ;;
  esac
done
[[ "$mb" =~ ^[1-9][0-9]*$ ]] || { echo "bench-yaml: --mb must be a positive integer" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-yaml: --runs must be a positive integer" >&2; exit 2; }
[[ -d "$folder" ]] || { echo "bench-yaml: no folder $folder" >&2; exit 2; }
command -v cc >/dev/null || { echo "bench-yaml: cc not found" >&2; exit 1; }
python3 -c 'import yaml; yaml.CSafeLoader' 2>/dev/null \
  || { echo "bench-yaml: python3 with PyYAML built against libyaml (CSafeLoader) is needed" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-bench-yaml.XXXXXX")"
trap 'rm -rf "$work"' EXIT

scratch="${K8SENV_SCRATCH:-.build}"
echo "bench-yaml: building k8senv (swift build -c release --scratch-path $scratch)" >&2
swift build -c release --product k8senv --scratch-path "$scratch" >&2
k8senv="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/k8senv"
[[ -x "$k8senv" ]] || { echo "bench-yaml: $k8senv was not built" >&2; exit 1; }

# The raw libyaml baseline: parse events and drop them, nothing else.
cat > "$work/events.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: events FILE\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? n : 1);
    if (!buf || fread(buf, 1, n, f) != (size_t)n) { fprintf(stderr, "read failed\n"); return 1; }
    fclose(f);
    yaml_parser_t parser; yaml_event_t event; long events = 0; int done = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, buf, n);
    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) {
            fprintf(stderr, "parse error: %s at line %lu\n", parser.problem, (unsigned long)parser.problem_mark.line + 1);
            return 1;
        }
        done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        events++;
    }
    yaml_parser_delete(&parser);
    printf("events=%ld\n", events);
    return 0;
}
C
# shellcheck disable=SC2046
cc -O2 -o "$work/events" "$work/events.c" $(pkg-config --cflags --libs yaml-0.1 2>/dev/null || echo -lyaml)

cat > "$work/pyyaml_json.py" <<'PY'
import json, sys, yaml
with open(sys.argv[1], "rb") as f:
    data = f.read()
out = 0
for doc in yaml.load_all(data, Loader=yaml.CSafeLoader):
    if doc is not None:
        out += len(json.dumps(doc, default=str, separators=(",", ":"), ensure_ascii=False).encode())
print(f"bytes_out={out}")
PY

K8SENV="$k8senv" WORK="$work" FOLDER="$folder" MB="$mb" RUNS="$runs" python3 - <<'PY'
import os, pathlib, statistics, subprocess, sys, time

k8senv, work, folder = os.environ["K8SENV"], pathlib.Path(os.environ["WORK"]), pathlib.Path(os.environ["FOLDER"])
target, runs = int(os.environ["MB"]) * 1_000_000, int(os.environ["RUNS"])

files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith("."))
if not files:
    sys.exit(f"bench-yaml: no .yaml/.yml files below {folder}")
chunks = []
for p in files:
    b = p.read_bytes()
    if not b.startswith(b"---"):
        b = b"---\n" + b
    if not b.endswith(b"\n"):
        b += b"\n"
    chunks.append(b)
one = b"".join(chunks)
copies = max(1, -(-target // len(one)))
data = one * copies
path = work / "input.yaml"
path.write_bytes(data)
mb = len(data) / 1e6
print(f"yaml-input files={len(files)} bytes={len(data)} copies={copies}", flush=True)

def median_seconds(argv, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = time.perf_counter()
        if r.returncode != 0:
            sys.exit(f"bench-yaml: {' '.join(argv)} failed ({r.returncode}): {r.stderr.decode(errors='replace')[-2000:]}")
        times.append(t1 - t0)
    return statistics.median(times), r.stdout.decode().strip()

lib_s, lib_out = median_seconds([str(work / "events"), str(path)], runs)
print(f"libyaml-events libyaml_events_MBps={mb / lib_s:.1f} median_s={lib_s:.3f} {lib_out}", flush=True)
k_s, k_out = median_seconds([k8senv, "json", "--count", str(path)], runs)
print(f"k8senv-json k8senv_MBps={mb / k_s:.1f} median_s={k_s:.3f} {k_out}", flush=True)
py_s, py_out = median_seconds([sys.executable, str(work / "pyyaml_json.py"), str(path)], runs)
print(f"pyyaml-csafe pyyaml_csafe_MBps={mb / py_s:.1f} median_s={py_s:.3f} {py_out}", flush=True)

k, p, l = mb / k_s, mb / py_s, mb / lib_s
print(f"yaml-to-json k8senv_MBps={k:.1f} pyyaml_csafe_MBps={p:.1f} libyaml_events_MBps={l:.1f} "
      f"ratio_vs_pyyaml={k / p:.1f}x ratio_vs_libyaml={k / l:.2f}x", flush=True)

example = "examples/k8senv.yaml"
if os.path.exists(example):
    v_s, _ = median_seconds([k8senv, "validate", "-f", example], 20)
    print(f"validate-example median_ms={v_s * 1000:.1f} runs=20 file={example}", flush=True)
PY
