/* SPDX-License-Identifier: Apache-2.0 */
/* cedana-criu-hook: CRIU's action script for the container checkpoints cedanad has runc make,
 * and for the restores cedanad streams (which run the command-line criu, not its RPC service).
 *
 * runc runs CRIU and tells nobody when the images are complete; CRIU does tell its action
 * scripts (criu-runc.conf names this one). At "post-dump" the container is frozen, its network
 * locked and its images written: this asks the cedanad worker that started runc (the abstract
 * socket in CEDANA_COMMIT_SOCKET) to commit the checkpoint, and exits 0 only once it is recorded
 * complete. Any other answer makes CRIU fail the dump and let the container run on, untouched.
 * Nothing else may answer for the worker: it checks that the caller descends from its runc.
 *
 * At "pre-resume" of a streamed restore every task is built and held by CRIU, its page images
 * read: the worker finishes verifying what CRIU was given and checks the tree before anything of
 * it runs; any answer but yes makes CRIU kill the tree.
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

#include "criu-hook.h"

/* Sends request and waits for the worker's answer. */
static int ask(const char *name, const char *request) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        if (n == 0 || n >= sizeof(sa.sun_path) - 1)
                return EXIT_FAILURE;
        memcpy(sa.sun_path + 1, name, n); /* abstract */
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0)
                return EXIT_FAILURE;
        if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
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

static bool is_pid(const char *s) {
        return s && *s && strlen(s) < 12 && strspn(s, "0123456789") == strlen(s);
}

int main(void) {
        const char *action = getenv("CRTOOLS_SCRIPT_ACTION"), *socket_name = getenv(CRIU_HOOK_SOCKET_ENV);
        const char *pid = getenv("CRTOOLS_INIT_PID");
        if (!action)
                return EXIT_SUCCESS;
        /* Without a socket: not a dump or restore a cedanad worker waits for. */
        if (strcmp(action, "post-dump") == 0)
                return socket_name ? ask(socket_name, CRIU_HOOK_POST_DUMP) : EXIT_SUCCESS;
        if (strcmp(action, "pre-resume") == 0 && socket_name) {
                char request[CRIU_HOOK_REQUEST_MAX];
                if (!is_pid(pid))
                        return EXIT_FAILURE;
                snprintf(request, sizeof(request), CRIU_HOOK_PRE_RESUME "%s", pid);
                return ask(socket_name, request);
        }
        if (strcmp(action, "setup-namespaces") == 0 && is_pid(pid))
                return loopback_up(pid);
        return EXIT_SUCCESS;
}
