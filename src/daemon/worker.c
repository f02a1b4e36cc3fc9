/* SPDX-License-Identifier: Apache-2.0 */
/* Forked workers and their message channel. A worker dies with the daemon (PDEATHSIG), so a
 * killed daemon never leaves half an operation running on its own. */

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fd-util.h"
#include "log.h"
#include "manager.h"
#include "worker.h"

/* Handles one queued message: 1 if there was one, 0 if none is queued, -EPIPE at EOF. */
static int worker_read_one(Worker *w) {
        _cleanup_free_ char *buf = malloc(WORKER_MESSAGE_MAX);
        if (!buf)
                return log_oom();

        ssize_t n = recv(w->sock, buf, WORKER_MESSAGE_MAX, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
        if (n == 0) {
                /* The child closed its end; its exit arrives through SIGCHLD. */
                w->io_source = sd_event_source_disable_unref(w->io_source);
                return -EPIPE;
        }
        _cleanup_json_ JsonVariant *msg = NULL;
        int r = (size_t) n > WORKER_MESSAGE_MAX ? -EMSGSIZE : json_parse(buf, (size_t) n, &msg, NULL);
        if (r < 0) {
                log_error_errno(r, "Worker %s sent a malformed message; killing it.", w->description);
                if (w->pid > 0)
                        (void) kill(w->pid, SIGKILL);
                return 1;
        }
        if (w->on_message && w->on_message(w, msg, w->userdata) < 0 && w->pid > 0)
                (void) kill(w->pid, SIGKILL);
        return 1;
}

static int worker_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) worker_read_one(userdata);
        return 0;
}

static _noreturn_ void worker_child(int sock, const int *keep_fds, size_t n_keep, WorkerRun run, void *userdata,
                                    pid_t parent) {
        /* sd-event blocked these in the parent; the work (and CRIU) expects defaults. */
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);

        int keep[WORKER_KEEP_FDS_MAX + 1];
        if (n_keep > WORKER_KEEP_FDS_MAX)
                _exit(EXIT_FAILURE);
        memcpy(keep, keep_fds, n_keep * sizeof(int));
        keep[n_keep] = sock;
        if (close_all_fds(keep, n_keep + 1) < 0)
                _exit(EXIT_FAILURE);
        /* The journal connection of the parent is gone with its fds; log to stderr, which
         * systemd connects to the journal as well. */
        log_set_target(LOG_TARGET_CONSOLE);
        _exit(run(sock, userdata));
}

int worker_spawn(Manager *m, const char *description, const int *keep_fds, size_t n_keep, WorkerRun run,
                 void *run_userdata, WorkerMessage on_message, WorkerExit on_exit, void *userdata, Worker **ret) {
        int sv[2];
        if (socketpair(AF_LOCAL, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        _cleanup_close_ int ours = sv[0], theirs = sv[1];
        int sz = WORKER_MESSAGE_MAX + 4096;
        (void) setsockopt(ours, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        (void) setsockopt(theirs, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));

        Worker *w = calloc(1, sizeof(Worker));
        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->sock = -EBADF;
        w->description = strdup(description);
        if (!w->description) {
                free(w);
                return -ENOMEM;
        }

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                free(w->description);
                free(w);
                return r;
        }
        if (pid == 0) {
                ours = safe_close(ours);
                worker_child(theirs, keep_fds, n_keep, run, run_userdata, parent);
        }

        w->pid = pid;
        w->sock = TAKE_FD(ours);
        w->on_message = on_message;
        w->on_exit = on_exit;
        w->userdata = userdata;
        LIST_PREPEND(workers, m->workers, w);
        m->n_workers++;

        int r = sd_event_add_io(m->event, &w->io_source, w->sock, EPOLLIN, worker_on_io, w);
        if (r < 0) {
                worker_free(w);
                return r;
        }
        (void) sd_event_source_set_description(w->io_source, "worker-io");
        log_debug("Started worker %s as PID %i.", w->description, (int) pid);
        if (ret)
                *ret = w;
        return 0;
}

int worker_send(Worker *w, const JsonVariant *msg) {
        return worker_child_send(w->sock, msg);
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->pid > 0)
                (void) kill(w->pid, SIGKILL);
        sd_event_source_disable_unref(w->io_source);
        safe_close(w->sock);
        if (w->manager) {
                LIST_REMOVE(workers, w->manager->workers, w);
                w->manager->n_workers--;
                manager_check_idle(w->manager);
        }
        free(w->description);
        free(w);
        return NULL;
}

bool worker_dispatch_exit(Manager *m, pid_t pid, int wait_status, uint64_t max_rss_kib) {
        LIST_FOREACH(workers, w, m->workers) {
                if (w->pid != pid)
                        continue;
                w->pid = 0;
                w->max_rss_kib = max_rss_kib;
                /* Messages the child sent right before exiting are still queued: read them first. */
                while (w->io_source && worker_read_one(w) > 0)
                        ;
                if (w->on_exit)
                        w->on_exit(w, wait_status, w->userdata);
                worker_free(w);
                return true;
        }
        return false;
}

int worker_child_send(int sock, const JsonVariant *msg) {
        _cleanup_free_ char *text = NULL;
        int r = json_format(msg, 0, &text);
        if (r < 0)
                return r;
        size_t l = strlen(text);
        if (l > WORKER_MESSAGE_MAX)
                return -E2BIG;
        if (send(sock, text, l, MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

int worker_child_recv(int sock, JsonVariant **ret) {
        _cleanup_free_ char *buf = malloc(WORKER_MESSAGE_MAX);
        if (!buf)
                return -ENOMEM;
        ssize_t n;
        do
                n = recv(sock, buf, WORKER_MESSAGE_MAX, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -EPIPE;
        return json_parse(buf, (size_t) n, ret, NULL);
}
