#!/usr/bin/env bash
# go-offline.sh — run a Go command with client-go and the k8senv Go clients importable, offline
# (no module proxy, no network), with Debian's golang-go (1.19 or later).
#
# Usage:
#   scripts/go-offline.sh DIR CMD [ARGS...]
#
#   scripts/go-offline.sh clients/go/envtest go test ./...
#   scripts/go-offline.sh clients/go/envtest go vet ./...
#   scripts/go-offline.sh /tmp/snippet go vet .        # a folder of .go files, with or without go.mod
#   scripts/go-offline.sh /tmp/snippet go run .
#
# Runs CMD in DIR (a Go package folder) with these import paths resolvable:
#   k8s.io/client-go/..., k8s.io/apimachinery/..., k8s.io/api/..., and every other package the
#     Kubernetes source vendors (its vendor/ folder; k8s.io/* are its staging/ modules)
#   github.com/k8senv/k8senv/clients/go             this checkout's clients/go
#   github.com/k8senv/k8senv/clients/go/envtest     this checkout's clients/go/envtest
#
# How: GOPATH mode (GO111MODULE=off) over two GOPATH roots in
# ${XDG_CACHE_HOME:-$HOME/.cache}/k8senv/go-offline: one whose src/ is a symlink to the
# Kubernetes source's vendor/ folder, one whose src/github.com/k8senv/k8senv is a symlink to this
# checkout. A go.mod in DIR is ignored (its requirements are these). A DIR inside this checkout
# is entered through the second root, so its packages have their real import paths
# (github.com/k8senv/k8senv/clients/go/envtest), not "_/abs/path". The paths are stable, so the
# build cache (GOCACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/k8senv/go-build) stays warm.
#
# The Kubernetes source is the one scripts/install-binaries.sh unpacks (Debian's kubernetes
# source package, ~/.cache/k8senv/src/kubernetes-*; K8SENV_KUBERNETES_SRC names another):
# client-go v0.20.2. GO names the toolchain (default: go on PATH).
# Exit status: CMD's; 2 for a usage error or when the Kubernetes source is missing.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "go-offline: $*" >&2; exit 2; }

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [[ $# -lt 2 ]]; then
  echo "go-offline: expected a folder and a command" >&2
  usage >&2
  exit 2
fi
dir=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
# shellcheck source=lib/kube-src.sh source-path=SCRIPTDIR
source "$here/lib/kube-src.sh"

[[ -d $dir ]] || die "$dir is not a folder"
dir=$(cd "$dir" && pwd -P)

ksrc=$(resolve_kube_src) || die "no unpacked Kubernetes source (client-go comes from its vendor/ folder): \
none in $(kube_src_dir) and K8SENV_KUBERNETES_SRC is ${K8SENV_KUBERNETES_SRC:-not set}; \
scripts/install-binaries.sh unpacks it (apt-get source kubernetes) when it builds kube-apiserver"
[[ -d $ksrc/vendor/k8s.io/client-go && -f $ksrc/vendor/modules.txt ]] \
  || die "$ksrc has no vendor/k8s.io/client-go: not a Kubernetes source tree with its vendor folder"
# Kubernetes 1.20 vendors modern-go/reflect2 v1.0.1, which crashes under Go >= 1.18 (json-iterator
# encoding a custom resource); install-binaries.sh swaps in v1.0.2 when it builds from the tree.
if grep -q '^# github.com/modern-go/reflect2 v1.0.1' "$ksrc/vendor/modules.txt"; then
  die "$ksrc vendors github.com/modern-go/reflect2 v1.0.1, which crashes under Go >= 1.18; \
build kube-apiserver from it once (scripts/install-binaries.sh) to replace it with v1.0.2"
fi

# The GOPATH roots: a folder of this user's own, not a symlink, that nobody else may write to.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/k8senv
root=$cache/go-offline
(umask 077 && mkdir -p "$root")
[[ ! -L $root && -d $root ]] || die "$root is not a real folder"
read -r owner mode < <(stat -c '%u %a' "$root")
[[ $owner == "$(id -u)" ]] || die "$root is owned by uid $owner, not you (uid $(id -u))"
(( (8#$mode & 8#022) == 0 )) || die "$root may be written by its group or others (mode $mode)"

# link TARGET LINK: LINK is a symlink to TARGET (made or replaced atomically).
link() {
  local target=$1 name=$2
  [[ -L $name && $(readlink "$name") == "$target" ]] && return 0
  [[ ! -e $name || -L $name ]] || die "$name exists and is not a symlink"
  mkdir -p "$(dirname "$name")"
  ln -s "$target" "$name.$$"
  mv -T "$name.$$" "$name"
}
vendor_root=$root/kubernetes
repo_root=$root/repo-$(printf '%s' "$repo" | sha256sum | cut -c1-12)
link "$ksrc/vendor" "$vendor_root/src"
link "$repo" "$repo_root/src/github.com/k8senv/k8senv"

workdir=$dir
case "$dir/" in
  "$repo"/*) workdir=$repo_root/src/github.com/k8senv/k8senv${dir#"$repo"} ;;
esac
cd "$workdir" # logically: the go command takes the import path from $PWD

export GO111MODULE=off GOPROXY=off GOFLAGS= GOWORK=off GONOSUMDB= GOSUMDB=off
export GOPATH=$repo_root:$vendor_root
export GOCACHE=${GOCACHE:-$cache/go-build}
if [[ $1 == go && -n ${GO:-} ]]; then
  shift
  exec "$GO" "$@"
fi
exec "$@"
