/* SPDX-License-Identifier: Apache-2.0 */
/* A thread rather than SIGALRM: nothing else in the process sees a signal, and the watch can
 * wait on the target's pidfd and on its stop at once. */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "criu-watch.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

struct CriuWatch {
        pthread_t thread;
        int stop_fd;
        int target_pidfd;
        pid_t swrk;
        unsigned timeout_sec, grace_sec;
        atomic_bool killed;
};

/* 1 when stopped, 0 after timeout_sec (0: none), 2 when the target exited first (with one to watch). */
static int wait_for(CriuWatch *w, unsigned timeout_sec) {
        int timeout_ms = timeout_sec > 0 ? (int) MIN(timeout_sec, INT32_MAX / 1000) * 1000 : -1;
        struct pollfd p[2] = {
                { .fd = w->stop_fd, .events = POLLIN },
                { .fd = w->target_pidfd, .events = POLLIN },
        };
        for (;;) {
                int n = poll(p, w->target_pidfd >= 0 ? 2 : 1, timeout_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || p[0].revents)
                        return 1;
                return n == 0 ? 0 : 2;
        }
}

static void *watch(void *userdata) {
        CriuWatch *w = userdata;
        int k = wait_for(w, w->timeout_sec);
        if (k == 2) {
                w->target_pidfd = -EBADF;
                k = wait_for(w, w->grace_sec);
                if (k == 0)
                        log_warning("CRIU (pid %i) did not answer within %u seconds of the process it dumped "
                                    "exiting; stopping it.", (int) w->swrk, w->grace_sec);
        }
        if (k == 0) {
                (void) kill(w->swrk, SIGKILL);
                atomic_store(&w->killed, true);
        }
        return NULL;
}

int criu_watch_start(pid_t swrk, unsigned timeout_sec, int target_pidfd, unsigned grace_sec, CriuWatch **ret) {
        *ret = NULL;
        if (timeout_sec == 0 && target_pidfd < 0)
                return 0;
        CriuWatch *w = malloc(sizeof(CriuWatch));
        if (!w)
                return -ENOMEM;
        *w = (CriuWatch) { .swrk = swrk, .timeout_sec = timeout_sec, .grace_sec = MAX(grace_sec, 1u), .target_pidfd = target_pidfd };
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->stop_fd < 0) {
                free(w);
                return negative_errno();
        }
        int r = pthread_create(&w->thread, NULL, watch, w);
        if (r != 0) {
                safe_close(w->stop_fd);
                free(w);
                return -r;
        }
        *ret = w;
        return 0;
}

bool criu_watch_stop(CriuWatch *w) {
        if (!w)
                return false;
        (void) eventfd_write(w->stop_fd, 1);
        (void) pthread_join(w->thread, NULL);
        bool killed = atomic_load(&w->killed);
        safe_close(w->stop_fd);
        free(w);
        return killed;
}
