#!/usr/bin/env bash
# test.sh — the test command of the README: installs what the tests need (scripts/setup.sh),
# then runs every test suite against the real kube-apiserver: on the embedded store (the
# default storage), then the suites that start kube-apiserver once more on etcd, and once more on
# kine (k8senv-kine, the store behind kine's command line, so the runner's kine backend meets a
# real server); then the Go and Python clients against the pool service (scripts/test-clients.sh).
#
# Usage: scripts/test.sh [extra `swift test` arguments, e.g. --filter K8sEnvSpecTests]
#   With arguments, one run with them, on K8SENV_STORAGE (embedded, etcd or kine; default
#   embedded). Without, first the layout and format checks (scripts/check-suites.sh,
#   scripts/format.sh --lint), then every pass below.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tree's shape first, in seconds, before setup's build: a suite renamed or moved must not
# leave a pass below filtering by a name that no longer exists (it would run or skip nothing,
# silently), and the Swift is as scripts/format.sh writes it (each difference as FILE:LINE:COL).
if [[ $# -eq 0 ]]; then
  echo "test: the Tests/ layout and the names the passes filter by (scripts/check-suites.sh)" >&2
  scripts/check-suites.sh
  echo "test: the Swift formatted as .swift-format says (scripts/format.sh --lint)" >&2
  scripts/format.sh --lint
fi
# An assignment, not eval "$(…)": a failing setup (a build error) stops here with its own message.
exports="$(scripts/setup.sh)"
eval "$exports"
export K8SENV_REQUIRE_BINARIES=1
# Every test run is guarded: whatever it started and left running (after a crash, say) is
# listed, killed, and fails the run (scripts/lib/guard.sh).
source scripts/lib/guard.sh
if [[ $# -gt 0 ]]; then
  K8SENV_STORAGE="${K8SENV_STORAGE:-embedded}" guarded swift test --scratch-path "$K8SENV_SCRATCH" "$@"
  exit
fi
# Tests that start kube-apiservers take one of a few slots of the test process
# (Tests/K8sEnvTestSupport/IntegrationSlots.swift, K8SENV_TEST_SLOTS). On embedded the runner's
# suites still run apart: the spec's and the store's suites (fuzzing, the corpus, the store's own
# load) run unbounded at the start of the first pass and, together with every kube-apiserver
# start, left starts short of CPU for their timeout on 2 cores.
echo "test: every suite but the runner's and the stop stress, storage: embedded" >&2
K8SENV_STORAGE=embedded guarded swift test --scratch-path "$K8SENV_SCRATCH" --skip StopStressTests --skip RunStressTests --skip K8sEnvRunnerTests
echo "test: the runner's suites, storage: embedded" >&2
K8SENV_STORAGE=embedded guarded swift test --scratch-path "$K8SENV_SCRATCH" --skip-build --filter K8sEnvRunnerTests
# Alone, so its minutes of runs neither slow the other suites past their time limits nor are slowed.
echo "test: the stop stress (store cycles, k8senv run under clients), storage: embedded" >&2
K8SENV_STORAGE=embedded guarded swift test --scratch-path "$K8SENV_SCRATCH" --skip-build --filter StopStressTests --filter RunStressTests
# Once more on etcd and on kine: the suites whose subject meets the storage. Left out there, as
# their subject is the same on every storage and the embedded pass runs them: the docs run as
# written (the tutorial, ci.md's workflow, the GitHub Action's steps), `init`'s scaffolding, and
# the apply corpus (k8senv's requests against kubectl's), the install script, who may hold a
# lease, the pool API's HTTP server.
storage_independent=(--skip TutorialTests --skip CIWorkflowTests --skip ActionTests --skip InitTests --skip ApplyCorpusTests
  --skip InstallScriptTests --skip HolderTests --skip PoolHTTPServerTests)
echo "test: the suites that run kube-apiserver, storage: etcd" >&2
K8SENV_STORAGE=etcd guarded swift test --scratch-path "$K8SENV_SCRATCH" --skip-build --filter K8sEnvRunnerTests --filter k8senvTests \
  --skip RunStressTests "${storage_independent[@]}"
# On kine, also left out: the suites whose subject sits above the API server and is the same on
# every store (audit logs, kube-controller-manager, users and RBAC, webhooks, feature gates, the
# state folder); embedded and etcd run them. What kine changes (its process, its socket, its
# store, cleanup on release, bundles, diff) keeps its suites here.
above_the_store=(--skip AuditTests --skip AuditPoolTests --skip ControllerTests --skip ControllerPoolTests
  --skip UsersTests --skip WebhookRunTests --skip WebhookPoolTests --skip FeatureGateServerTests --skip StateTrustTests)
echo "test: the suites that run kube-apiserver, storage: kine (k8senv-kine)" >&2
K8SENV_STORAGE=kine K8SENV_KINE="$(dirname "$K8SENV_BINARY")/k8senv-kine" \
  guarded swift test --scratch-path "$K8SENV_SCRATCH" --skip-build --filter K8sEnvRunnerTests --filter k8senvTests \
  --skip RunStressTests "${storage_independent[@]}" "${above_the_store[@]}"
echo "test: the Go and Python clients, against the pool service on embedded and etcd" >&2
guarded scripts/test-clients.sh
# The release (scripts/release.sh: static, its own build folder, incremental) on a machine without
# Swift: a debootstrap'd Debian root, install.sh, the example, the wheel's pytest fixture.
echo "test: the release tarball and wheel in a Debian root without Swift (scripts/test-install.sh)" >&2
guarded scripts/test-install.sh
