/* SPDX-License-Identifier: Apache-2.0 */
/* Forked workers and their message channel. A worker dies with the daemon (PDEATHSIG), so a
 * killed daemon never leaves half an operation running on its own. */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fd-util.h"
#include "log.h"
#include "manager.h"
#include "progress.h"
#include "worker.h"

size_t worker_message_size(const WorkerMessage *m) {
        size_t header = offsetof(WorkerMessage, progress);
        switch (m->type) {
        case WM_PROGRESS:
                return header + sizeof(WmProgress);
        case WM_SYNCED:
        case WM_PUBLISHED:
                return header + sizeof(WmCommit);
        case WM_TREE:
                return header + offsetof(WmTree, entries) + (size_t) MIN(m->tree.n, (uint32_t) WM_TREE_MAX) *
                                                                     sizeof(WmTreeEntry);
        case WM_RESTORED:
                return header + sizeof(WmRestored);
        case WM_FAILED:
        case WM_REPLY:
                return header + sizeof(WmStatus);
        case WM_RECORD_DONE:
                return header + sizeof(WmRecordDone);
        case WM_STATS:
                return header + sizeof(CheckpointStats);
        case WM_CANCEL:
                return header + sizeof(WmCancel);
        default:
                return 0;
        }
}

/* A datagram is a message only if it is exactly as long as its type says, and its strings end. */
static int validate(WorkerMessage *m, size_t n) {
        if (n < offsetof(WorkerMessage, progress) + sizeof(uint32_t))
                return -EBADMSG;
        if (m->type == WM_TREE && (m->tree.n == 0 || m->tree.n > WM_TREE_MAX))
                return -EBADMSG;
        size_t want = worker_message_size(m);
        if (want == 0 || want != n)
                return -EBADMSG;
        switch (m->type) {
        case WM_PROGRESS:
                m->progress.phase[WM_PHASE_MAX - 1] = 0;
                break;
        case WM_SYNCED:
        case WM_PUBLISHED:
                m->commit.final_name[sizeof(m->commit.final_name) - 1] = 0;
                m->commit.digest[METADATA_DIGEST_SIZE - 1] = 0;
                break;
        case WM_FAILED:
        case WM_REPLY:
                m->status.message[WM_MESSAGE_MAX - 1] = 0;
                break;
        case WM_RECORD_DONE:
                m->record.id[sizeof(m->record.id) - 1] = 0;
                m->record.message[WM_MESSAGE_MAX - 1] = 0;
                break;
        }
        return 0;
}

/* Handles one queued message: 1 if there was one, 0 if none is queued, -EPIPE at EOF. */
static int worker_read_one(Worker *w) {
        _cleanup_free_ WorkerMessage *msg = malloc(sizeof(WorkerMessage));
        if (!msg)
                return log_oom();
        ssize_t n = recv(w->sock, msg, sizeof(WorkerMessage), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
        if (n == 0) {
                /* The child closed its end; its exit arrives through SIGCHLD. */
                w->io_source = sd_event_source_disable_unref(w->io_source);
                return -EPIPE;
        }
        if ((size_t) n > sizeof(WorkerMessage) || validate(msg, (size_t) n) < 0) {
                log_error("Worker %s sent a malformed message; killing it.", w->description);
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
                 void *run_userdata, WorkerOnMessage on_message, WorkerOnExit on_exit, void *userdata, Worker **ret) {
        int sv[2];
        if (socketpair(AF_LOCAL, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        _cleanup_close_ int ours = sv[0], theirs = sv[1];
        int sz = (int) sizeof(WorkerMessage) + 4096;
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

int worker_send(Worker *w, const WorkerMessage *msg) {
        return worker_child_send(w->sock, msg);
}

int worker_send_cancel(Worker *w) {
        WorkerMessage m = { .type = WM_CANCEL };
        return worker_send(w, &m);
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->pid > 0)
                (void) kill(w->pid, SIGKILL);
        sd_event_source_disable_unref(w->io_source);
        safe_close(w->sock);
        if (w->manager)
                LIST_REMOVE(workers, w->manager->workers, w);
        free(w->description);
        free(w);
        return NULL;
}

WorkerUsage worker_usage(const struct rusage *ru) {
        return (WorkerUsage) {
                .max_rss_kib = (uint64_t) ru->ru_maxrss,
                .cpu_usec = (uint64_t) (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
                            (uint64_t) (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec),
        };
}

bool worker_dispatch_exit(Manager *m, pid_t pid, int wait_status, const struct rusage *ru) {
        LIST_FOREACH(workers, w, m->workers) {
                if (w->pid != pid)
                        continue;
                w->pid = 0;
                w->usage = worker_usage(ru);
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

int worker_child_send(int sock, const WorkerMessage *msg) {
        size_t n = worker_message_size(msg);
        if (n == 0)
                return -EINVAL;
        if (send(sock, msg, n, MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

int worker_child_send_status(int sock, WorkerMessageType type, int code, const char *message) {
        _cleanup_free_ WorkerMessage *m = calloc(1, sizeof(WorkerMessage));
        if (!m)
                return -ENOMEM;
        m->type = type;
        m->status.code = code;
        snprintf(m->status.message, sizeof(m->status.message), "%s", strempty(message));
        return worker_child_send(sock, m);
}

/* A worker does one operation; its reports come from its main thread and from the collector's. */
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static ProgressThrottle child_throttle;
static atomic_bool child_cancelled;

void worker_child_send_progress(int sock, const char *phase, uint64_t done, uint64_t total) {
        pthread_mutex_lock(&child_lock);
        bool send = progress_throttle_test(&child_throttle, phase, done, total, now_monotonic_usec());
        pthread_mutex_unlock(&child_lock);
        if (!send)
                return;
        WorkerMessage m = { .type = WM_PROGRESS };
        snprintf(m.progress.phase, sizeof(m.progress.phase), "%s", phase);
        m.progress.done = done;
        m.progress.total = total;
        (void) worker_child_send(sock, &m);
}

bool worker_child_cancelled(int sock) {
        if (atomic_load(&child_cancelled))
                return true;
        pthread_mutex_lock(&child_lock);
        /* Only a WM_CANCEL is taken off the socket here; anything else waits for its reader. */
        uint32_t type = 0;
        ssize_t n = recv(sock, &type, sizeof(type), MSG_PEEK | MSG_DONTWAIT);
        if (n == (ssize_t) sizeof(type) && type == WM_CANCEL) {
                char rest[64];
                (void) recv(sock, rest, sizeof(rest), MSG_DONTWAIT);
                atomic_store(&child_cancelled, true);
        }
        pthread_mutex_unlock(&child_lock);
        return atomic_load(&child_cancelled);
}

int worker_child_wait_reply(int sock, char **reterr) {
        _cleanup_free_ WorkerMessage *m = malloc(sizeof(WorkerMessage));
        if (!m)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                do
                        n = recv(sock, m, sizeof(WorkerMessage), 0);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -EPIPE;
                if (validate(m, (size_t) n) < 0)
                        return -EBADMSG;
                /* A cancel crossing a question: the answer still comes, and says so too. */
                if (m->type == WM_CANCEL) {
                        atomic_store(&child_cancelled, true);
                        continue;
                }
                if (m->type != WM_REPLY)
                        return -EBADMSG;
                break;
        }
        if (m->status.code != 0 && reterr && !*reterr)
                *reterr = strdup(m->status.message);
        return m->status.code;
}
