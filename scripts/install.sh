#!/bin/sh
# install.sh — installs k8senv from a release, no Swift needed (docs/how-to/install.md):
#   curl -fsSL https://github.com/k8senv/k8senv/releases/latest/download/install.sh | sh
#   sh install.sh [--version VERSION] [--prefix DIR]
# Picks the platform (linux-x86_64 is the one there is), downloads
# k8senv-VERSION-PLATFORM.tar.gz and its .sha256, checks the checksum, and installs k8senv and
# k8senv-kine (a link to it) to PREFIX/bin (default ~/.local, so ~/.local/bin) and the schema, README and LICENSE
# to PREFIX/share/k8senv.
#   K8SENV_RELEASE_URL  the folder holding the release files (https:// or file://); default
#                       https://github.com/k8senv/k8senv/releases/download/vVERSION
#   K8SENV_VERSION      the version when --version is not given; default: the latest release
#                       (asked of GitHub; needed when K8SENV_RELEASE_URL is set).
set -eu

project=https://github.com/k8senv/k8senv
prefix="$HOME/.local"
version="${K8SENV_VERSION:-}"

fail() { echo "install.sh: $*" >&2; exit 1; }
usage() { echo "usage: install.sh [--version VERSION] [--prefix DIR]" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || usage; version="$2"; shift 2 ;;
    --prefix) [ $# -ge 2 ] || usage; prefix="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage ;;
  esac
done

command -v curl >/dev/null 2>&1 || fail "needs curl (apt-get install curl)"
command -v tar >/dev/null 2>&1 || fail "needs tar"

# The platform: a release is built for each name here, nothing else.
os="$(uname -s)"; machine="$(uname -m)"
case "$os/$machine" in
  Linux/x86_64|Linux/amd64) platform=linux-x86_64 ;;
  *) fail "no k8senv release for $os $machine (there is one for Linux x86_64); build it from source: $project/blob/main/docs/how-to/install.md#from-source" ;;
esac

if [ -z "$version" ]; then
  [ -z "${K8SENV_RELEASE_URL:-}" ] || fail "K8SENV_RELEASE_URL is set: name the version too (--version or K8SENV_VERSION)"
  # GitHub redirects .../releases/latest to .../releases/tag/vVERSION.
  location="$(curl -fsSI "$project/releases/latest" | tr -d '\r' | sed -n 's/^[Ll]ocation: .*\/tag\/v\{0,1\}\(.*\)$/\1/p' | tail -1)" \
    || fail "could not ask $project/releases/latest for the latest version; name one with --version"
  [ -n "$location" ] || fail "$project/releases/latest names no version; name one with --version"
  version="$location"
fi
case "$version" in
  v*) version="${version#v}" ;;
esac
case "$version" in
  ''|*[!0-9A-Za-z.+-]*) fail "--version \"$version\" is not a version (e.g. 0.2.0)" ;;
esac

base="${K8SENV_RELEASE_URL:-$project/releases/download/v$version}"
base="${base%/}"
name="k8senv-$version-$platform"
tarball="$name.tar.gz"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM
echo "install.sh: downloading $base/$tarball" >&2
curl -fsSL -o "$work/$tarball" "$base/$tarball" || fail "could not download $base/$tarball"
curl -fsSL -o "$work/$tarball.sha256" "$base/$tarball.sha256" || fail "could not download $base/$tarball.sha256"

expected="$(awk 'NR == 1 { print $1 }' "$work/$tarball.sha256")"
case "$expected" in
  *[!0-9a-f]*|'') fail "$base/$tarball.sha256 holds no SHA-256 (\"$expected\")" ;;
esac
[ "${#expected}" -eq 64 ] || fail "$base/$tarball.sha256 holds no SHA-256 (\"$expected\")"
if command -v sha256sum >/dev/null 2>&1; then
  actual="$(sha256sum "$work/$tarball" | awk '{ print $1 }')"
elif command -v shasum >/dev/null 2>&1; then
  actual="$(shasum -a 256 "$work/$tarball" | awk '{ print $1 }')"
else
  fail "needs sha256sum or shasum to check the download"
fi
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $tarball: its SHA-256 is $actual, $tarball.sha256 says $expected; nothing was installed (a damaged or tampered download: try again, or report it at $project/issues)"
fi

tar -xzf "$work/$tarball" -C "$work" || fail "could not unpack $tarball"
[ -f "$work/$name/k8senv" ] && [ ! -L "$work/$name/k8senv" ] || fail "$tarball holds no $name/k8senv"

mkdir -p "$prefix/bin" "$prefix/share/k8senv"
# Into place by rename, so a running k8senv keeps its file. k8senv-kine is k8senv under another
# name: a link to it in the release (a copy is installed as a copy).
cp "$work/$name/k8senv" "$prefix/bin/.k8senv.new"
chmod 0755 "$prefix/bin/.k8senv.new"
mv -f "$prefix/bin/.k8senv.new" "$prefix/bin/k8senv"
if [ -L "$work/$name/k8senv-kine" ]; then
  [ "$(readlink "$work/$name/k8senv-kine")" = k8senv ] || fail "$tarball: k8senv-kine links to $(readlink "$work/$name/k8senv-kine"), not k8senv"
  ln -sfn k8senv "$prefix/bin/k8senv-kine"
elif [ -f "$work/$name/k8senv-kine" ]; then
  cp "$work/$name/k8senv-kine" "$prefix/bin/.k8senv-kine.new"
  chmod 0755 "$prefix/bin/.k8senv-kine.new"
  mv -f "$prefix/bin/.k8senv-kine.new" "$prefix/bin/k8senv-kine"
else
  fail "$tarball holds no $name/k8senv-kine"
fi
for file in LICENSE README.md k8senv.schema.json; do
  [ ! -f "$work/$name/$file" ] || cp "$work/$name/$file" "$prefix/share/k8senv/$file"
done

echo "install.sh: installed k8senv $version ($platform, SHA-256 $actual checked):"
echo "  $prefix/bin/k8senv"
echo "  $prefix/bin/k8senv-kine (k8senv as the store, kine's command line)"
echo "  $prefix/share/k8senv/ (LICENSE, README.md, k8senv.schema.json)"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "install.sh: $prefix/bin is not on PATH; add it: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
echo "install.sh: next: k8senv --version; kube-apiserver is not included (see docs/how-to/install.md)"
