/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's half of attached jobs: the pipe ends or pty master, their holder, the output pump. */

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build-config.h"

#include "fd-util.h"
#include "identity.h"
#include "job-attach.h"
#include "job.h"
#include "list.h"
#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "tty-util.h"

typedef struct AttachClient {
        int fd;
        LIST_FIELDS(struct AttachClient, clients);
} AttachClient;

static void client_free(Job *j, AttachClient *c) {
        LIST_REMOVE(clients, j->attach_clients, c);
        safe_close(c->fd);
        free(c);
}

static int pipe_key(int fd, char **ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        return asprintf(ret, "pipe:[%lu]", (unsigned long) st.st_ino) < 0 ? -ENOMEM : 0;
}

void attach_pipes_done(AttachPipes *p) {
        safe_close(p->job_stdin);
        safe_close(p->job_stdout);
        safe_close(p->daemon_stdin);
        safe_close(p->daemon_stdout);
        free(p->stdin_key);
        free(p->stdout_key);
        /* A holder nobody took ends by itself once the job's ends are closed. */
        *p = (AttachPipes) ATTACH_PIPES_NULL;
}

int attach_pipes_new(AttachPipes *ret) {
        AttachPipes p = ATTACH_PIPES_NULL;
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                return negative_errno();
        p.job_stdin = in[0];
        p.daemon_stdin = in[1];
        int r = pipe2(out, O_CLOEXEC) < 0 ? negative_errno() : 0;
        if (r >= 0) {
                p.daemon_stdout = out[0];
                p.job_stdout = out[1];
                r = pipe_key(p.job_stdin, &p.stdin_key);
        }
        if (r >= 0)
                r = pipe_key(p.job_stdout, &p.stdout_key);
        if (r < 0) {
                attach_pipes_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

bool attach_key_is_tty(const char *key) {
        return key && startswith(key, "tty[");
}

int attach_pty_new(uid_t uid, unsigned rows, unsigned cols, AttachPipes *ret) {
        _cleanup_(attach_pipes_done) AttachPipes p = ATTACH_PIPES_NULL;
        int unlock = 0;
        p.daemon_stdin = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (p.daemon_stdin < 0)
                return negative_errno();
        if (ioctl(p.daemon_stdin, TIOCSPTLCK, &unlock) < 0)
                return negative_errno();
        /* The slave by the master, not by its name in /dev/pts, which another user could race. */
        p.job_stdin = ioctl(p.daemon_stdin, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (p.job_stdin < 0)
                return negative_errno();
        /* The job's user owns its terminal, as after a login; nobody else may open it. */
        if (fchown(p.job_stdin, uid, (gid_t) -1) < 0 || fchmod(p.job_stdin, 0600) < 0)
                return negative_errno();
        if (rows > 0 && cols > 0) {
                struct winsize ws = { .ws_row = (unsigned short) MIN(rows, 0xffffU),
                                      .ws_col = (unsigned short) MIN(cols, 0xffffU) };
                (void) ioctl(p.daemon_stdin, TIOCSWINSZ, &ws);
        }
        p.job_stdout = fcntl(p.job_stdin, F_DUPFD_CLOEXEC, 3);
        p.daemon_stdout = fcntl(p.daemon_stdin, F_DUPFD_CLOEXEC, 3);
        if (p.job_stdout < 0 || p.daemon_stdout < 0)
                return negative_errno();
        int r = tty_key_from_fd(p.job_stdin, &p.stdin_key);
        if (r < 0)
                return r;
        if (!(p.stdout_key = strdup(p.stdin_key)))
                return -ENOMEM;
        *ret = p;
        p = (AttachPipes) ATTACH_PIPES_NULL;
        return 0;
}

/* The holder's fds, set up in the child: move both out of the way first, since either may
 * already sit at 3 or 4. */
static _noreturn_ void holder_child(int in, int out) {
        int a = fcntl(in, F_DUPFD, 10), b = fcntl(out, F_DUPFD, 10);
        if (a < 0 || b < 0 || dup2(a, HOLD_STDIN_FD) < 0 || dup2(b, HOLD_OUTPUT_FD) < 0)
                _exit(127);
        int keep[] = { HOLD_STDIN_FD, HOLD_OUTPUT_FD };
        if (close_all_fds(keep, ELEMENTSOF(keep)) < 0)
                _exit(127);
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setsid();
        if (chdir("/") < 0)
                _exit(127);
        execl(CEDANA_HOLD_PATH, "cedana-hold", (char *) NULL);
        _exit(127);
}

int attach_holder_spawn(AttachPipes *p) {
        if (p->daemon_stdin < 0 || p->daemon_stdout < 0)
                return -EBADF;
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                holder_child(p->daemon_stdin, p->daemon_stdout);
        p->holder = pid;
        return 0;
}

int job_attach_take(Job *j, AttachPipes *p) {
        job_attach_stop(j, true);
        j->attach = true;
        j->attach_holder = p->holder;
        p->holder = 0;
        j->attach_in_fd = TAKE_FD(p->daemon_stdin);
        j->attach_out_fd = TAKE_FD(p->daemon_stdout);
        free(j->attach_in_key);
        free(j->attach_out_key);
        j->attach_in_key = TAKE_PTR(p->stdin_key);
        j->attach_out_key = TAKE_PTR(p->stdout_key);
        return job_attach_start(j);
}

/* The last ATTACH_SCROLLBACK bytes of output, for clients that attach later. */
static void scrollback_append(Job *j, const char *buf, size_t n) {
        if (!j->attach_scrollback && !(j->attach_scrollback = malloc(ATTACH_SCROLLBACK)))
                return;
        if (n >= ATTACH_SCROLLBACK) {
                memcpy(j->attach_scrollback, buf + n - ATTACH_SCROLLBACK, ATTACH_SCROLLBACK);
                j->attach_scrollback_len = ATTACH_SCROLLBACK;
                return;
        }
        size_t keep = MIN(j->attach_scrollback_len, ATTACH_SCROLLBACK - n);
        memmove(j->attach_scrollback, j->attach_scrollback + j->attach_scrollback_len - keep, keep);
        memcpy(j->attach_scrollback + keep, buf, n);
        j->attach_scrollback_len = keep + n;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* Every writer is gone: the job (and anything it forked) ended. */
                j->attach_source = sd_event_source_disable_unref(j->attach_source);
                while (j->attach_clients)
                        client_free(j, j->attach_clients);
                return 0;
        }
        if (j->attach_log_fd >= 0)
                (void) loop_write(j->attach_log_fd, buf, (size_t) n);
        scrollback_append(j, buf, (size_t) n);
        LIST_FOREACH_SAFE(clients, c, next, j->attach_clients) {
                /* A client that cannot keep up, or left, is dropped; the log has everything. */
                ssize_t k = write(c->fd, buf, (size_t) n);
                if (k != n)
                        client_free(j, c);
        }
        return 0;
}

static int open_log(Job *j) {
        j->attach_log_fd = safe_close(j->attach_log_fd);
        if (!j->log_path)
                return 0;
        /* The log may be a path the job's user chose: opened with that user's rights. */
        Identity id = {};
        int r = identity_from_uid(j->uid, &id);
        if (r >= 0)
                r = identity_set_fs(&id);
        identity_done(&id);
        if (r < 0)
                return r;
        int fd = open_nofollow(j->log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0640);
        (void) identity_reset_fs();
        if (fd < 0)
                return fd;
        j->attach_log_fd = fd;
        return 0;
}

int job_attach_start(Job *j) {
        Manager *m = j->manager;
        if (j->attach_out_fd < 0)
                return -EBADF;
        if (j->attach_source)
                return 0;
        int r = open_log(j);
        if (r < 0)
                log_warning_errno(r, "Cannot append job %s's output to %s: %m", j->id, j->log_path);
        (void) fcntl(j->attach_out_fd, F_SETFL, fcntl(j->attach_out_fd, F_GETFL) | O_NONBLOCK);
        j->attach_source = sd_event_source_disable_unref(j->attach_source);
        return sd_event_add_io(m->event, &j->attach_source, j->attach_out_fd, EPOLLIN, on_output, j);
}

void job_attach_stop(Job *j, bool forget) {
        if (forget)
                j->attach_holder = 0; /* it ends with the job's pipes */
        j->attach_source = sd_event_source_disable_unref(j->attach_source);
        while (j->attach_clients)
                client_free(j, j->attach_clients);
        j->attach_in_fd = safe_close(j->attach_in_fd);
        j->attach_out_fd = safe_close(j->attach_out_fd);
        j->attach_log_fd = safe_close(j->attach_log_fd);
        /* The scrollback stays: a restored job's first attacher sees what it said before. */
}

/* What a client writes to once the job's input is closed: a pipe without a reader, so its first
 * write fails with EPIPE and it stops reading its own input. */
static int closed_input(int *ret) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        safe_close(p[0]);
        *ret = p[1];
        return 0;
}

int job_attach_client(Job *j, int *ret_stdin, int *ret_stdout) {
        if (!j->attach_source)
                return -ENOTCONN;
        _cleanup_close_ int in = -EBADF;
        if (j->attach_in_fd >= 0) {
                in = fcntl(j->attach_in_fd, F_DUPFD_CLOEXEC, 3);
                if (in < 0)
                        return negative_errno();
        } else {
                int r = closed_input(&in);
                if (r < 0)
                        return r;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        /* Room for the scrollback and some more before a slow client gets dropped. */
        (void) fcntl(p[1], F_SETPIPE_SZ, 4 * ATTACH_SCROLLBACK);
        if (j->attach_scrollback_len > 0)
                (void) loop_write(p[1], j->attach_scrollback, j->attach_scrollback_len);
        (void) fcntl(p[1], F_SETFL, O_NONBLOCK);
        AttachClient *c = calloc(1, sizeof(AttachClient));
        if (!c) {
                safe_close(p[0]);
                safe_close(p[1]);
                return -ENOMEM;
        }
        c->fd = p[1];
        LIST_PREPEND(clients, j->attach_clients, c);
        *ret_stdin = TAKE_FD(in);
        *ret_stdout = p[0];
        return 0;
}

/* One of the holder's fds, if it is the pipe, or the master of the pty, recorded as key. */
static int reclaim_fd(int pidfd, int target, const char *key, int *ret) {
        _cleanup_close_ int fd = (int) syscall(SYS_pidfd_getfd, pidfd, target, 0);
        if (fd < 0)
                return negative_errno();
        _cleanup_free_ char *k = NULL;
        int r = attach_key_is_tty(key) ? tty_key_from_master(fd, &k) : pipe_key(fd, &k);
        if (r < 0)
                return r;
        if (!key || !streq(k, key))
                return -ESTALE; /* not what the job had: whatever it is, it is not taken */
        *ret = TAKE_FD(fd);
        return 0;
}

int job_attach_reclaim(Job *j) {
        if (j->attach_holder <= 0)
                return -ENOENT;
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, j->attach_holder, 0);
        if (pidfd < 0)
                return negative_errno();
        /* Whatever runs under that pid now: only the pipes recorded for this job are taken. */
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        int r = reclaim_fd(pidfd, HOLD_OUTPUT_FD, j->attach_out_key, &out);
        if (r < 0)
                return r;
        r = reclaim_fd(pidfd, HOLD_STDIN_FD, j->attach_in_key, &in);
        /* The holder that has the job's output but no stdin closed it when asked (CloseJobInput). */
        if (r == -EBADF && !attach_key_is_tty(j->attach_in_key))
                r = 0;
        if (r < 0)
                return r;
        safe_close(j->attach_in_fd);
        safe_close(j->attach_out_fd);
        j->attach_in_fd = TAKE_FD(in);
        j->attach_out_fd = TAKE_FD(out);
        return job_attach_start(j);
}

int job_attach_close_input(Job *j) {
        if (attach_key_is_tty(j->attach_in_key))
                return -ENOTTY;
        if (!j->attach_source)
                return -ENOTCONN;
        if (j->attach_in_fd < 0)
                return 0; /* closed already */
        j->attach_in_fd = safe_close(j->attach_in_fd);
        if (j->attach_holder <= 0)
                return 0;
        /* The holder's copy too, asked by pidfd once it proved to hold the job's output (a
         * recycled pid is never signalled). Only root may signal the holder at all; the queued
         * value tells our request from a scope-wide kill. */
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, j->attach_holder, 0);
        if (pidfd < 0)
                return negative_errno();
        /* Still the job's holder: it has the job's output. */
        _cleanup_close_ int out = -EBADF;
        int r = reclaim_fd(pidfd, HOLD_OUTPUT_FD, j->attach_out_key, &out);
        if (r < 0)
                return r;
        siginfo_t si = { .si_signo = HOLD_CLOSE_STDIN_SIGNAL, .si_code = SI_QUEUE };
        si.si_pid = getpid();
        si.si_uid = getuid();
        si.si_value.sival_int = HOLD_CLOSE_STDIN_VALUE;
        if (syscall(SYS_pidfd_send_signal, pidfd, HOLD_CLOSE_STDIN_SIGNAL, &si, 0) < 0)
                return negative_errno();
        return 0;
}
