// Unix-socket helpers of the pool API that need _GNU_SOURCE (SO_PEERCRED and its struct ucred),
// which Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "CK8sEnvSupport.h"

int k8senv_peer_credentials(int fd, int32_t *pid, uint32_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    return 0;
}

int k8senv_so_peercred(void) {
    return SO_PEERCRED;
}

_Static_assert(sizeof(struct ucred) == sizeof(k8senv_ucred), "k8senv_ucred has struct ucred's layout");
