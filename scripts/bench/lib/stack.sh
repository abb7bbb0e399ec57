# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are the interface to the sourcing script
# scripts/bench/lib/stack.sh — shared helpers for benchmark scripts: etcd + kube-apiserver on 127.0.0.1.
#
# Source it (bash >= 5: uses EPOCHREALTIME), then:
#   stack_require_binaries            # K8SENV_KUBE_APISERVER / K8SENV_ETCD (eval install-binaries.sh first)
#   trap stack_cleanup EXIT           # kills every process started through this file
#   dir=$(mktemp -d); stack_gen_pki "$dir"
#   stack_start_etcd "$dir"           # sets STACK_ETCD_PID, STACK_ETCD_URL
#   stack_start_apiserver "$dir" "$STACK_ETCD_URL"   # sets STACK_APISERVER_PID/_PORT/_URL/_SPAWN
#   stack_wait_url "$STACK_APISERVER_URL/livez" "$dir" 60 "$STACK_APISERVER_PID"
#   stack_stop "$STACK_APISERVER_PID"; stack_stop "$STACK_ETCD_PID"
#
# The flags are the ones documented in docs/reference/apiserver-flags.md. Extra kube-apiserver
# arguments can be passed in the array STACK_APISERVER_EXTRA_ARGS, extra etcd ones in
# STACK_ETCD_EXTRA_ARGS. STACK_LOG_LEVEL (default 1) is the apiserver's -v.

STACK_PIDS=()
STACK_APISERVER_EXTRA_ARGS=("${STACK_APISERVER_EXTRA_ARGS[@]}")
STACK_ETCD_EXTRA_ARGS=("${STACK_ETCD_EXTRA_ARGS[@]}")

stack_log() { printf '%s: %s\n' "${STACK_LOG_PREFIX:-stack}" "$*" >&2; }

stack_now() { printf '%s\n' "$EPOCHREALTIME"; }
# stack_elapsed START -> seconds since START with 3 decimals
stack_elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f\n", b-a}'; }

stack_require_binaries() {
  local v
  for v in K8SENV_KUBE_APISERVER K8SENV_ETCD; do
    if [[ -z "${!v:-}" || ! -x "${!v}" ]]; then
      stack_log "error: $v is not set to an executable; run: eval \"\$(scripts/install-binaries.sh)\""
      return 1
    fi
  done
}

# "v1.20.2" -> minor number 20
stack_apiserver_minor() {
  "$K8SENV_KUBE_APISERVER" --version 2>/dev/null | sed -n 's/^Kubernetes v1\.\([0-9]*\).*/\1/p'
}

# stack_free_port -> sets STACK_PORT to a free TCP port on 127.0.0.1 below Linux's ephemeral
# range (32768+), so outgoing connections do not steal it. Not run in $(...): RANDOM must advance
# in this shell. Racy by nature: callers retry on bind failure.
stack_free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$(( 20000 + RANDOM % 12000 ))
    if [[ "$p" != "${STACK_PORT_AVOID:-}" && -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]]; then
      STACK_PORT="$p"; return 0
    fi
  done
  return 1
}

# stack_gen_pki DIR: CA + serving cert (ECDSA P-256, SAN IP:127.0.0.1, DNS:localhost),
# service-account key pair (ECDSA P-256), bearer token file, kubeconfig. All secrets 0600.
stack_gen_pki() {
  local d="$1" token
  mkdir -p "$d"
  (
    umask 077
    cd "$d" || exit 1
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=k8senv-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out ca.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out serving.key 2>/dev/null
    openssl req -new -key serving.key -subj "/CN=kube-apiserver" -out serving.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost" > serving.ext
    openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
      -days 3650 -extfile serving.ext -out serving.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f serving.csr serving.ext ca.srl
  ) || return 1
  token="$(openssl rand -hex 32)"
  ( umask 077; printf '%s\n' "$token" > "$d/token"
    # token,user,uid,"group1,group2"
    printf '%s,k8senv-admin,k8senv-admin,"system:masters"\n' "$token" > "$d/tokens.csv" )
  STACK_TOKEN="$token"
}

