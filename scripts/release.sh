#!/usr/bin/env bash
# release.sh — the release artifacts of k8senv, for users without a Swift toolchain
# (docs/how-to/install.md):
#   DIR/k8senv-VERSION-linux-x86_64.tar.gz (+ .sha256): k8senv, built in release mode with the
#     Swift runtime, libyaml, SQLite, OpenSSL, zlib, libstdc++ and libgcc linked statically and
#     stripped, so it needs only glibc, and k8senv-kine as a link to it (k8senv run under that
#     name is the store); with LICENSE, README.md and the config's JSON schema.
#   DIR/k8senv-VERSION-py3-none-manylinux_2_XX_x86_64.whl: the Python wheel `k8senv` (the two
#     binaries, the Python client and its pytest plugin), built with pip from packaging/python.
#
# Usage: scripts/release.sh VERSION [--output DIR]
#   VERSION: e.g. 0.2.0 (letters, digits, . + -). DIR defaults to dist/ in the checkout.
#   The build folder is $HOME/.cache/k8senv/swiftpm-release (K8SENV_RELEASE_SCRATCH overrides it):
#   a later run rebuilds only what changed.
set -euo pipefail
usage() { echo "usage: scripts/release.sh VERSION [--output DIR]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
version="$1"; shift
output=dist
while [[ $# -gt 0 ]]; do
  case "$1" in
    --output) [[ $# -ge 2 ]] || usage; output="$2"; shift 2 ;;
    *) echo "release.sh: unknown argument: $1" >&2; usage ;;
  esac
done
if [[ ! "$version" =~ ^[0-9A-Za-z][0-9A-Za-z.+-]*$ ]]; then
  echo "release.sh: VERSION \"$version\" must be letters, digits, '.', '+' and '-' (e.g. 0.2.0)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
mkdir -p "$output"
output="$(cd "$output" && pwd)"
arch="$(uname -m)"
if [[ "$arch" != x86_64 ]]; then
  echo "release.sh: builds linux-x86_64 only (this machine is $arch; see docs/how-to/install.md)" >&2
  exit 1
fi
scratch="${K8SENV_RELEASE_SCRATCH:-$HOME/.cache/k8senv/swiftpm-release}"
mkdir -p "$scratch"

# Static libraries: a folder holding only the .a files of the system libraries the package links:
# libyaml, SQLite and OpenSSL (its system-library targets find them through pkg-config), zlib
# (swift-nio's HTTP compression asks for -lz) and libstdc++ (SwiftPM links -lstdc++ for the C++
# of BoringSSL). The package's .pc files are copied with libdir pointing at this folder, so the
# -L each -l follows is this folder and the linker takes the archive: the binary has no DT_NEEDED
# for them. scripts/test-install.sh checks the result with ldd in a root that has none of them.
libdir="/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
static="$scratch/static-libs"
rm -rf "$static"; mkdir -p "$static/pkgconfig"
archive() {
  [[ -f "$1" ]] || { echo "release.sh: $1 is missing (apt-get install libyaml-dev libsqlite3-dev libssl-dev zlib1g-dev libstdc++-12-dev)" >&2; exit 1; }
  ln -s "$1" "$static/$(basename "$1")"
}
for lib in yaml sqlite3 ssl crypto z; do archive "$libdir/lib$lib.a"; done
archive "$(g++ -print-file-name=libstdc++.a 2>/dev/null || echo /usr/lib/gcc/x86_64-linux-gnu/12/libstdc++.a)"
for pc in yaml-0.1 sqlite3 openssl libssl libcrypto; do
  [[ -f "$libdir/pkgconfig/$pc.pc" ]] || { echo "release.sh: $libdir/pkgconfig/$pc.pc is missing" >&2; exit 1; }
  sed "s|^libdir=.*|libdir=$static|" "$libdir/pkgconfig/$pc.pc" > "$static/pkgconfig/$pc.pc"
done
export PKG_CONFIG_PATH="$static/pkgconfig"

# What `k8senv version` prints (Package.swift turns these into defines of CK8sEnvBuildInfo).
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$commit" != unknown && -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  commit="$commit-dirty"
fi
export K8SENV_BUILD_VERSION="$version"
export K8SENV_BUILD_COMMIT="$commit"
export K8SENV_BUILD_SWIFT_VERSION="$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9.]*\).*/\1/p' | head -1)"
export K8SENV_BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

start=$SECONDS
# -L: the archives for -lz and -lstdc++ too; -static-libgcc: libgcc_eh.a instead of libgcc_s.so
# (the Swift runtime and libstdc++ unwind with it).
build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch" -Xswiftc "-L$static"
  -Xswiftc -Xclang-linker -Xswiftc -static-libgcc)
echo "release: building k8senv (release, static)" >&2
"${build[@]}" --product k8senv
bin="$("${build[@]}" --show-bin-path)"
echo "release: built in $((SECONDS - start)) s" >&2

name="k8senv-$version-linux-x86_64"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
# One binary: k8senv is also the store when it runs as k8senv-kine (Sources/k8senv/main.swift), so
# the tarball holds k8senv-kine as a link to it (one copy of the Swift runtime and Foundation).
strip -o "$stage/$name/k8senv" "$bin/k8senv"
ln -s k8senv "$stage/$name/k8senv-kine"
cp LICENSE README.md "$stage/$name/"
cp schemas/k8senv.schema.json "$stage/$name/"

# Only glibc: the libraries the binary names (DT_NEEDED, read with readelf; ldd's list in a root
# without them is scripts/test-install.sh's check) and the newest glibc symbol version it uses
# (objdump -T), which names the wheel's manylinux tag.
binary="$stage/$name/k8senv"
needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
others="$(printf '%s\n' $needed | grep -Ev '^(ld-linux-x86-64|lib(c|m|pthread|dl|rt|util))\.so' || true)"
if [[ -n "$others" ]]; then
  echo "release.sh: k8senv links more than glibc:" $others >&2
  exit 1
fi
glibc_minor="$(objdump -T "$binary" | grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_2\.//' | sort -n | tail -1)"
echo "release: k8senv needs glibc 2.$glibc_minor; it links: $needed" >&2

tarball="$output/$name.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"
(cd "$output" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "release: $tarball ($(du -h "$tarball" | cut -f1)), $tarball.sha256" >&2

# The wheel, built with pip and setuptools from a venv of their own (made once, from PyPI).
venv="$HOME/.cache/k8senv/release-venv"
if ! "$venv/bin/python" -c 'import setuptools, wheel, auditwheel' 2>/dev/null; then
  echo "release: making $venv (pip install setuptools wheel auditwheel)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "setuptools>=61" wheel auditwheel >&2
fi
# PEP 440: 0.2.0 and 0.2.0rc1 are as they are; 0.0.0-test becomes 0.0.0+test (a local version).
wheel_version="$("$venv/bin/python" - "$version" <<'PY'
import sys
from packaging.version import InvalidVersion, Version
v = sys.argv[1]
try:
    print(Version(v))
except InvalidVersion:
    head, _, tail = v.partition("-")
    print(Version(head + "+" + tail.replace("-", ".")))
PY
)"
wheelsrc="$stage/wheel"
mkdir -p "$wheelsrc/bin"
cp packaging/python/pyproject.toml README.md LICENSE "$wheelsrc/"
cp -R clients/python/k8senv_pool "$wheelsrc/"
find "$wheelsrc/k8senv_pool" -name __pycache__ -prune -exec rm -rf {} +
cp "$stage/$name/k8senv" "$wheelsrc/bin/"
cp packaging/python/k8senv_kine.py "$wheelsrc/"
echo "$wheel_version" > "$wheelsrc/VERSION"
platform_tag="manylinux_2_${glibc_minor}_x86_64"
printf '[bdist_wheel]\npython_tag = py3\nplat_name = %s\n' "$platform_tag" > "$wheelsrc/setup.cfg"
rm -f "$output/k8senv-$wheel_version-"*.whl
"$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$output" "$wheelsrc" >&2
wheel="$(ls "$output/k8senv-$wheel_version-"*.whl)"
echo "release: $wheel ($(du -h "$wheel" | cut -f1))" >&2
"$venv/bin/auditwheel" show "$wheel" >&2
