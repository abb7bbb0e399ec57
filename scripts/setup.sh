#!/usr/bin/env bash
# setup.sh — everything k8senv needs on a fresh Debian machine, then a build.
#
# Usage: eval "$(scripts/setup.sh)"
#   Installs the C libraries (libyaml-dev, libssl-dev, libsqlite3-dev; zlib1g-dev, g++'s libstdc++,
#   binutils and debootstrap for the release build and its test) and the test clients
#   (python3 PyYAML and jsonschema, kubectl if apt has it, etcdctl and Debian's python3-etcd3 for
#   the store's tests; Go, pytest, pytest-xdist and python3-kubernetes for the clients' tests), makes kube-apiserver, kube-controller-manager and etcd available
#   (scripts/install-binaries.sh: env vars, PATH, the cache, or a build from Debian's source),
#   builds k8senv, and prints `export` lines: the binaries' K8SENV_* variables, K8SENV_SCRATCH
#   (the SwiftPM build folder) and PATH with k8senv on it.
#
#   K8SENV_SCRATCH   SwiftPM scratch path (default: $HOME/.cache/k8senv/swiftpm, reused across runs)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

missing=()
for pc in yaml-0.1:libyaml-dev openssl:libssl-dev sqlite3:libsqlite3-dev; do
  pkg-config --exists "${pc%%:*}" 2>/dev/null || missing+=("${pc##*:}")
done
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# The release build and its test (scripts/release.sh, scripts/test-install.sh): the static
# archives of zlib and libstdc++, strip and objdump, and debootstrap for the root without Swift.
[[ -f /usr/lib/x86_64-linux-gnu/libz.a ]] || missing+=(zlib1g-dev)
g++ -print-file-name=libstdc++.a 2>/dev/null | grep -q / || missing+=(g++)
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi

if ! command -v kubectl >/dev/null 2>&1; then
  log "apt-get install kubernetes-client (kubectl: the tests use it as an independent client)"
  "${SUDO[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq kubernetes-client >&2
fi

clients=()
command -v etcdctl >/dev/null 2>&1 || clients+=(etcd-client)
/usr/bin/python3 -c 'import etcd3' 2>/dev/null || clients+=(python3-etcd3)
if ((${#clients[@]})); then
  log "apt-get install ${clients[*]} (independent etcd clients for the store's tests)"
  "${SUDO[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${clients[@]}" >&2
fi

# The clients' toolchains and test tools (clients/): Debian's Go, pytest, pytest-xdist and the
# Kubernetes Python client, all for /usr/bin (offline builds: standard library only).
languages=()
[[ -x /usr/bin/go ]] || languages+=(golang-go)
/usr/bin/python3 -c 'import pytest' 2>/dev/null || languages+=(python3-pytest)
/usr/bin/python3 -c 'import xdist' 2>/dev/null || languages+=(python3-pytest-xdist)
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || languages+=(python3-kubernetes)
if ((${#languages[@]})); then
  log "apt-get install ${languages[*]} (the Go and Python clients' tests)"
  "${SUDO[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${languages[@]}" >&2
fi

if ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
  log "pip install PyYAML jsonschema"
  python3 -m pip install --quiet PyYAML jsonschema >&2 \
    || { "${SUDO[@]}" apt-get install -y -qq python3-yaml python3-jsonschema >&2; }
fi

exports="$(scripts/install-binaries.sh)"
eval "$exports"
printf '%s\n' "$exports"

scratch="${K8SENV_SCRATCH:-$HOME/.cache/k8senv/swiftpm}"
log "swift build --scratch-path $scratch"
swift build --scratch-path "$scratch" >&2
bin="$(swift build --scratch-path "$scratch" --show-bin-path)"
printf 'export K8SENV_SCRATCH=%q\n' "$scratch"
printf 'export K8SENV_BINARY=%q\n' "$bin/k8senv"
printf 'export PATH=%q:"$PATH"\n' "$bin"
