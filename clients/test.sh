#!/usr/bin/env bash
# The Go and Python clients' tests (no network, no module download; the Go envtest module's
# client-go comes from the unpacked Kubernetes source through scripts/go-offline.sh).
#
#   clients/test.sh                 unit tests: each client against a fake service of its own
#   clients/test.sh --integration   integration tests only, against the running pool service
#                                   whose socket the caller exports as K8SENV_POOL
#                                   (`k8senv up --detach` prints the export)
#
# Integration knobs (see clients/go/README.md): K8SENV_POOL_ENV (default isolation),
# K8SENV_POOL_CR_GROUP/_VERSION/_PLURAL/_KIND/_SPEC, K8SENV_POOL_SEED, K8SENV_POOL_TIMEOUT
# (seconds a test waits for a free instance; 300 here unless set), K8SENV_CLIENTS (go, python, or
# both, the default: whose integration tests run).
# GO and PYTHON name the toolchains (default: Debian's /usr/bin/go and /usr/bin/python3).
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

integration=0
case "${1:-}" in
  "") ;;
  --integration) integration=1 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "clients/test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-/usr/bin/go}
PYTHON=${PYTHON:-/usr/bin/python3}

cache=${XDG_CACHE_HOME:-$HOME/.cache}/k8senv
export GOCACHE="$cache/go-build" GOPATH="$cache/gopath"
export GO111MODULE=on GOPROXY=off GOFLAGS=-mod=readonly GOWORK=off

need_python_modules() { # need_python_modules MODULE...: fails with the Debian packages to install
  local m missing=()
  for m in "$@"; do
    "$PYTHON" -c "import $m" 2>/dev/null || missing+=("$m")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "clients/test.sh: $PYTHON lacks ${missing[*]} (apt-get install python3-pytest python3-pytest-xdist python3-kubernetes)" >&2
    exit 2
  fi
}

failed=()
run() { # run NAME DIR COMMAND...: runs COMMAND in DIR, remembers NAME when it fails
  local name=$1 dir=$2
  shift 2
  echo "== $name: $*"
  if ! (cd "$dir" && "$@"); then
    failed+=("$name")
  fi
}

# go_offline_snippets: scripts/go-offline.sh builds a folder outside the checkout without a go.mod
# (as the docs' Go files are built): a main.go and an x_test.go using client-go and both clients.
go_offline_snippets() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/k8senv-go-offline.XXXXXX")
  cat >"$dir/main.go" <<'GO'
package main

import (
	"fmt"

	k8senv "github.com/k8senv/k8senv/clients/go"
	"github.com/k8senv/k8senv/clients/go/envtest"
)

func main() {
	fmt.Println(envtest.RESTConfig(&k8senv.Instance{Server: "https://127.0.0.1:6443"}).Host)
}
GO
  cat >"$dir/x_test.go" <<'GO'
package main

import (
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestClientset(t *testing.T) {
	if _, err := kubernetes.NewForConfig(&rest.Config{Host: "https://127.0.0.1:6443"}); err != nil {
		t.Fatal(err)
	}
}
GO
  local rc=0 out
  out=$("$here/../scripts/go-offline.sh" "$dir" go run .) && [ "$out" = "https://127.0.0.1:6443" ] || rc=1
  "$here/../scripts/go-offline.sh" "$dir" go test ./... || rc=1
  rm -rf "$dir"
  return "$rc"
}

if [ "$integration" = 0 ]; then
  unset K8SENV_POOL_INTEGRATION
  need_python_modules pytest
  run "go unit tests" "$here/go" "$GO" test ./...
  run "go envtest unit tests" "$here/go/envtest" "$here/../scripts/go-offline.sh" . go test ./...
  run "go-offline.sh on a folder without go.mod" "$here" go_offline_snippets
  run "python unit tests" "$here/python" "$PYTHON" -m pytest -q tests
else
  if [ -z "${K8SENV_POOL:-}" ]; then
    echo "clients/test.sh --integration: export K8SENV_POOL, the pool service's socket (k8senv up --detach prints it)" >&2
    exit 2
  fi
  if [ ! -S "$K8SENV_POOL" ]; then
    echo "clients/test.sh --integration: K8SENV_POOL=$K8SENV_POOL is not a socket: no k8senv pool service is running (start one with \`k8senv up --detach\`)" >&2
    exit 2
  fi
  # K8SENV_CLIENTS: which clients' integration tests to run (go, python, or both: the default).
  clients=${K8SENV_CLIENTS:-go python}
  export K8SENV_POOL_INTEGRATION=1
  export K8SENV_POOL_TIMEOUT="${K8SENV_POOL_TIMEOUT:-300}"
  if [[ " $clients " == *" go "* ]]; then
    run "go integration tests" "$here/go" "$GO" test -count=1 -parallel 20 -run '^TestIntegration(Audit)?$' ./...
    run "go envtest integration tests" "$here/go/envtest" "$here/../scripts/go-offline.sh" . \
      go test -count=1 -run '^TestIntegrationEnvtest' ./...
  fi
  if [[ " $clients " == *" python "* ]]; then
    need_python_modules pytest xdist kubernetes
    run "python integration tests" "$here/python" \
      "$PYTHON" -m pytest -q -n 4 -p k8senv_pool.pytest_plugin tests/test_integration.py
    run "python fault soak" "$here/python" "$PYTHON" -m pytest -q tests/test_soak.py
  fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'clients/test.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "clients/test.sh: all passed"
