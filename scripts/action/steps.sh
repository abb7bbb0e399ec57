#!/usr/bin/env bash
# steps.sh — the shell steps of the k8senv GitHub Action (action.yml at the repository root).
#
# Usage: scripts/action/steps.sh STEP    (action.yml runs one STEP per `run:` step, in this order)
#   build-key   outputs `key` (the cache key of k8senv: its release, or its build from source)
#               and `dir` (where it is kept)
#   build       uses the k8senv in `dir` if the cache restored it; else downloads the release
#               (scripts/install.sh: the tarball and its .sha256 from K8SENV_RELEASE_URL or GitHub,
#               checked) or, with `version: source` (or no release to name), builds it (swift build
#               -c release); appends `dir` to $GITHUB_PATH; outputs `k8senv` and `built` (true when
#               downloaded or built now, for the cache to save)
#   binaries-key  outputs `key` (the downloaded kube-apiserver's cache key: its version and the
#               machine) and `dir` (install-binaries.sh's folder of binaries)
#   install     kube-apiserver (downloaded, sha256-checked) and etcd via scripts/install-binaries.sh;
#               each K8SENV_* binary must be an executable, else the step fails; writes them,
#               K8SENV_STORAGE and K8SENV_KUBE_VERSION to $GITHUB_ENV; outputs `downloaded`
#               (true when kube-apiserver was downloaded now, for the cache to save)
#   key         outputs `key` (the snapshots' cache key: `k8senv hash` of the config and profile,
#               and an id of K8SENV_BUNDLE_KEY, so that another key is another entry), `dir` (the
#               folder of bundles the cache holds) and `cache` (true when K8SENV_BUNDLE_KEY is set:
#               without it no other runner could verify the bundles, so none are restored or saved)
#   snapshots   imports the restored bundles (`k8senv cache import -f`, which checks their keys
#               and their signatures under K8SENV_BUNDLE_KEY); on a miss or a refusal builds the
#               snapshots (`k8senv run -- true`) and, with a K8SENV_BUNDLE_KEY, exports them as
#               bundles signed with it; outputs `cache-hit` and `save` (true when there are new
#               bundles to save)
#
# Inputs arrive as the runner gives them to a composite action's step: through the step's env,
# INPUT_VERSION, K8SENV_ACTION_REF (the action's own ref), INPUT_CONFIG, INPUT_PROFILE, INPUT_KUBE_VERSION,
# INPUT_STORAGE, INPUT_WORKING_DIRECTORY, INPUT_BUILD_SNAPSHOTS, and the bundle-key input as
# K8SENV_BUNDLE_KEY (key and snapshots steps only) (set in action.yml from `${{ inputs.… }}`).
# GitHub's files: GITHUB_OUTPUT,
# GITHUB_ENV, GITHUB_PATH; GITHUB_ACTION_PATH is k8senv's source (the action's checkout).
set -euo pipefail

ROOT="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/../.." && pwd)}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/k8senv"

