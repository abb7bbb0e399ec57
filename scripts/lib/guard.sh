# shellcheck shell=bash
# scripts/lib/guard.sh — runs a test command as the guard of everything it starts.
#
#   source scripts/lib/guard.sh
#   guarded swift test ...     # the command's status, or 1 if it left processes running
#
# The command runs with K8SENV_TEST_RUN set to a fresh marker. Every process the tests start
# inherits it (k8senv, its detached supervisors, kube-apiserver, etcd, k8senv-kine, `run`'s
# commands), so it marks them wherever they are in the process tree, reparented or in their own
# session. When the command ends — passed, failed or crashed — the guard looks for marked
# processes: after a short grace for processes still exiting, whatever is left is listed, killed,
# and the run fails (a test process that crashed is a failure anyway; a green one that leaks is
# one too).

# The pids of live processes (not zombies) whose environment holds K8SENV_TEST_RUN=$1.
guard_marked() {
  local file pid state
  for file in $(grep -lzxF -- "K8SENV_TEST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${file#/proc/}; pid=${pid%/environ}
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
    [[ $state == Z ]] && continue
    printf '%s\n' "$pid"
  done
}

guarded() {
  local marker status=0 left deadline quiet pid
  marker="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  K8SENV_TEST_RUN="$marker" "$@" || status=$?
  # Clean means no marked process in three scans 0.2 s apart, not one: a process in the middle
  # of an exec shows an empty environ (the kernel has not set the new one up yet), so a single
  # scan can miss a detached child that is just exec'ing.
  deadline=$((SECONDS + 10)) quiet=0
  while :; do
    left="$(guard_marked "$marker")"
    if [[ -z $left ]]; then
      ((++quiet < 3)) || break
    else
      quiet=0
    fi
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  if [[ -n $left ]]; then
    printf 'guard: processes started by `%s` still running after it ended:\n' "$*" >&2
    for pid in $left; do
      printf '  %s: %s\n' "$pid" "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)" >&2
      kill -KILL "$pid" 2>/dev/null || true
    done
    ((status != 0)) || status=1
  else
    printf 'guard: nothing left running by `%s`\n' "$*" >&2
  fi
  return "$status"
}
