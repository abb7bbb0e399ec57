#!/usr/bin/env bash
# test-clients.sh — the Go and Python clients (clients/): their unit tests, then their
# integration tests against a real pool service: `k8senv up --detach` on
# clients/testdata/k8senv.yaml (isolation, a pool of 2, and audited, one instance with audit:),
# 20 parallel Go tests and 20 pytest tests on 4 xdist workers, and each client's audit test, on
# the embedded store; the Go ones once more on etcd. scripts/test.sh runs it;
# it expects scripts/setup.sh's exports (k8senv on PATH, the binaries' K8SENV_* variables).
set -euo pipefail
cd "$(dirname "$0")/.."

bash clients/test.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-clients.XXXXXX")"
config=clients/testdata/k8senv.yaml
stop() { k8senv down -f "$config" --state-dir "$work/state" >/dev/null 2>&1 || true; }
trap 'stop; rm -rf "$work"' EXIT
for storage in embedded etcd; do
  echo "test-clients: the clients against a pool service on $storage" >&2
  exports="$(K8SENV_STORAGE=$storage k8senv up --detach --quiet -f "$config" --state-dir "$work/state")"
  eval "$exports"
  clients="go python"
  [[ $storage == etcd ]] && clients=go
  K8SENV_CLIENTS="$clients" K8SENV_POOL_CR_VERSION=v1alpha1 bash clients/test.sh --integration
  k8senv down -f "$config" --state-dir "$work/state" >&2
done
