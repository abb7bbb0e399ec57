#ifndef CK8SENV_SUPPORT_H
#define CK8SENV_SUPPORT_H
#include <sys/types.h>

/// Forks and execs `path` with `argv`/`envp` in a new process group, stdin from /dev/null,
/// stdout and stderr to `log_fd`, and (on Linux) SIGKILL as its parent-death signal, so the
/// child dies with the thread that forked it. Call it from a thread that lives as long as the
/// child (the signal follows the forking thread). Returns the child's pid, or -1 with errno set
/// (an exec failure in the child is reported through a close-on-exec pipe).
pid_t k8senv_spawn(const char *path, char *const argv[], char *const envp[], int log_fd,
                   const char *working_directory);

#endif
