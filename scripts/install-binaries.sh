#!/usr/bin/env bash
# install-binaries.sh — make kube-apiserver, kube-controller-manager and etcd (and optionally kine)
# available for k8senv.
#
# Usage:
#   eval "$(scripts/install-binaries.sh)"          # resolve, installing/building what is missing
#   scripts/install-binaries.sh --check            # only report; exit 1 if something is missing
#   scripts/install-binaries.sh --kube-version     # print the kube-apiserver version it would install
#
# Prints `export NAME=value` lines on stdout (progress goes to stderr):
#   K8SENV_KUBE_APISERVER, K8SENV_KUBE_CONTROLLER_MANAGER, K8SENV_ETCD, K8SENV_ETCDCTL (if found),
#   K8SENV_KINE (if found),
#   K8SENV_KUBERNETES_SRC (if the unpacked Debian kubernetes source is present).
#
# Resolution order for each binary: the env var (if set and executable) > the name on PATH >
# the cache (${XDG_CACHE_HOME:-$HOME/.cache}/k8senv/bin) > install/build.
#   etcd:           apt-get install etcd-server etcd-client (Debian's /usr/bin/etcd, 3.4.x)
#   kube-apiserver: K8SENV_DOWNLOAD=1 -> official release binary from dl.k8s.io, sha256-checked;
#                   otherwise (and as fallback) built from Debian bookworm's `kubernetes` source
#                   package (v1.20.2; ~7 min on 2 cores), cached as kube-apiserver-v1.20.2-r2.
#   kube-controller-manager: the same, from the same tree (a few minutes more; much less when
#                   kube-apiserver was built there just before), cached as
#                   kube-controller-manager-v1.20.2-r2. Only `controllers:` needs it: where it
#                   cannot be installed it is reported and left out, unless
#                   K8SENV_REQUIRE_BINARIES=1.
#   kine:           never installed (not packaged); used when K8SENV_KINE or `kine` on PATH exists.
#
# Environment knobs:
#   K8SENV_KUBE_APISERVER, K8SENV_KUBE_CONTROLLER_MANAGER, K8SENV_ETCD, K8SENV_KINE
#                         preferred binaries (path or name on PATH)
#   K8SENV_KUBE_VERSION   version to download/cache (default v1.20.2; the source build is v1.20.2 only)
#   K8SENV_DOWNLOAD=1     try dl.k8s.io first (needs network)
#   K8SENV_DOWNLOAD_URL   where releases are (default https://dl.k8s.io/release; file:// works too)
#   K8SENV_SOURCE_BUILD=0 never build from source: a failed kube-apiserver download is an error
#                         (kube-controller-manager is then only reported missing)
#   XDG_CACHE_HOME        cache root (default ~/.cache)
set -euo pipefail

KUBE_VERSION="${K8SENV_KUBE_VERSION:-v1.20.2}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/k8senv"
BIN_DIR="$CACHE_ROOT/bin"
SRC_DIR="$CACHE_ROOT/src" # = kube_src_dir (lib/kube-src.sh)
# The source build's recipe revision: bump it when the build changes so old caches are not reused.
# r2: vendored github.com/modern-go/reflect2 v1.0.1 replaced by v1.0.2 (v1.0.1 makes a Go >= 1.18
#     build of v1.20.2 crash with "fatal error: fault" when it serves custom resources).
BUILD_RECIPE="r2"
# The cached binary of a Kubernetes component (kube-apiserver, kube-controller-manager).
cached() { printf '%s\n' "$BIN_DIR/$1-$KUBE_VERSION-$BUILD_RECIPE"; }
CACHED_APISERVER="$(cached kube-apiserver)"
CACHED_CONTROLLER_MANAGER="$(cached kube-controller-manager)"
SOURCES_FILE="/etc/apt/sources.list.d/k8senv-src.sources"
DOWNLOAD_URL="${K8SENV_DOWNLOAD_URL:-https://dl.k8s.io/release}"

CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    --kube-version) printf '%s\n' "$KUBE_VERSION"; exit 0 ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-binaries: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'install-binaries: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Quote a value for `eval` (single quotes, embedded single quotes escaped).
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
emit() { printf 'export %s=%s\n' "$1" "$(shq "$2")"; }

# shellcheck source=lib/apt.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/kube-src.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/kube-src.sh"

# Absolute path of an executable given as path or as name on PATH; empty if none.
abs_exe() {
  local p="$1" r
  [[ -n "$p" ]] || return 1
  if [[ "$p" == */* ]]; then
    [[ -f "$p" && -x "$p" ]] || return 1
    r="$(cd "$(dirname "$p")" && pwd -P)/$(basename "$p")"
  else
    r="$(command -v -- "$p" 2>/dev/null)" || return 1
    [[ "$r" == /* && -x "$r" ]] || return 1
  fi
  printf '%s\n' "$r"
}

# `kube-apiserver --version` -> "v1.20.2" (empty if it does not run).
apiserver_version() { "$1" --version 2>/dev/null | awk '{print $2}' | head -n1 || true; }


# ---------------------------------------------------------------------------------------------
# Resolution (env var > PATH > cache). Prints the absolute path, or nothing.
resolve_from_env_or_path() {
  local var="$1" name="$2" val r
  val="${!var:-}"
  if [[ -n "$val" ]]; then
    if r="$(abs_exe "$val")"; then printf '%s\n' "$r"; return 0; fi
    log "warning: $var=$val is not an executable; ignoring it"
  fi
  if r="$(abs_exe "$name")"; then printf '%s\n' "$r"; return 0; fi
  return 1
}

# A Kubernetes component: the env var, PATH, then the cache (if it reports $KUBE_VERSION).
#   resolve_kube VAR NAME
resolve_kube() {
  local var="$1" name="$2" r cache
  if r="$(resolve_from_env_or_path "$var" "$name")"; then printf '%s\n' "$r"; return 0; fi
  cache="$(cached "$name")"
  if [[ -x "$cache" ]]; then
    if [[ "$(apiserver_version "$cache")" == "$KUBE_VERSION" ]]; then
      printf '%s\n' "$cache"; return 0
    fi
    log "warning: cached $cache does not report $KUBE_VERSION; ignoring it"
  fi
  return 1
}
resolve_apiserver() { resolve_kube K8SENV_KUBE_APISERVER kube-apiserver; }
resolve_controller_manager() { resolve_kube K8SENV_KUBE_CONTROLLER_MANAGER kube-controller-manager; }

resolve_etcd() {
  local r
  if r="$(resolve_from_env_or_path K8SENV_ETCD etcd)"; then printf '%s\n' "$r"; return 0; fi
  [[ -x /usr/bin/etcd ]] && { printf '%s\n' /usr/bin/etcd; return 0; }
  return 1
}

resolve_etcdctl() {
  local etcd="$1" r
  if [[ -n "$etcd" && -x "$(dirname "$etcd")/etcdctl" ]]; then printf '%s\n' "$(dirname "$etcd")/etcdctl"; return 0; fi
  if r="$(resolve_from_env_or_path K8SENV_ETCDCTL etcdctl)"; then printf '%s\n' "$r"; return 0; fi
  return 1
}

resolve_kine() { resolve_from_env_or_path K8SENV_KINE kine; }

# The unpacked Debian kubernetes source (holds cluster/addons YAML used by tests; go-offline.sh
# compiles client-go from its vendor/): resolve_kube_src, from scripts/lib/kube-src.sh.

# ---------------------------------------------------------------------------------------------
# Installation.
install_etcd() { apt_install etcd-server etcd-client; }

# Publish a built/downloaded binary into the cache atomically.
#   publish NAME FROM
publish() {
  local name="$1" from="$2" tmp
  mkdir -p "$BIN_DIR"
  tmp="$(mktemp "$BIN_DIR/.$name.XXXXXX")"
  cp "$from" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$(cached "$name")"
}

# The official release binary NAME (kube-apiserver, kube-controller-manager), sha256-checked.
download_kube() {
  local name="$1" arch os url tmpd want got
  command -v curl >/dev/null 2>&1 || { log "curl not found; cannot download"; return 1; }
  os=linux
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    ppc64le) arch=ppc64le ;;
    s390x) arch=s390x ;;
    *) log "no official binary for $(uname -m)"; return 1 ;;
  esac
  url="${DOWNLOAD_URL%/}/$KUBE_VERSION/bin/$os/$arch/$name"
  tmpd="$(mktemp -d)"
  log "downloading $url"
  if ! curl -fsSL --retry 3 -o "$tmpd/$name" "$url" \
      || ! curl -fsSL --retry 3 -o "$tmpd/$name.sha256" "$url.sha256"; then
    rm -rf "$tmpd"; log "download of $url (or its .sha256) failed"; return 1
  fi
  want="$(awk '{print $1}' "$tmpd/$name.sha256")"
  got="$(sha256sum "$tmpd/$name" | awk '{print $1}')"
  if [[ -z "$want" || "$want" != "$got" ]]; then
    rm -rf "$tmpd"; log "sha256 mismatch for $url (want $want from $url.sha256, got $got)"; return 1
  fi
  chmod +x "$tmpd/$name"
  if [[ "$(apiserver_version "$tmpd/$name")" != "$KUBE_VERSION" ]]; then
    rm -rf "$tmpd"; log "downloaded binary does not report $KUBE_VERSION"; return 1
  fi
  publish "$name" "$tmpd/$name"
  rm -rf "$tmpd"
  log "cached $(cached "$name") (sha256 $got)"
}

# Make `apt-get source` work: add deb-src entries mirroring Debian's binary entries.
ensure_deb_src() {
  if apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes'; then return 0; fi
  if [[ ! -f "$SOURCES_FILE" ]]; then
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      log "adding deb-src entries in $SOURCES_FILE (from debian.sources)"
      { echo "# Added by k8senv scripts/install-binaries.sh (apt-get source kubernetes)"
        sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources
      } | as_root tee "$SOURCES_FILE" >/dev/null
    elif grep -qs '^deb ' /etc/apt/sources.list; then
      log "adding deb-src entries in /etc/apt/sources.list.d/k8senv-src.list (from sources.list)"
      { echo "# Added by k8senv scripts/install-binaries.sh (apt-get source kubernetes)"
        sed -n -e 's/^deb /deb-src /p' /etc/apt/sources.list
      } | as_root tee /etc/apt/sources.list.d/k8senv-src.list >/dev/null
    else
      die "cannot find Debian apt sources to derive deb-src entries from"
    fi
  fi
  APT_UPDATED=0
  apt_update_once
  apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' \
    || die "apt has no source package 'kubernetes' (is this Debian bookworm?)"
}

fetch_kube_src() {
  local d
  if d="$(resolve_kube_src)"; then printf '%s\n' "$d"; return 0; fi
  ensure_deb_src
  mkdir -p "$SRC_DIR"
  log "apt-get source kubernetes -> $SRC_DIR"
  (cd "$SRC_DIR" && apt-get source -qq kubernetes >&2)
  d="$(resolve_kube_src)" || die "apt-get source kubernetes did not unpack a source tree in $SRC_DIR"
  printf '%s\n' "$d"
}

# Kubernetes 1.20 vendors github.com/modern-go/reflect2 v1.0.1, which breaks under Go >= 1.18
# (runtime map iteration changed): the apiserver dies with "fatal error: fault" in
# json-iterator when it encodes a custom resource. Debian's golang-go is 1.19, so swap in
# reflect2 v1.0.2 from Debian's golang-github-modern-go-reflect2-dev (same API).
patch_vendor_for_current_go() {
  local src="$1" fixed=/usr/share/gocode/src/github.com/modern-go/reflect2
  grep -q 'modern-go/reflect2 v1.0.1' "$src/vendor/modules.txt" || return 0
  [[ -d "$fixed" ]] || apt_install golang-github-modern-go-reflect2-dev
  [[ -f "$fixed/reflect2.go" ]] || die "$fixed is missing after installing golang-github-modern-go-reflect2-dev"
  log "replacing vendored modern-go/reflect2 v1.0.1 with v1.0.2 (Go >= 1.18 fix)"
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  mkdir -p "$src/vendor/github.com/modern-go/reflect2"
  find "$fixed" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name 'LICENSE' \) ! -name '*_test.go' \
    -exec cp {} "$src/vendor/github.com/modern-go/reflect2/" \;
  sed -i 's#modern-go/reflect2 v1.0.1#modern-go/reflect2 v1.0.2#g' "$src/go.mod" "$src/vendor/modules.txt"
  find "$src/staging" -name go.mod -exec sed -i 's#modern-go/reflect2 v1.0.1#modern-go/reflect2 v1.0.2#g' {} +
}

# Builds NAME (kube-apiserver, kube-controller-manager) in the Debian source tree SRC with
# `make WHAT=cmd/NAME`, or reuses the tree's previous output of the same version and recipe
# (stamped per binary in _output/), and publishes it in the cache.
#   build_kube NAME SRC
build_kube() {
  local name="$1" src="$2" pid start rc out elapsed stamp
  [[ "$KUBE_VERSION" == v1.20.2 ]] || die "the Debian source build provides v1.20.2 only (asked: $KUBE_VERSION); set K8SENV_DOWNLOAD=1 or K8SENV_KUBE_APISERVER"
  if ! command -v go >/dev/null 2>&1 || ! command -v rsync >/dev/null 2>&1 \
      || ! command -v jq >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    apt_install golang-go rsync jq build-essential
  fi
  out="$src/_output/bin/$name"
  # kube-apiserver's stamp keeps the name it had before other binaries were built.
  stamp="$src/_output/k8senv-recipe"
  [[ "$name" == kube-apiserver ]] || stamp="$src/_output/k8senv-recipe-$name"
  patch_vendor_for_current_go "$src"
  if [[ -x "$out" && "$(apiserver_version "$out")" == "$KUBE_VERSION" \
        && "$(cat "$stamp" 2>/dev/null)" == "$BUILD_RECIPE" ]]; then
    log "reusing previous build output $out"
  else
    # As debian/rules does: a GOPATH whose src/k8s.io/kubernetes points at the tree
    # (hack/lib/golang.sh also makes its own under _output/go), CGO off. The tarball's
    # hack/lib/version.sh carries the git-archive values (v1.20.2, faecb196...), so
    # KUBE_GIT_VERSION is belt and braces. GO111MODULE/GOFLAGS are set by hack/lib/golang.sh.
    mkdir -p "$src/.go/src/k8s.io"
    [[ -L "$src/.go/src/k8s.io/kubernetes" ]] || ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"
    local logf="$src/_output/k8senv-build-$name.log"
    mkdir -p "$src/_output"
    log "building $name $KUBE_VERSION in $src (about 7 min on 2 cores; log: $logf)"
    start=$(date +%s)
    ( cd "$src" && exec env GOPATH="$src/.go" CGO_ENABLED=0 PATH="/usr/lib/go/bin:$PATH" \
        KUBE_GIT_VERSION="$KUBE_VERSION" make WHAT="cmd/$name" ) >"$logf" 2>&1 &
    pid=$!
    # Poll so a caller sees progress (and the build survives no controlling terminal).
    while kill -0 "$pid" 2>/dev/null; do
      sleep 15
      elapsed=$(( $(date +%s) - start ))
      if (( elapsed % 60 < 15 )); then log "still building (${elapsed}s): $(tail -n1 "$logf" | cut -c1-100)"; fi
    done
    rc=0; wait "$pid" || rc=$?
    if [[ $rc -ne 0 ]]; then tail -n 30 "$logf" >&2; die "build failed (exit $rc); see $logf"; fi
    echo "$BUILD_RECIPE" > "$stamp"
    log "build of $name finished in $(( $(date +%s) - start ))s"
  fi
  [[ "$(apiserver_version "$out")" == "$KUBE_VERSION" ]] \
    || die "built $out reports '$(apiserver_version "$out")', expected $KUBE_VERSION"
  publish "$name" "$out"
  log "cached $(cached "$name")"
}

# ---------------------------------------------------------------------------------------------
APISERVER="$(resolve_apiserver || true)"
ETCD="$(resolve_etcd || true)"
KINE="$(resolve_kine || true)"

if [[ $CHECK_ONLY -eq 1 ]]; then
  missing=0
  if [[ -n "$APISERVER" ]]; then log "kube-apiserver: $APISERVER ($(apiserver_version "$APISERVER"))"; else log "kube-apiserver: MISSING"; missing=1; fi
  CONTROLLER_MANAGER="$(resolve_controller_manager || true)"
  if [[ -n "$CONTROLLER_MANAGER" ]]; then log "kube-controller-manager: $CONTROLLER_MANAGER ($(apiserver_version "$CONTROLLER_MANAGER"))"
  else log "kube-controller-manager: MISSING (needed by controllers:)"; [[ "${K8SENV_REQUIRE_BINARIES:-0}" == 1 ]] && missing=1; fi
  if [[ -n "$ETCD" ]]; then log "etcd: $ETCD ($("$ETCD" --version 2>/dev/null | head -n1))"; else log "etcd: MISSING"; missing=1; fi
  ETCDCTL="$(resolve_etcdctl "$ETCD" || true)"
  log "etcdctl: ${ETCDCTL:-not found (optional)}"
  log "kine: ${KINE:-not found (optional)}"
  KSRC="$(resolve_kube_src || true)"
  log "kubernetes source: ${KSRC:-not found (optional)}"
  [[ -n "$APISERVER" ]] && emit K8SENV_KUBE_APISERVER "$APISERVER"
  [[ -n "$CONTROLLER_MANAGER" ]] && emit K8SENV_KUBE_CONTROLLER_MANAGER "$CONTROLLER_MANAGER"
  [[ -n "$ETCD" ]] && emit K8SENV_ETCD "$ETCD"
  [[ -n "$ETCDCTL" ]] && emit K8SENV_ETCDCTL "$ETCDCTL"
  [[ -n "$KINE" ]] && emit K8SENV_KINE "$KINE"
  [[ -n "$KSRC" ]] && emit K8SENV_KUBERNETES_SRC "$KSRC"
  exit "$missing"
fi

# One installer at a time per cache (concurrent callers wait, then reuse the result).
mkdir -p "$CACHE_ROOT"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.install.lock"
  if ! flock -n 9; then log "waiting for another install-binaries run (lock $CACHE_ROOT/.install.lock)"; flock 9; fi
  APISERVER="$(resolve_apiserver || true)"
fi

if [[ -z "$ETCD" ]]; then
  install_etcd
  ETCD="$(resolve_etcd)" || die "etcd still not found after apt-get install"
fi
ETCDCTL="$(resolve_etcdctl "$ETCD" || true)"

KSRC=""
if [[ -z "$APISERVER" ]]; then
  if [[ "${K8SENV_DOWNLOAD:-0}" == 1 ]]; then
    if [[ "${K8SENV_SOURCE_BUILD:-1}" == 0 ]]; then
      download_kube kube-apiserver || die "no kube-apiserver $KUBE_VERSION: K8SENV_KUBE_APISERVER is ${K8SENV_KUBE_APISERVER:+not an executable (}${K8SENV_KUBE_APISERVER:-not set}${K8SENV_KUBE_APISERVER:+)}, none on PATH, none in $BIN_DIR, and the download failed (above); building from source is off (K8SENV_SOURCE_BUILD=0)"
    else
      download_kube kube-apiserver || log "download failed; falling back to building from Debian source"
    fi
  elif [[ "${K8SENV_SOURCE_BUILD:-1}" == 0 ]]; then
    die "no kube-apiserver $KUBE_VERSION: K8SENV_KUBE_APISERVER is ${K8SENV_KUBE_APISERVER:-not set}, none on PATH, none in $BIN_DIR; downloading (K8SENV_DOWNLOAD=1) and building from source (K8SENV_SOURCE_BUILD=0) are off"
  fi
  if [[ ! -x "$CACHED_APISERVER" ]]; then
    command -v apt-get >/dev/null 2>&1 || die "no kube-apiserver: set K8SENV_KUBE_APISERVER, put it on PATH, or use K8SENV_DOWNLOAD=1"
    KSRC="$(fetch_kube_src)"
    build_kube kube-apiserver "$KSRC"
  fi
  APISERVER="$(resolve_apiserver)" || die "kube-apiserver still not usable at $CACHED_APISERVER"
fi

# kube-controller-manager: the same way, from the same tree; only `controllers:` needs it, so
# where it cannot be had it is left out with a warning (an error with K8SENV_REQUIRE_BINARIES=1).
CONTROLLER_MANAGER="$(resolve_controller_manager || true)"
if [[ -z "$CONTROLLER_MANAGER" ]]; then
  if [[ "${K8SENV_DOWNLOAD:-0}" == 1 ]]; then
    download_kube kube-controller-manager || log "download failed; falling back to building from Debian source"
  fi
  if [[ ! -x "$CACHED_CONTROLLER_MANAGER" ]]; then
    if [[ "${K8SENV_SOURCE_BUILD:-1}" != 0 ]] && command -v apt-get >/dev/null 2>&1 && [[ "$KUBE_VERSION" == v1.20.2 ]]; then
      [[ -n "$KSRC" ]] || KSRC="$(fetch_kube_src)"
      build_kube kube-controller-manager "$KSRC"
    elif [[ "${K8SENV_REQUIRE_BINARIES:-0}" == 1 ]]; then
      die "no kube-controller-manager: set K8SENV_KUBE_CONTROLLER_MANAGER, put it on PATH, or use K8SENV_DOWNLOAD=1"
    else
      log "warning: no kube-controller-manager (set K8SENV_KUBE_CONTROLLER_MANAGER or use K8SENV_DOWNLOAD=1); environments with controllers: will not start"
    fi
  fi
  CONTROLLER_MANAGER="$(resolve_controller_manager || true)"
fi
[[ -n "$KSRC" ]] || KSRC="$(resolve_kube_src || true)"

log "kube-apiserver: $APISERVER ($(apiserver_version "$APISERVER"))"
[[ -n "$CONTROLLER_MANAGER" ]] && log "kube-controller-manager: $CONTROLLER_MANAGER"
log "etcd: $ETCD ($("$ETCD" --version 2>/dev/null | head -n1))"
[[ -n "$KINE" ]] && log "kine: $KINE"

emit K8SENV_KUBE_APISERVER "$APISERVER"
[[ -n "$CONTROLLER_MANAGER" ]] && emit K8SENV_KUBE_CONTROLLER_MANAGER "$CONTROLLER_MANAGER"
emit K8SENV_ETCD "$ETCD"
[[ -n "$ETCDCTL" ]] && emit K8SENV_ETCDCTL "$ETCDCTL"
[[ -n "$KINE" ]] && emit K8SENV_KINE "$KINE"
[[ -n "$KSRC" ]] && emit K8SENV_KUBERNETES_SRC "$KSRC"
exit 0