# stack_write_kubeconfig DIR URL -> DIR/kubeconfig (certificate-authority-data + token)
stack_write_kubeconfig() {
  local d="$1" url="$2"
  ( umask 077
    cat > "$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8senv
  cluster:
    server: $url
    certificate-authority-data: $(base64 -w0 < "$d/ca.crt")
users:
- name: k8senv-admin
  user:
    token: $(cat "$d/token")
contexts:
- name: k8senv
  context: {cluster: k8senv, user: k8senv-admin}
current-context: k8senv
EOF
  )
}

# _stack_spawn LOG CMD...: start CMD in its own session/process group (setsid execs in place,
# since a background job of a non-interactive shell is no group leader), output to LOG.
# Sets STACK_SPAWNED_PID. Must not run in $(...) so the pid stays our child and is recorded.
_stack_spawn() {
  local log="$1"; shift
  setsid "$@" >"$log" 2>&1 < /dev/null &
  STACK_SPAWNED_PID=$!
  STACK_PIDS+=("$STACK_SPAWNED_PID")
}

# stack_start_etcd DIR: single member on 127.0.0.1 (client + peer), data in DIR/etcd.
# Sets STACK_ETCD_PID, STACK_ETCD_URL. Waits for /health. Retries on port conflicts.
stack_start_etcd() {
  local d="$1" cport pport attempt start
  for attempt in 1 2 3 4 5; do
    stack_free_port || return 1; cport="$STACK_PORT"
    STACK_PORT_AVOID="$cport" stack_free_port || return 1; pport="$STACK_PORT"
    rm -rf "$d/etcd"; mkdir -p "$d/etcd"; chmod 700 "$d/etcd"
    STACK_ETCD_URL="http://127.0.0.1:$cport"
    _stack_spawn "$d/etcd.log" "$K8SENV_ETCD" \
      --name=default \
      --data-dir="$d/etcd" \
      --listen-client-urls="$STACK_ETCD_URL" \
      --advertise-client-urls="$STACK_ETCD_URL" \
      --listen-peer-urls="http://127.0.0.1:$pport" \
      --initial-advertise-peer-urls="http://127.0.0.1:$pport" \
      --initial-cluster="default=http://127.0.0.1:$pport" \
      --initial-cluster-state=new \
      --logger=zap --log-outputs=stderr --log-level=warn \
      "${STACK_ETCD_EXTRA_ARGS[@]}"
    STACK_ETCD_PID="$STACK_SPAWNED_PID"
    start="$EPOCHREALTIME"
    while kill -0 "$STACK_ETCD_PID" 2>/dev/null; do
      if curl -fsS -m 1 "$STACK_ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; then
        STACK_ETCD_READY_S="$(stack_elapsed "$start")"
        return 0
      fi
      sleep 0.05
    done
    if grep -q 'address already in use' "$d/etcd.log" 2>/dev/null; then
      stack_log "etcd port conflict (attempt $attempt), retrying"; continue
    fi
    stack_log "etcd exited early; log tail:"; tail -n 20 "$d/etcd.log" >&2
    return 1
  done
  return 1
}

# The kube-apiserver argument list for this version, into the array STACK_APISERVER_ARGS.
# stack_apiserver_args DIR ETCD_URL PORT
stack_apiserver_args() {
  local d="$1" etcd="$2" port="$3" minor
  minor="$(stack_apiserver_minor)"
  STACK_APISERVER_ARGS=(
    --advertise-address=127.0.0.1
    --bind-address=127.0.0.1
    --secure-port="$port"
    --cert-dir="$d/certs"
    --tls-cert-file="$d/serving.crt"
    --tls-private-key-file="$d/serving.key"
    --etcd-servers="$etcd"
    --token-auth-file="$d/tokens.csv"
    --anonymous-auth=false
    --authorization-mode=AlwaysAllow
    --service-account-issuer=https://kubernetes.default.svc.cluster.local
    --service-account-key-file="$d/sa.pub"
    --service-account-signing-key-file="$d/sa.key"
    --service-cluster-ip-range=10.0.0.0/24
    --watch-cache=false
    --disable-admission-plugins=ServiceAccount
    --enable-priority-and-fairness=false
    --profiling=false
    --v="${STACK_LOG_LEVEL:-1}"
  )
  # --insecure-port exists (and must be 0) only up to 1.23.
  if [[ -n "$minor" && "$minor" -lt 24 ]]; then STACK_APISERVER_ARGS+=(--insecure-port=0); fi
  STACK_APISERVER_ARGS+=("${STACK_APISERVER_EXTRA_ARGS[@]}")
}

