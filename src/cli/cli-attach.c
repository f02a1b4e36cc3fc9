/* SPDX-License-Identifier: Apache-2.0 */
/* The attach proxy: one poll loop between the terminal and a job's pipes or pty, with the
 * terminal in raw mode so Ctrl-] can be seen, and put back however the loop ends. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>

#include "bus-error.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "fd-util.h"
#include "log.h"
#include "progress.h"
#include "tty-util.h"

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

static struct termios saved_termios;
static bool termios_changed = false;

static void tty_restore(void) {
        if (!termios_changed)
                return;
        (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        termios_changed = false;
}

static void tty_make_raw(bool job_has_tty) {
        struct termios t;
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return;
        t = saved_termios;
        /* Raw either way, so that we see Ctrl-]; see termios_make_attach() for what stays. */
        termios_make_attach(&t, job_has_tty);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
                return;
        termios_changed = true;
        atexit(tty_restore); /* harmless when already restored */
}

typedef struct Proxy {
        CliBus *bus;
        int in_fd, out_fd, signal_fd;
        bool job_has_tty;
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

/* Our stdin ended: a job with a terminal ends its input when Ctrl-D is typed, as on any terminal,
 * and keeps what it has; a job with pipes reads EOF, once cedanad and its holder closed their
 * ends too. */
static void proxy_end_input(Proxy *p, const char *job) {
        if (p->job_has_tty) {
                p->stdin_open = false;
                return;
        }
        proxy_close_input(p);
        if (!p->bus)
                return;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = cli_bus_new_manager_call(p->bus, "CloseJobInput", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", job);
        if (r >= 0)
                r = cli_bus_call(p->bus, m, false, &error, NULL);
        if (r < 0)
                log_warning("Failed to end job %s's input: %s", job, error.message ?: strerror(-r));
}

/* 1 to go on, 0 when done (detached), < 0 on error. */
static int proxy_read_stdin(Proxy *p, const char *job) {
        ssize_t n = read(STDIN_FILENO, p->pending, sizeof(p->pending));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0) {
                /* Nothing typed is pending: stdin is read only once the job took it all. */
                proxy_end_input(p, job);
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

/* Our window's size to the job's pty, whose foreground process group gets SIGWINCH when it
 * changes. */
static void proxy_pass_window_size(Proxy *p) {
        struct winsize ws;
        if (!p->job_has_tty || p->in_fd < 0)
                return;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        (void) ioctl(p->in_fd, TIOCSWINSZ, &ws);
}

/* 1 to go on, else the exit status. */
static int proxy_signal(Proxy *p) {
        struct signalfd_siginfo si;
        if (read(p->signal_fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
                return 1;
        if (si.ssi_signo == SIGWINCH) {
                proxy_pass_window_size(p);
                return 1;
        }
        return 128 + (int) si.ssi_signo;
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
                        int r = proxy_signal(p);
                        if (r != 1)
                                return r;
                }
                if (fds[3].revents)
                        proxy_write_job(p);
                if (fds[2].revents && proxy_read_stdin(p, job) == 0)
                        return 0;
                if (fds[1].revents && proxy_copy_output(p) == 0)
                        return 0;
        }
}

int attach_fds(CliBus *b, const char *job, int in_fd, int out_fd) {
        _cleanup_close_ int signal_fd = -EBADF;
        sigset_t mask, old;
        /* cedanad hands out a pty's master as the job's input: then the job has a terminal. */
        Proxy p = { .bus = b, .in_fd = in_fd, .out_fd = out_fd, .stdin_open = true, .job_has_tty = isatty(in_fd) };
        int r;

        /* Signals become events of the loop, so the terminal is restored on the way out. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGWINCH);
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
        tty_make_raw(p.job_has_tty);
        proxy_pass_window_size(&p);
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
        /* The reply's own copies would keep the job's input open after ours is closed. */
        reply = sd_bus_message_unref(reply);
        /* The proxy may run for days; the bus is needed again only to end the job's input. */
        return attach_fds(b, job, in_copy, out_copy);
}
