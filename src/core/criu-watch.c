/* SPDX-License-Identifier: Apache-2.0 */
/* A thread rather than SIGALRM: nothing else in the process sees a signal, and the watch can
 * wait for its stop while it looks at the tree now and then. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "criu-watch.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "progress.h"

/* How often the tree is looked at: CRIU seizes a task long before a dump of it can end. */
#define TICK_MS 100

typedef struct Task {
        pid_t pid;
        int pidfd;   /* -EBADF once it is gone */
        bool seized; /* seen traced by CRIU */
} Task;

struct CriuWatch {
        pthread_t thread;
        int stop_fd;
        pid_t swrk;
        bool group; /* swrk leads a process group that CRIU is part of (runc's): all of it goes */
        unsigned timeout_sec, grace_sec;
        Task *tasks; /* the dumped tree as it was at the start, tasks[0] its root */
        size_t n_tasks;
        atomic_bool killed;
};

static uint64_t now_ms(void) {
        return now_monotonic_usec() / 1000;
}

static pid_t tracer_of(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        _cleanup_free_ char *text = NULL;
        if (read_full_file_at(AT_FDCWD, path, 1 << 16, &text, NULL) < 0)
                return 0;
        const char *t = strstr(text, "\nTracerPid:");
        return t ? (pid_t) strtol(t + STRLEN("\nTracerPid:"), NULL, 10) : 0;
}

static bool exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* Whether the dump is lost: its root exited, or a task CRIU had seized did (CRIU gives up on
 * either). Notes which tasks CRIU has seized meanwhile; one that exits before it is seized was
 * never part of the dump. */
static bool tree_lost(CriuWatch *w) {
        for (size_t i = 0; i < w->n_tasks; i++) {
                Task *t = &w->tasks[i];
                if (t->pidfd < 0)
                        continue;
                if (exited(t->pidfd)) {
                        t->pidfd = safe_close(t->pidfd);
                        if (i == 0 || t->seized)
                                return true;
                        continue;
                }
                /* A pid read after its task ended could be another's: the pidfd says next time. */
                pid_t tracer = tracer_of(t->pid);
                t->seized = t->seized || (tracer > 0 && (w->group ? getpgid(tracer) == w->swrk : tracer == w->swrk));
        }
        return false;
}

/* true when stopped (or poll failed: nothing more to watch for), false after ms (< 0: never). */
static bool stopped_within(CriuWatch *w, int ms) {
        struct pollfd p = { .fd = w->stop_fd, .events = POLLIN };
        int n;
        while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
                ;
        return n != 0;
}

static void kill_criu(CriuWatch *w) {
        (void) kill(w->group ? -w->swrk : w->swrk, SIGKILL);
        atomic_store(&w->killed, true);
}

static void *watch(void *userdata) {
        CriuWatch *w = userdata;
        uint64_t deadline = w->timeout_sec > 0 ? now_ms() + (uint64_t) w->timeout_sec * 1000 : 0;
        for (;;) {
                int ms = w->n_tasks > 0 ? TICK_MS : -1;
                if (deadline > 0) {
                        uint64_t left = deadline > now_ms() ? deadline - now_ms() : 0;
                        ms = ms < 0 ? (int) MIN(left, (uint64_t) INT32_MAX) : (int) MIN(left, (uint64_t) ms);
                }
                if (stopped_within(w, ms))
                        return NULL;
                if (deadline > 0 && now_ms() >= deadline) {
                        kill_criu(w);
                        return NULL;
                }
                if (w->n_tasks > 0 && tree_lost(w))
                        break;
        }
        /* Usually CRIU answers at once; only a CRIU stuck in its own exit() needs the kill. */
        if (stopped_within(w, (int) w->grace_sec * 1000))
                return NULL;
        log_warning("CRIU (pid %i) did not answer within %u seconds of a process it dumped exiting; stopping it.",
                    (int) w->swrk, w->grace_sec);
        kill_criu(w);
        return NULL;
}

static void watch_free(CriuWatch *w) {
        for (size_t i = 0; i < w->n_tasks; i++)
                safe_close(w->tasks[i].pidfd);
        free(w->tasks);
        safe_close(w->stop_fd);
        free(w);
}

/* tree[0] with (a copy of) its pidfd, the rest with their own where they still exist. */
static int watch_tree(CriuWatch *w, const pid_t *tree, size_t n, int root_pidfd) {
        if (n == 0)
                return -EINVAL;
        if (!(w->tasks = calloc(n, sizeof(Task))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int fd = i == 0 ? fcntl(root_pidfd, F_DUPFD_CLOEXEC, 3) : (int) syscall(SYS_pidfd_open, tree[i], 0);
                if (fd < 0 && i == 0)
                        return negative_errno();
                if (fd >= 0)
                        w->tasks[w->n_tasks++] = (Task) { .pid = tree[i], .pidfd = fd };
        }
        return 0;
}

static int watch_start(pid_t swrk, bool group, unsigned timeout_sec, const pid_t *tree, size_t n, int root_pidfd,
                       unsigned grace_sec, CriuWatch **ret) {
        *ret = NULL;
        if (timeout_sec == 0 && root_pidfd < 0)
                return 0;
        CriuWatch *w = calloc(1, sizeof(CriuWatch));
        if (!w)
                return -ENOMEM;
        *w = (CriuWatch) { .swrk = swrk, .group = group, .timeout_sec = timeout_sec, .grace_sec = MAX(grace_sec, 1u) };
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        int r = w->stop_fd < 0 ? negative_errno() : 0;
        if (r >= 0 && root_pidfd >= 0)
                r = watch_tree(w, tree, n, root_pidfd);
        if (r >= 0)
                r = -pthread_create(&w->thread, NULL, watch, w);
        if (r < 0) {
                watch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int criu_watch_start(pid_t swrk, unsigned timeout_sec, const pid_t *tree, size_t n, int root_pidfd, unsigned grace_sec,
                     CriuWatch **ret) {
        return watch_start(swrk, false, timeout_sec, tree, n, root_pidfd, grace_sec, ret);
}

int criu_watch_start_group(pid_t leader, unsigned timeout_sec, const pid_t *tree, size_t n, int root_pidfd,
                           unsigned grace_sec, CriuWatch **ret) {
        return watch_start(leader, true, timeout_sec, tree, n, root_pidfd, grace_sec, ret);
}

bool criu_watch_stop(CriuWatch *w) {
        if (!w)
                return false;
        (void) eventfd_write(w->stop_fd, 1);
        (void) pthread_join(w->thread, NULL);
        bool killed = atomic_load(&w->killed);
        watch_free(w);
        return killed;
}
