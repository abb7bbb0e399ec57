#!/usr/bin/env bash
# example.sh — the README's first command: brings up examples/k8senv.yaml on real kube-apiserver
# instances (CRDs and seeds applied), lists what is in them with kubectl, and tears them down.
#
# Usage: scripts/example.sh [k8senv run options, e.g. --profile ci]
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh)"
k8senv validate -f examples/k8senv.yaml
exec k8senv run -f examples/k8senv.yaml "$@" -- \
  sh -c 'for k in $(echo "$K8SENV_KUBECONFIGS" | tr ":" " "); do
           echo "== $k"; kubectl --kubeconfig "$k" get namespaces,widgets.example.k8senv.dev,configmaps -A
         done'
