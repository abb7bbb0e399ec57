// Unix-socket helpers of the pool API that need _GNU_SOURCE (accept4, SO_PEERCRED's struct
// ucred, POLLRDHUP), which Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "CK8sEnvSupport.h"

int k8senv_accept(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

int k8senv_peer_credentials(int fd, int32_t *pid, uint32_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    return 0;
}

int k8senv_peer_closed(int fd) {
    struct pollfd entry = {.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (poll(&entry, 1, 0) <= 0) return 0;
    if (entry.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    char byte;
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}
