#ifndef CK8SENV_SUPPORT_H
#define CK8SENV_SUPPORT_H
#include <sys/types.h>
#include <stdint.h>

/// Forks and execs `path` with `argv`/`envp` in a new process group, stdin from /dev/null,
/// stdout and stderr to `log_fd`, and (on Linux) SIGKILL as its parent-death signal, so the
/// child dies with the thread that forked it. Call it from a thread that lives as long as the
/// child (the signal follows the forking thread). Returns the child's pid, or -1 with errno set
/// (an exec failure in the child is reported through a close-on-exec pipe).
pid_t k8senv_spawn(const char *path, char *const argv[], char *const envp[], int log_fd,
                   const char *working_directory, int flags);

/// Flags of k8senv_spawn.
enum {
    /// Put the child in a new process group (stop signals go to the whole group).
    K8SENV_SPAWN_NEW_GROUP = 1,
    /// SIGKILL the child when the forking thread (and so k8senv) dies.
    K8SENV_SPAWN_DIE_WITH_PARENT = 2,
    /// Start a new session (a detached supervisor); implies a new group.
    K8SENV_SPAWN_NEW_SESSION = 4,
    /// Keep k8senv's stdin instead of /dev/null.
    K8SENV_SPAWN_INHERIT_STDIN = 8,
};

/// PEM-encoded key material made by k8senv_make_certificates. Free with k8senv_free_certificates.
typedef struct {
    char *ca_cert;
    char *ca_key;
    char *serving_cert;
    char *serving_key;
    char *service_account_key;
    char *service_account_public_key;
    char *error;
} k8senv_certificates;

/// Makes a CA (ECDSA P-256, self-signed, valid `days`), a serving certificate signed by it for
/// the comma-separated `dns_names` and `ip_addresses`, and a service-account signing key pair.
/// On failure `error` holds a message and the other fields are NULL.
k8senv_certificates k8senv_make_certificates(const char *common_name, const char *dns_names,
                                             const char *ip_addresses, int days);
void k8senv_free_certificates(k8senv_certificates *certificates);


/// The pid and uid of a Unix socket's peer (SO_PEERCRED); 0, or -1 with errno.
int k8senv_peer_credentials(int fd, int32_t *pid, uint32_t *uid);
/// SO_PEERCRED, for a caller that reads the option itself (as SwiftNIO's socket options do).
int k8senv_so_peercred(void);
/// struct ucred's layout (pid, uid, gid), which the system header declares only with _GNU_SOURCE.
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} k8senv_ucred;

#endif
