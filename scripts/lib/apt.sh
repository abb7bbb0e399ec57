# shellcheck shell=bash
# scripts/lib/apt.sh — Debian packages for the scripts that install what k8senv needs
# (install-binaries.sh, action/steps.sh). The sourcing script defines log and die.
#
#   apt_install PKG…     installs those of the packages that are not installed (apt-get update
#                        once per script run first; as root, through sudo when needed)
#   apt_update_once      apt-get update, unless done already (APT_UPDATED=0 asks again)
#   as_root CMD…         CMD as root

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
as_root() { "${SUDO[@]}" "$@"; }

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
}

apt_install() {
  local package missing=()
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} yourself"
  apt_update_once
  log "apt-get install -y ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
