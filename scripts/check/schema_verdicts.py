#!/usr/bin/env python3
"""Independent schema check: validates configs with Python's jsonschema.

Usage: schema_verdicts.py SCHEMA FILE...

Each FILE is read with PyYAML's safe_load and validated against SCHEMA (JSON Schema
2020-12) by jsonschema's Draft202012Validator. Prints one JSON object per line:
  {"file": FILE, "verdict": "valid" | "invalid" | "yaml-error", "detail": "..."}
The Swift tests (Tests/K8sEnvSpecTests/Schema/IndependentChecksTests.swift) compare these verdicts
with k8senv's own.
"""
import json
import sys

import jsonschema
import yaml


def verdict(schema_validator, path):
    try:
        with open(path, "rb") as f:
            data = yaml.safe_load(f)
    except Exception as error:  # PyYAML raises YAMLError, ValueError (e.g. !!int "x"), ...
        return "yaml-error", f"{type(error).__name__}: {error}".splitlines()[0]
    errors = sorted(schema_validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        return "invalid", f"{where}: {first.message}"
    return "valid", ""


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in argv[1:]:
        v, detail = verdict(validator, path)
        print(json.dumps({"file": path, "verdict": v, "detail": detail}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