log() { printf 'k8senv action: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  # A workflow command: GitHub shows it as an annotation on the run.
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::error title=k8senv::%s\n' "$*"; fi
  exit 1
}
need_file() { [[ -n "${!1:-}" ]] || die "$1 is not set (this script runs as a step of action.yml)"; }
output() { need_file GITHUB_OUTPUT; printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"; }
export_env() {
  need_file GITHUB_ENV
  [[ "$2" != *$'\n'* ]] || die "$1 has a newline in its value"
  printf '%s=%s\n' "$1" "$2" >> "$GITHUB_ENV"
  export "$1=$2"
}
# The config and profile arguments of every k8senv command, from the inputs.
config_args() {
  CONFIG_ARGS=(-f "${INPUT_CONFIG:-k8senv.yaml}")
  if [[ -n "${INPUT_PROFILE:-}" ]]; then CONFIG_ARGS+=(--profile "$INPUT_PROFILE"); fi
}
enter_working_directory() {
  cd "${INPUT_WORKING_DIRECTORY:-.}" || die "working-directory ${INPUT_WORKING_DIRECTORY} does not exist"
  [[ -f "${INPUT_CONFIG:-k8senv.yaml}" ]] || die "config ${INPUT_CONFIG:-k8senv.yaml} not found in $(pwd)"
}

# The release the build step downloads, or nothing for a build from source: the `version` input
# (`source`: build), else the action's own ref when it is a release tag (vX.Y.Z); a branch, a
# commit or a moving tag such as v1 names no release, so those build from source.
release_version() {
  local version="${INPUT_VERSION:-}"
  if [[ -z "$version" ]]; then
    if [[ "${K8SENV_ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]]; then version="$K8SENV_ACTION_REF"; else version=source; fi
  fi
  [[ "$version" == source ]] && return 0
  [[ "$version" =~ ^v?[0-9A-Za-z][0-9A-Za-z.+-]*$ ]] || die "version \"$version\" is neither a release (e.g. 0.2.0) nor source"
  printf '%s\n' "${version#v}"
}

# The key: the release and the machine; or, built from source, k8senv's own sources (an action
# arrives as a tarball without .git, and a tag such as v1 moves, so the content is the commit),
# the toolchain and the machine.
step_build_key() {
  local sources toolchain release
  release="$(release_version)"
  if [[ -n "$release" ]]; then
    output key "k8senv-release-$release-$(uname -s)-$(uname -m)"
    output dir "$CACHE_ROOT/action/release-$release/bin"
    return
  fi
  sources="$(cd "$ROOT" && find Package.swift Sources -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  toolchain="$( (swift --version 2>/dev/null || echo no-swift) | head -n1 | sha256sum | cut -c1-8)"
  output key "k8senv-build-$(uname -s)-$(uname -m)-$toolchain-$sources"
  output dir "$CACHE_ROOT/action/bin"
}

# shellcheck source=../lib/apt.sh
source "$ROOT/scripts/lib/apt.sh"

step_build() {
  local dir="${K8SENV_BUILD_DIR:?K8SENV_BUILD_DIR (the dir output of the build-key step) is not set}" built=false bin release
  release="$(release_version)"
  mkdir -p "$dir"
  if [[ -n "$release" ]]; then
    if [[ -x "$dir/k8senv" ]] && "$dir/k8senv" --version >/dev/null 2>&1; then
      log "k8senv $release from the cache ($dir)"
    else
      log "downloading k8senv $release (no Swift build; version: source builds it)"
      # install.sh installs to PREFIX/bin: dir is .../release-VERSION/bin.
      sh "$ROOT/scripts/install.sh" --version "$release" --prefix "${dir%/bin}" >&2 || die "could not install the k8senv $release release (above)"
      built=true
    fi
    printf '%s\n' "$dir" >> "${GITHUB_PATH:?GITHUB_PATH is not set}"
    output k8senv "$dir/k8senv"
    output built "$built"
    return
  fi
  if [[ -x "$dir/k8senv" ]] && ! "$dir/k8senv" --version >/dev/null 2>&1; then
    apt_install libyaml-0-2 libssl3 libsqlite3-0   # a restored build on a fresh runner: its libraries
  fi
  if [[ -x "$dir/k8senv" ]] && "$dir/k8senv" --version >/dev/null 2>&1; then
    log "k8senv $("$dir/k8senv" --version) from the build cache ($dir)"
  else
    command -v swift >/dev/null 2>&1 || die "swift not found: run the job in a Swift image (container: swift:6.3-bookworm) or install Swift 6.3 first"
    apt_install libyaml-dev libssl-dev libsqlite3-dev pkg-config
    log "building k8senv from $ROOT (swift build -c release)"
    swift build -c release --package-path "$ROOT" --product k8senv >&2 || die "swift build failed (above)"
    bin="$(swift build -c release --package-path "$ROOT" --show-bin-path)"
    [[ -x "$bin/k8senv" ]] || die "swift build made no $bin/k8senv"
    cp "$bin/k8senv" "$dir/k8senv.tmp" && mv -f "$dir/k8senv.tmp" "$dir/k8senv"
    built=true
  fi
  printf '%s\n' "$dir" >> "${GITHUB_PATH:?GITHUB_PATH is not set}"
  output k8senv "$dir/k8senv"
  output built "$built"
}

kube_version() {
  if [[ -n "${INPUT_KUBE_VERSION:-}" ]]; then export K8SENV_KUBE_VERSION="$INPUT_KUBE_VERSION"; fi
  "$ROOT/scripts/install-binaries.sh" --kube-version
}

step_binaries_key() {
  output key "k8senv-binaries-$(uname -s)-$(uname -m)-$(kube_version)"
  output dir "$CACHE_ROOT/bin"
}

step_install() {
  local exports name version before
  version="$(kube_version)"
  before="$(ls "$CACHE_ROOT/bin/" 2>/dev/null | grep -c "^kube-apiserver-$version-" || true)"
  # Download with its sha256 checked; no 7-minute source build on a runner: a failed download
  # fails here, loudly.
  exports="$(K8SENV_DOWNLOAD=1 K8SENV_SOURCE_BUILD="${K8SENV_SOURCE_BUILD:-0}" "$ROOT/scripts/install-binaries.sh")" \
    || die "scripts/install-binaries.sh could not provide kube-apiserver and etcd (its messages are above)"
  eval "$exports"
  for name in K8SENV_KUBE_APISERVER K8SENV_ETCD; do
    [[ -n "${!name:-}" ]] || die "install-binaries.sh gave no $name"
    [[ -f "${!name}" && -x "${!name}" ]] || die "$name=${!name} is not an executable file"
  done
  for name in K8SENV_KUBE_APISERVER K8SENV_KUBE_CONTROLLER_MANAGER K8SENV_ETCD K8SENV_ETCDCTL K8SENV_KINE; do
    if [[ -n "${!name:-}" ]]; then export_env "$name" "${!name}"; fi
  done
  export_env K8SENV_KUBE_VERSION "$("$K8SENV_KUBE_APISERVER" --version | awk '{print $2}')"
  if [[ "$before" == 0 && "$K8SENV_KUBE_APISERVER" == "$CACHE_ROOT/bin/"* ]]; then output downloaded true; else output downloaded false; fi
  if [[ -n "${INPUT_STORAGE:-}" ]]; then
    case "$INPUT_STORAGE" in
      embedded|etcd) ;;
      kine) [[ -n "${K8SENV_KINE:-}" ]] || die "storage kine needs a kine binary: set K8SENV_KINE (k8senv-kine, built with swift build --product k8senv-kine, works as one)" ;;
      *) die "storage \"$INPUT_STORAGE\" is not embedded, etcd or kine" ;;
    esac
    export_env K8SENV_STORAGE "$INPUT_STORAGE"
  fi
}

