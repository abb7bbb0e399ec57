#!/usr/bin/env bash
# trace-screenshot.sh — remakes docs/how-to/images/start-trace.png, the picture on
# docs/how-to/see-where-start-time-goes.md: `k8senv up --detach --trace` on a copy of examples/
# with an empty snapshot cache (so the picture shows the build: CRDs, seed sets, snapshot saves),
# `k8senv down`, the trace drawn by scripts/trace-render.py as an HTML page, and that page
# photographed by Debian's Chromium, headless.
#
# Usage: scripts/trace-screenshot.sh [OUT.png]   (default: docs/how-to/images/start-trace.png)
#   Run by hand (no test runs it: it needs a browser). Installs nothing: it needs chromium
#   (Debian: apt-get install chromium), python3, and k8senv with kube-apiserver as the tests
#   find them (eval "$(scripts/setup.sh)" sets up both: K8SENV_BINARY or k8senv on PATH, and
#   K8SENV_KUBE_APISERVER or kube-apiserver on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out="${1:-$root/docs/how-to/images/start-trace.png}"
[[ $out == /* ]] || out="$root/$out"

browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z $browser ]]; then
  echo "trace-screenshot: chromium is missing; on Debian: apt-get install chromium" >&2
  exit 2
fi
command -v python3 >/dev/null || { echo "trace-screenshot: python3 is missing; on Debian: apt-get install python3" >&2; exit 2; }
k8senv="${K8SENV_BINARY:-$(command -v k8senv || true)}"
if [[ -z $k8senv || ! -x $k8senv ]]; then
  echo "trace-screenshot: no k8senv (K8SENV_BINARY or on PATH); build it and set it up with: eval \"\$(scripts/setup.sh)\"" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/k8senv-trace-screenshot.XXXXXX")"
started=""
cleanup() {
  # A failure between up and down leaves the detached run: stop it before removing its folder.
  if [[ -n $started ]]; then (cd "$work/examples" && "$k8senv" down >/dev/null 2>&1) || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cp -R examples crds "$work/"
rm -rf "$work/examples/.k8senv"
# The example's own cache, empty: every environment builds its snapshot.
export XDG_CACHE_HOME="$work/cache"

cd "$work/examples"
started=1
"$k8senv" up --detach --quiet --trace "$work/start.json" >/dev/null
"$k8senv" down >/dev/null
started=""

size="$(python3 "$root/scripts/trace-render.py" "$work/start.json" "$work/start.html" \
  --title "k8senv up --detach --trace start.json (examples/k8senv.yaml, empty cache)")"
mkdir -p "$(dirname "$out")"
# --no-sandbox: Chromium refuses to run as root otherwise (CI and these machines are root); the
# page is our own file and loads nothing.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --user-data-dir="$work/chromium" --window-size="$size" --screenshot="$out" "file://$work/start.html" \
  >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
[[ -s $out ]] || { echo "trace-screenshot: chromium wrote no $out" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "wrote $out ($size)"
