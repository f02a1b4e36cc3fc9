/* SPDX-License-Identifier: Apache-2.0 */
/* The attach proxy: one poll loop between the terminal and a job's pipes, with the terminal in
 * raw mode so Ctrl-] can be seen, and put back however the loop ends. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>

#include "bus-error.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "fd-util.h"
#include "log.h"

bool detach_feed(DetachState *d, const char *buf, size_t n, uint64_t now_usec) {
        for (size_t i = 0; i < n; i++) {
                if (buf[i] != DETACH_CHAR) {
                        d->count = 0;
                        continue;
                }
                if (d->count == 0 || now_usec - d->first_usec > DETACH_WINDOW_USEC) {
                        d->count = 0;
                        d->first_usec = now_usec;
                }
                if (++d->count >= DETACH_COUNT)
                        return true;
        }
        return false;
}

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static struct termios saved_termios;
static bool termios_changed = false;

static void tty_restore(void) {
        if (!termios_changed)
                return;
        (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        termios_changed = false;
}

static void tty_make_raw(void) {
        struct termios t;
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return;
        t = saved_termios;
        cfmakeraw(&t);
        /* The job reads a pipe, not a terminal: nothing on its side echoes what is typed or turns
         * Enter into a newline, so the terminal keeps doing both, and keeps output processing so
         * the job's "\n" starts a line. Raw otherwise: Ctrl-C and Ctrl-Z go to the job as bytes,
         * and we see Ctrl-]. */
        t.c_iflag |= ICRNL;
        t.c_lflag |= ECHO;
        t.c_oflag |= OPOST | ONLCR;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
                return;
        termios_changed = true;
        atexit(tty_restore); /* harmless when already restored */
}

typedef struct Proxy {
        int in_fd, out_fd, signal_fd;
        bool stdin_open;
        char pending[4096]; /* typed, not yet taken by the job */
        size_t n_pending;
        DetachState detach;
} Proxy;

static void proxy_close_input(Proxy *p) {
        /* The job sees EOF on its input; its output keeps coming. */
        p->in_fd = safe_close(p->in_fd);
        p->stdin_open = false;
        p->n_pending = 0;
}

/* 1 to go on, 0 when done (detached), < 0 on error. */
static int proxy_read_stdin(Proxy *p, const char *job) {
        ssize_t n = read(STDIN_FILENO, p->pending, sizeof(p->pending));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0) {
                proxy_close_input(p);
                return 1;
        }
        if (detach_feed(&p->detach, p->pending, (size_t) n, now_monotonic_usec())) {
                tty_restore();
                if (!arg_quiet)
                        fprintf(stderr, "\nDetached from job %s.\n", job);
                return 0;
        }
        p->n_pending = (size_t) n;
        return 1;
}

static void proxy_write_job(Proxy *p) {
        ssize_t n = write(p->in_fd, p->pending, p->n_pending);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN)
                        proxy_close_input(p); /* EPIPE: the job closed its input */
                return;
        }
        memmove(p->pending, p->pending + n, p->n_pending - (size_t) n);
        p->n_pending -= (size_t) n;
}

/* 1 to go on, 0 when the job's output ended. */
static int proxy_copy_output(Proxy *p) {
        char buf[16384];
        ssize_t n = read(p->out_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        if (loop_write(STDOUT_FILENO, buf, (size_t) n) < 0)
                return 0; /* nobody reads our output any more */
        return 1;
}

static int proxy_loop(Proxy *p, const char *job) {
        for (;;) {
                struct pollfd fds[4] = {
                        { .fd = p->signal_fd, .events = POLLIN },
                        { .fd = p->out_fd, .events = POLLIN },
                        /* Read more of the terminal only when the job took what came before. */
                        { .fd = p->stdin_open && p->n_pending == 0 ? STDIN_FILENO : -1, .events = POLLIN },
                        { .fd = p->n_pending > 0 ? p->in_fd : -1, .events = POLLOUT },
                };
                if (poll(fds, ELEMENTSOF(fds), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(negative_errno(), "Failed to wait for job %s: %m", job);
                }
                if (fds[0].revents) {
                        struct signalfd_siginfo si;
                        if (read(p->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                                return 128 + (int) si.ssi_signo;
                }
                if (fds[3].revents)
                        proxy_write_job(p);
                if (fds[2].revents && proxy_read_stdin(p, job) == 0)
                        return 0;
                if (fds[1].revents && proxy_copy_output(p) == 0)
                        return 0;
        }
}

int attach_fds(const char *job, int in_fd, int out_fd) {
        _cleanup_close_ int signal_fd = -EBADF;
        sigset_t mask, old;
        Proxy p = { .in_fd = in_fd, .out_fd = out_fd, .stdin_open = true };
        int r;

        /* Signals become events of the loop, so the terminal is restored on the way out. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        (void) sigprocmask(SIG_BLOCK, &mask, &old);
        (void) signal(SIGPIPE, SIG_IGN); /* a closed job input is EPIPE, not death */
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0) {
                r = log_error_errno(negative_errno(), "Failed to set up signal handling: %m");
                goto finish;
        }
        p.signal_fd = signal_fd;
        (void) fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);

        if (!arg_quiet && isatty(STDIN_FILENO))
                fprintf(stderr, "Attached to job %s; press Ctrl-] three times within a second to detach.\n", job);
        tty_make_raw();
        r = proxy_loop(&p, job);
        tty_restore();

finish:
        safe_close(p.in_fd);
        safe_close(out_fd);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        return r < 0 ? CEDANA_EXIT_FAILURE : r;
}

int attach_job(CliBus *b, const char *job) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int in_fd, out_fd, r;

        r = cli_bus_new_manager_call(b, "AttachJob", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", job);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(b, m, false, &error, &reply);
        if (r < 0)
                return log_bus_error(&error, r, "attach to job %s", job);
        r = sd_bus_message_read(reply, "hh", &in_fd, &out_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");
        /* The reply owns the fds it carries. */
        int in_copy = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
        int out_copy = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
        if (in_copy < 0 || out_copy < 0) {
                r = negative_errno();
                safe_close(in_copy);
                safe_close(out_copy);
                return log_error_errno(r, "Failed to take the job's input and output: %m");
        }
        /* The proxy may run for days; the bus connection is not needed for it. */
        return attach_fds(job, in_copy, out_copy);
}
