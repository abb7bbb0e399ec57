#!/usr/bin/env bash
# test.sh — the test command of the README: installs what the tests need (scripts/setup.sh),
# then runs every test suite against the real kube-apiserver and etcd.
#
# Usage: scripts/test.sh [extra `swift test` arguments, e.g. --filter K8sEnvSpecTests]
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh)"
export K8SENV_REQUIRE_BINARIES=1
exec swift test --scratch-path "$K8SENV_SCRATCH" "$@"
