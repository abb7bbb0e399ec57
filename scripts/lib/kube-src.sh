# shellcheck shell=bash
# scripts/lib/kube-src.sh — where the unpacked Debian kubernetes source is (install-binaries.sh
# unpacks it to build kube-apiserver; go-offline.sh compiles client-go from its vendor/ folder).
#
#   kube_src_dir       the folder `apt-get source kubernetes` unpacks into:
#                      ${XDG_CACHE_HOME:-$HOME/.cache}/k8senv/src
#   resolve_kube_src   prints the source tree's physical path: $K8SENV_KUBERNETES_SRC when it
#                      is one, else the first kubernetes-*/ in kube_src_dir; fails when none is

kube_src_dir() { printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/k8senv/src"; }

resolve_kube_src() {
  local d
  if [[ -n "${K8SENV_KUBERNETES_SRC:-}" && -d "${K8SENV_KUBERNETES_SRC}/cmd/kube-apiserver" ]]; then
    (cd "$K8SENV_KUBERNETES_SRC" && pwd -P); return 0
  fi
  for d in "$(kube_src_dir)"/kubernetes-*/; do
    [[ -d "$d/cmd/kube-apiserver" && -f "$d/debian/rules" ]] || continue
    (cd "$d" && pwd -P); return 0
  done
  return 1
}