# stack_start_apiserver DIR ETCD_URL: sets STACK_APISERVER_PID, _PORT, _URL, _SPAWN (EPOCHREALTIME
# just before the spawn) and writes DIR/kubeconfig. Does not wait for readiness.
stack_start_apiserver() {
  local d="$1" etcd="$2"
  mkdir -p "$d/certs"
  stack_free_port || return 1
  STACK_APISERVER_PORT="$STACK_PORT"
  STACK_APISERVER_URL="https://127.0.0.1:$STACK_APISERVER_PORT"
  stack_apiserver_args "$d" "$etcd" "$STACK_APISERVER_PORT"
  stack_write_kubeconfig "$d" "$STACK_APISERVER_URL"
  STACK_APISERVER_SPAWN="$EPOCHREALTIME"
  _stack_spawn "$d/apiserver.log" "$K8SENV_KUBE_APISERVER" "${STACK_APISERVER_ARGS[@]}"
  STACK_APISERVER_PID="$STACK_SPAWNED_PID"
}

# stack_wait_url URL DIR TIMEOUT_S [PID]: poll every 50 ms with the bearer token and the CA until
# HTTP 200. Returns 1 on timeout, 2 when PID exits first (after printing its log tail).
stack_wait_url() {
  local url="$1" d="$2" timeout="$3" pid="${4:-}" start code
  start="$EPOCHREALTIME"
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' -m 2 --cacert "$d/ca.crt" \
      -H "Authorization: Bearer $(cat "$d/token")" "$url" 2>/dev/null || true)"
    [[ "$code" == 200 ]] && return 0
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      stack_log "process $pid exited while waiting for $url; log tail:"
      tail -n 20 "$d/apiserver.log" >&2 2>/dev/null
      return 2
    fi
    if awk -v a="$start" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN{exit !(b-a>t)}'; then
      stack_log "timeout after ${timeout}s waiting for $url (last HTTP code $code)"
      return 1
    fi
    sleep 0.05
  done
}

# stack_stop PID [GRACE_S]: SIGTERM to the process group, wait up to GRACE_S (default 5), SIGKILL.
stack_stop() {
  local pid="$1" grace="${2:-5}" i
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Stop everything started through _stack_spawn (newest first). Safe to call twice.
stack_cleanup() {
  local i
  for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
    stack_stop "${STACK_PIDS[i]}" 3
  done
  STACK_PIDS=()
}

# stack_leftover_pids DIR: the processes (not this shell) whose command line names DIR.
stack_leftover_pids() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    if tr '\0' ' ' 2>/dev/null < "$f" | grep -qF -- "$1"; then printf '%s\n' "$pid"; fi
  done
}
# stack_kill_leftovers DIR: a last resort after `k8senv down` — each of those gets SIGTERM, then,
# after up to 3 s, SIGKILL.
stack_kill_leftovers() {
  local pids pid i
  pids="$(stack_leftover_pids "$1")"
  [[ -z "$pids" ]] && return 0
  stack_log "stopping leftover processes: $(echo "$pids" | tr '\n' ' ')"
  # shellcheck disable=SC2086  # word splitting of the pid list is intended
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    pids="$(stack_leftover_pids "$1")"; [[ -z "$pids" ]] && break; sleep 0.05
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

# stack_median V1 V2 ... -> median with 3 decimals
stack_median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if (NR==0) exit 1;
    if (NR%2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}
