#define _GNU_SOURCE
#include "CK8sEnvSupport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#endif

pid_t k8senv_spawn(const char *path, char *const argv[], char *const envp[], int log_fd,
                   const char *working_directory, int flags) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to execve.
        int err = 0;
#ifdef __linux__
        if (flags & K8SENV_SPAWN_DIE_WITH_PARENT) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) { err = errno; goto fail; }
            if (getppid() != parent) { err = ESRCH; goto fail; }  // the parent died already
        }
#endif
        if (flags & K8SENV_SPAWN_NEW_SESSION) {
            if (setsid() < 0) { err = errno; goto fail; }
        } else if (flags & K8SENV_SPAWN_NEW_GROUP) {
            if (setpgid(0, 0) != 0) { err = errno; goto fail; }
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < 32; s++) {
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        }
        if (!(flags & K8SENV_SPAWN_INHERIT_STDIN)) {
            int devnull = open("/dev/null", O_RDONLY);
            if (devnull < 0) { err = errno; goto fail; }
            if (dup2(devnull, 0) < 0) { err = errno; goto fail; }
        }
        if (log_fd >= 0) {
            if (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) { err = errno; goto fail; }
        }
        // Nothing else k8senv has open reaches the child (a pipe of a caller's, another
        // child's log), except the report pipe, which is close-on-exec.
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 4096; fd++) {
                if (fd != report[1]) fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
        }
        if (working_directory != NULL && chdir(working_directory) != 0) { err = errno; goto fail; }
        execve(path, argv, envp);
        err = errno;
    fail:
        (void)!write(report[1], &err, sizeof(err));
        _exit(127);
    }
    close(report[1]);
    int child_err = 0;
    ssize_t n;
    do {
        n = read(report[0], &child_err, sizeof(child_err));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof(child_err)) {
        // exec failed: reap the child and report its errno.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        errno = child_err;
        return -1;
    }
    return pid;
}