step_key() {
  local hash key_id
  enter_working_directory
  config_args
  hash="$(k8senv hash "${CONFIG_ARGS[@]}")" || die "k8senv hash ${CONFIG_ARGS[*]} failed (above)"
  # 32 bits of a hash of the secret (never the secret): another key misses instead of restoring
  # bundles it would refuse, and keeps its own entry.
  if [[ -n "${K8SENV_BUNDLE_KEY:-}" ]]; then
    key_id="$(printf 'k8senv bundle cache\n%s' "$K8SENV_BUNDLE_KEY" | sha256sum | cut -c1-8)"
    output cache true
  else
    key_id=unsigned
    output cache false
    log "no bundle-key: the snapshots are built on this runner and not cached (pass a secret as bundle-key to share them between runners: docs/how-to/ci.md)"
  fi
  output key "k8senv-snapshots-$(uname -s)-$(uname -m)-${INPUT_PROFILE:-default}-$(printf '%s\n' "$hash" | sha256sum | cut -c1-64)-$key_id"
  output dir "$CACHE_ROOT/action/bundles"
}

step_snapshots() {
  local dir="${K8SENV_BUNDLES:?K8SENV_BUNDLES (the dir output of the key step) is not set}" bundles=()
  enter_working_directory
  config_args
  shopt -s nullglob
  bundles=("$dir"/*.k8senv-bundle)
  shopt -u nullglob
  if [[ ${#bundles[@]} -gt 0 ]]; then
    if k8senv cache import "${CONFIG_ARGS[@]}" "${bundles[@]}"; then
      output cache-hit true
      output save false
      return 0
    fi
    log "warning: the restored bundles were refused (above); building the snapshots instead"
    if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::warning title=k8senv::%s\n' "the restored snapshot bundles were refused; building them again"; fi
  fi
  output cache-hit false
  if [[ "${INPUT_BUILD_SNAPSHOTS:-true}" != true ]]; then output save false; return 0; fi
  log "building the snapshots (k8senv run ${CONFIG_ARGS[*]} --pool-size 1 -- true)"
  k8senv run "${CONFIG_ARGS[@]}" --pool-size 1 --quiet -- true || die "building the snapshots failed (above)"
  if [[ -z "${K8SENV_BUNDLE_KEY:-}" ]]; then output save false; return 0; fi
  rm -rf "$dir"
  k8senv cache export "${CONFIG_ARGS[@]}" -o "$dir/" >&2 || die "k8senv cache export failed (above)"
  output save true
}

case "${1:-}" in
  build-key) step_build_key ;;
  build) step_build ;;
  binaries-key) step_binaries_key ;;
  install) step_install ;;
  key) step_key ;;
  snapshots) step_snapshots ;;
  *) echo "usage: $0 build-key|build|binaries-key|install|key|snapshots" >&2; exit 2 ;;
esac
