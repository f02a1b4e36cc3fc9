/* SPDX-License-Identifier: Apache-2.0 */
/* cedana-criu-hook: CRIU's action script for the container checkpoints cedanad has runc make.
 *
 * runc runs CRIU and tells nobody when the images are complete; CRIU does tell its action
 * scripts (criu-runc.conf names this one). At "post-dump" the container is frozen, its network
 * locked and its images written: this asks the cedanad worker that started runc (the abstract
 * socket in CEDANA_COMMIT_SOCKET) to commit the checkpoint, and exits 0 only once it is recorded
 * complete. Any other answer makes CRIU fail the dump and let the container run on, untouched.
 * Nothing else may answer for the worker: it checks that the caller descends from its runc.
 *
 * At "setup-namespaces" of a restore the restored tree's namespaces exist but nothing of it is
 * restored yet: runc checkpoints a container's network namespace empty, so its loopback comes
 * back down, and sockets bound to 127.0.0.1 could not be restored. It is brought up here, where
 * runc itself runs OCI prestart hooks.
 *
 * Every other action is none of its business. */

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runc.h"

static int commit(const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        if (n == 0 || n >= sizeof(sa.sun_path) - 1)
                return EXIT_FAILURE;
        memcpy(sa.sun_path + 1, name, n); /* abstract */
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0)
                return EXIT_FAILURE;
        if (send(fd, RUNC_COMMIT_REQUEST, strlen(RUNC_COMMIT_REQUEST), MSG_NOSIGNAL) < 0)
                return EXIT_FAILURE;
        char answer = 1;
        ssize_t k;
        do
                k = recv(fd, &answer, 1, 0);
        while (k < 0 && errno == EINTR);
        return k == 1 && answer == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int loopback_up(const char *pid) {
        char path[64];
        struct stat ours, theirs;
        snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
        int ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || fstat(ns, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0)
                return EXIT_FAILURE;
        /* A container in its host's network has the host's loopback, up as it is. */
        if (ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
                return EXIT_SUCCESS;
        struct ifreq ifr = {};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        int s;
        if (setns(ns, CLONE_NEWNET) < 0 || (s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
            ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return EXIT_FAILURE;
        ifr.ifr_flags |= IFF_UP;
        return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(void) {
        const char *action = getenv("CRTOOLS_SCRIPT_ACTION"), *socket_name = getenv(RUNC_COMMIT_SOCKET_ENV);
        const char *pid = getenv("CRTOOLS_INIT_PID");
        if (!action)
                return EXIT_SUCCESS;
        if (strcmp(action, "post-dump") == 0)
                /* Without a socket: not a checkpoint a cedanad worker waits for. */
                return socket_name ? commit(socket_name) : EXIT_SUCCESS;
        if (strcmp(action, "setup-namespaces") == 0 && pid && strspn(pid, "0123456789") == strlen(pid) && *pid)
                return loopback_up(pid);
        return EXIT_SUCCESS;
}
