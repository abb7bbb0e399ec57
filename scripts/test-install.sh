#!/usr/bin/env bash
# test-install.sh — the release on a machine without Swift: a Debian bookworm root made with
# `debootstrap --variant=minbase` (no Swift toolchain, no -dev package; curl, python3-venv and
# python3-pytest added), where
#   - install.sh installs the release tarball from a file:// URL, and ldd on k8senv and
#     k8senv-kine lists only glibc (a binary that needs libyaml or the Swift runtime fails here:
#     the root has neither);
#   - k8senv --version is the release's, k8senv validate and
#     `k8senv run -- kubectl get widgets -A` pass on examples/k8senv.yaml (kube-apiserver from the
#     binary cache, kubectl copied from this machine);
#   - the wheel goes into a venv, and a pytest test leases an instance through the
#     k8senv_instance fixture from a detached `k8senv up` run by the venv's k8senv.
# Prints the time from an empty root to the first `k8senv run`.
#
# Usage: scripts/test-install.sh   (root: debootstrap, chroot and mount need it)
#   K8SENV_TEST_INSTALL_DIST=DIR: test the release files in DIR (as scripts/release.sh 0.0.0-test
#   leaves them) instead of building them with scripts/release.sh 0.0.0-test.
#   The base root is made once and kept as ~/.cache/k8senv/debian-bookworm-minbase.tar.gz;
#   the release build folder is scripts/release.sh's ($HOME/.cache/k8senv/swiftpm-release).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test-install.sh: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
# In a mount namespace of its own: the root's mounts cannot outlive the test, even killed.
if [[ -z "${K8SENV_TEST_INSTALL_NS:-}" ]]; then
  K8SENV_TEST_INSTALL_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

version=0.0.0-test
name="k8senv-$version-linux-x86_64"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/k8senv"
base="$cache/debian-bookworm-minbase.tar.gz"
packages=curl,ca-certificates,python3,python3-venv,python3-pytest
apiserver="${K8SENV_KUBE_APISERVER:-$(command -v kube-apiserver || true)}"
kubectl="$(command -v kubectl || true)"
[[ -x "$apiserver" ]] || { echo "test-install.sh: no kube-apiserver (K8SENV_KUBE_APISERVER; scripts/install-binaries.sh)" >&2; exit 1; }
[[ -x "$kubectl" ]] || { echo "test-install.sh: no kubectl on PATH" >&2; exit 1; }

work="$(mktemp -d /tmp/k8senv-test-install.XXXXXX)"
root="$work/root"
fail() { echo "test-install.sh: FAIL: $*" >&2; exit 1; }
cleanup() {
  local status=$?
  # Whatever still runs in the root (a detached up after a failure): killed, then the mounts go.
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ "$(readlink "/proc/$pid/root" 2>/dev/null)" == "$root" ]] && kill -9 "$pid" 2>/dev/null || true
  done
  local mount
  for mount in tmp dev proc; do
    if mountpoint -q "$root/$mount" 2>/dev/null; then umount -l "$root/$mount" || status=1; fi
  done
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

# The release files.
if [[ -n "${K8SENV_TEST_INSTALL_DIST:-}" ]]; then
  dist="$K8SENV_TEST_INSTALL_DIST"
else
  start=$SECONDS
  scripts/release.sh "$version" --output "$work/dist"
  echo "test-install: release build $((SECONDS - start)) s" >&2
  dist="$work/dist"
fi
wheels=("$dist"/k8senv-*-manylinux_*_x86_64.whl)
[[ -f "$dist/$name.tar.gz" && -f "$dist/$name.tar.gz.sha256" && -f "${wheels[0]}" ]] \
  || fail "$dist holds no $name.tar.gz, .sha256 and wheel"

# The base root, made once.
if [[ ! -f "$base" ]]; then
  command -v debootstrap >/dev/null || fail "no debootstrap (scripts/setup.sh installs it)"
  echo "test-install: debootstrap --variant=minbase --include=$packages bookworm (once; kept as $base)" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$work/base" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  rm -rf "$work/base/var/cache/apt/archives/"*.deb "$work/base/var/lib/apt/lists/"*_Packages
  mkdir -p "$cache"
  tar -C "$work/base" -czf "$base.tmp.$$" . && mv "$base.tmp.$$" "$base"
  rm -rf "$work/base"
fi

