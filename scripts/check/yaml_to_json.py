#!/usr/bin/env python3
"""Independent YAML-to-JSON check: `k8senv json FILE` against PyYAML's safe_load_all.

Usage: yaml_to_json.py K8SENV FILE...

For each FILE, runs `K8SENV json FILE` (one JSON document a line; empty documents omitted)
and loads the same bytes with PyYAML (safe_load_all, None documents omitted), then compares
the parsed values strictly (a boolean is not a number; integers and floats compare by value,
since JSON has one number type).

kubectl reads YAML with go-yaml v2 (YAML 1.1 with Go's number syntax); PyYAML implements
YAML 1.1 as written. These, and only these, differences are deliberate (docs/reference/yaml.md):

  y-n-booleans      y, Y, n, N are booleans for kubectl, strings for PyYAML
  go-float-syntax   1e3, 1.0e3, +.5 (Go's float syntax: no dot, unsigned exponent, signed
                    leading dot) are floats for kubectl, strings for PyYAML
  0o-octal          0o17 is 15 for kubectl (Go's prefix), a string for PyYAML
  leading-zero      08, 09 (a leading zero, not octal) are floats for kubectl, strings for PyYAML
  sexagesimal       1:20 is a string for kubectl, 80 for PyYAML
  timestamps        2001-12-14 is a string for kubectl, a date for PyYAML
  duplicate-keys    k8senv rejects duplicate keys; PyYAML keeps the last value

Plain, untagged scalars that fall in the first six are resolved the kubectl way before
PyYAML constructs them (each such use is recorded); a file that k8senv rejects for a
duplicate key that PyYAML's tree really has is skipped (and recorded). Everything else
must be equal. Prints one JSON summary:
  {"files", "documents", "equal", "bothFailed", "mismatches": [{"file", "detail"}],
   "skipped": {CATEGORY: ["file:line:col", ...]}}
Exit status 0 when there are no mismatches, 1 otherwise.
"""
import json
import math
import re
import subprocess
import sys

import yaml

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
GO_OCTAL_O = re.compile(r"^[-+]?0o[0-7]+$")


class PlainTrackingLoader(yaml.SafeLoader):
    """SafeLoader that marks scalars written plain and without a tag (the only ones implicit
    resolution applies to)."""

    def compose_scalar_node(self, anchor):
        event = self.peek_event()
        node = super().compose_scalar_node(anchor)
        node.implicit_plain = event.tag is None and event.style is None
        return node


def kubectl_resolution(node):
    """(category, tag, value) when kubectl resolves this plain scalar differently from
    PyYAML in one of the documented ways, else None."""
    text = node.value
    plain = text.replace("_", "")
    if text in ("y", "Y", "n", "N"):
        return "y-n-booleans", BOOL, "true" if text in ("y", "Y") else "false"
    if node.tag == TIMESTAMP:
        return "timestamps", STR, text
    if node.tag in (INT, FLOAT) and ":" in text:
        return "sexagesimal", STR, text
    if node.tag == STR and GO_OCTAL_O.match(plain):
        sign = -1 if plain.startswith("-") else 1
        return "0o-octal", INT, str(sign * int(plain.lstrip("+-")[2:], 8))
    if node.tag == STR and GO_FLOAT.match(plain):
        category = "leading-zero" if re.match(r"^[-+]?0[0-9]+$", plain) else "go-float-syntax"
        return category, FLOAT, repr(float(plain))
    return None


def adjust(node, file, skipped, seen):
    """Applies kubectl's resolution in place, recording each use."""
    if id(node) in seen:  # aliases share nodes
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if getattr(node, "implicit_plain", False):
            found = kubectl_resolution(node)
            if found:
                category, tag, value = found
                mark = node.start_mark
                skipped.setdefault(category, []).append(f"{file}:{mark.line + 1}:{mark.column + 1}")
                node.tag, node.value = tag, value
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            adjust(item, file, skipped, seen)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            adjust(key, file, skipped, seen)
            adjust(value, file, skipped, seen)


def has_duplicate_key(node, loader, seen=None):
    seen = set() if seen is None else seen
    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and not (key.tag == "tag:yaml.org,2002:merge"):
                k = json_key(loader.construct_object(key, deep=True))
                if k in keys:
                    mark = key.start_mark
                    return f"{mark.line + 1}:{mark.column + 1}"
                keys[k] = True
        children = [c for pair in node.value for c in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        return None
    for child in children:
        found = has_duplicate_key(child, loader, seen)
        if found:
            return found
    return None


def json_key(value):
    return next(iter(json.loads(json.dumps({value: 0}))))  # as JSON writes it: True -> "true", 1 -> "1"


def load_pyyaml(path, skipped):
    """The documents of the file as PyYAML reads them, kubectl's resolution applied."""
    with open(path, "rb") as f:
        data = f.read()
    loader = PlainTrackingLoader(data)
    documents = []
    duplicate = None
    try:
        while loader.check_node():
            node = loader.get_node()
            adjust(node, path, skipped, set())
            duplicate = duplicate or has_duplicate_key(node, loader)
            documents.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return [d for d in documents if d is not None], duplicate


def same(a, b, where="$"):
    """None when equal, else where and how they differ."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if type(a) is type(b) and a == b else f"{where}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return f"{where}: NaN"
        return None if a == b else f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys {sorted(set(a) ^ set(b))!r} differ"
        for k in a:
            d = same(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if type(a) is type(b) and a == b else f"{where}: {a!r} != {b!r}"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    k8senv, files = argv[0], argv[1:]
    summary = {"files": len(files), "documents": 0, "equal": 0, "bothFailed": [], "mismatches": [], "skipped": {}}
    skipped = summary["skipped"]
    for path in files:
        run = subprocess.run([k8senv, "json", path], capture_output=True)
        ours_failed = run.returncode != 0
        our_error = run.stderr.decode(errors="replace").strip().splitlines()[:1]
        try:
            file_skips = {}
            theirs, duplicate = load_pyyaml(path, file_skips)
            # Through JSON, as the API server would see it (keys become strings).
            theirs = [json.loads(json.dumps(d, allow_nan=True)) for d in theirs]
            pyyaml_error = None
        except Exception as error:
            theirs, duplicate, pyyaml_error = None, None, f"{type(error).__name__}: {error}".splitlines()[0]
        if ours_failed and pyyaml_error:
            summary["bothFailed"].append(path)
            continue
        if ours_failed and duplicate and our_error and "duplicate key" in our_error[0]:
            skipped.setdefault("duplicate-keys", []).append(f"{path}:{duplicate}")
            continue
        if ours_failed:
            summary["mismatches"].append({"file": path, "detail": "k8senv failed, PyYAML did not: " + " ".join(our_error)})
            continue
        if pyyaml_error:
            summary["mismatches"].append({"file": path, "detail": "PyYAML failed, k8senv did not: " + pyyaml_error})
            continue
        for category, places in file_skips.items():
            skipped.setdefault(category, []).extend(places)
        ours = [json.loads(line) for line in run.stdout.decode().splitlines() if line.strip()]
        difference = same(ours, theirs)
        if difference:
            summary["mismatches"].append({"file": path, "detail": difference})
        else:
            summary["equal"] += 1
            summary["documents"] += len(ours)
    print(json.dumps(summary, indent=1))
    return 1 if summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
