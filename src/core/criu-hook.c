/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "criu-hook.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

int criu_hook_socket_new(char name[static 64], int *ret_fd) {
        char random[17];
        int r = random_alnum(random, sizeof(random));
        if (r < 0)
                return r;
        snprintf(name, 64, "cedana-commit-%s", random);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        memcpy(sa.sun_path + 1, name, n);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
            listen(fd, 4) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Whether pid is below ancestor: CRIU's action script, started by our CRIU (or the runc that
 * started it). */
static bool descends_from(pid_t pid, pid_t ancestor) {
        for (unsigned depth = 0; pid > 1 && depth < 16; depth++) {
                if (pid == ancestor)
                        return true;
                char path[64];
                _cleanup_free_ char *stat = NULL;
                snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
                if (read_full_file_at(AT_FDCWD, path, 4096, &stat, NULL) < 0)
                        return false;
                const char *end = strrchr(stat, ')');
                int ppid;
                if (!end || sscanf(end + 1, " %*c %i", &ppid) != 1)
                        return false;
                pid = ppid;
        }
        return false;
}

/* One connection and its request, if the peer runs as uid (or as root) and descends from
 * ancestor; otherwise logged and dropped (-EPERM). */
static int hook_accept(int listen_fd, pid_t ancestor, uid_t uid, char request[static CRIU_HOOK_REQUEST_MAX],
                       int *ret_fd) {
        _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t l = sizeof(cred);
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return negative_errno();
        if ((cred.uid != 0 && cred.uid != uid) || !descends_from(cred.pid, ancestor)) {
                log_warning("Refused a request from PID %i, which is not CRIU's for this operation.", (int) cred.pid);
                return -EPERM;
        }
        /* The hook sends at once; a blocking read of a peer we checked. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return negative_errno();
        ssize_t k = recv(fd, request, CRIU_HOOK_REQUEST_MAX - 1, 0);
        if (k <= 0)
                return k < 0 ? negative_errno() : -EBADMSG;
        request[k] = 0;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int criu_hook_serve(int listen_fd, int pidfd, pid_t child, uid_t uid, CriuHookServe serve, void *userdata) {
        for (;;) {
                struct pollfd p[] = { { .fd = listen_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                char request[CRIU_HOOK_REQUEST_MAX];
                _cleanup_close_ int fd = -EBADF;
                if ((p[0].revents & POLLIN) && hook_accept(listen_fd, child, uid, request, &fd) >= 0) {
                        char answer = serve(request, userdata) >= 0 ? 0 : 1;
                        (void) send(fd, &answer, 1, MSG_NOSIGNAL);
                }
                if (p[1].revents)
                        return 0;
        }
}