# From here on: an empty root to the first `k8senv run`, timed.
started=$EPOCHREALTIME
mkdir "$root"
tar -C "$root" -xzf "$base"
if chroot "$root" /bin/sh -c 'command -v swift || command -v swiftc || ls -d /usr/lib/swift /opt/swift' 2>/dev/null; then
  fail "the root has a Swift toolchain"
fi
devs="$(chroot "$root" dpkg-query -W -f '${Package}\n' | grep -E -- '-dev(:|$)' || true)"
[[ -z "$devs" ]] || fail "the root has -dev packages: $devs"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"

mkdir -p "$root/release" "$root/work"
cp "$dist/$name.tar.gz" "$dist/$name.tar.gz.sha256" "${wheels[0]}" scripts/install.sh "$root/release/"
cp "$apiserver" "$root/usr/local/bin/kube-apiserver"
cp "$kubectl" "$root/usr/local/bin/kubectl"
cp -R examples crds "$root/work/"
rm -rf "$root/work/examples/.k8senv"
mkdir -p "$root/work/examples/tests"
cat > "$root/work/examples/tests/test_lease.py" <<'PY'
import json
import ssl
import urllib.request


def test_a_leased_instance_answers(k8senv_instance):
    """The fixture of the wheel's pytest plugin leases from the detached up; the server answers."""
    assert k8senv_instance.environment == "base"
    context = ssl.create_default_context(cafile=k8senv_instance.ca_file)
    request = urllib.request.Request(k8senv_instance.server + "/api/v1/namespaces",
                                     headers={"Authorization": "Bearer " + k8senv_instance.token})
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        names = [item["metadata"]["name"] for item in json.load(answer)["items"]]
    assert "default" in names
PY

inside() {
  chroot "$root" /usr/bin/env -i HOME=/root TMPDIR=/tmp LANG=C.UTF-8 ${K8SENV_TEST_RUN:+K8SENV_TEST_RUN=$K8SENV_TEST_RUN} \
    PATH=/root/.local/bin:/usr/local/bin:/usr/bin:/bin /bin/sh -euc "$1"
}

echo "test-install: install.sh from file:///release, then the example" >&2
inside "
  K8SENV_RELEASE_URL=file:///release sh /release/install.sh --version $version
  for program in k8senv k8senv-kine; do
    echo \"ldd \$program:\"; ldd /root/.local/bin/\$program
    if ldd /root/.local/bin/\$program | awk '{ print \$1 }' | grep -Ev '^(linux-vdso\\.so|/lib64/ld-linux-x86-64\\.so|lib(c|m|pthread|dl|rt|util)\\.so)'; then
      echo \"\$program links more than glibc (above)\" >&2; exit 1
    fi
  done
  k8senv-kine --help | grep -q 'kine' || { echo 'k8senv-kine --help is not the store' >&2; exit 1; }
  k8senv --version > /tmp/version
  cat /tmp/version
  grep -qx 'k8senv $version' /tmp/version || { echo 'k8senv --version is not $version' >&2; exit 1; }
  cd /work/examples
  k8senv validate | tee /tmp/validate
  grep -q '^k8senv.yaml: valid' /tmp/validate || { echo 'k8senv validate did not say valid' >&2; exit 1; }
  k8senv run -e base -- kubectl get widgets -A | tee /tmp/widgets
  grep -q '^demo ' /tmp/widgets || { echo 'k8senv run -- kubectl get widgets -A listed no widget in demo' >&2; exit 1; }
" || fail "install.sh, k8senv --version, validate or run in the root (above)"
first_run="$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
echo "test-install: from an empty root to the first k8senv run: $first_run s" >&2

echo "test-install: the wheel in a venv, a pytest lease from a detached up" >&2
inside "
  python3 -m venv --system-site-packages /venv
  /venv/bin/pip install -q --no-index --no-deps /release/$(basename "${wheels[0]}")
  PATH=/venv/bin:\$PATH
  [ \"\$(command -v k8senv)\" = /venv/bin/k8senv ] || { echo \"k8senv is \$(command -v k8senv), not the venv's\" >&2; exit 1; }
  /venv/bin/python -c 'import k8senv_pool'
  cd /work/examples
  k8senv up --detach -e base
  status=0
  /venv/bin/python -m pytest -q -p no:cacheprovider tests/test_lease.py || status=\$?
  k8senv down
  exit \$status
" || fail "the wheel, up --detach or the pytest lease in the root (above)"
echo "test-install: passed" >&2
