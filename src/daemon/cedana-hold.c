/* SPDX-License-Identifier: Apache-2.0 */
/* cedana-hold: keeps an attached job's stdio pipes, or its pty master, open while cedanad is away.
 *
 * cedanad starts one per attached job, with its own ends of the job's pipes as fd 3 (the job's
 * stdin, write end) and fd 4 (the job's output, read end), or the master of the job's pty as both,
 * and puts it into the job's scope, so neither `systemctl stop cedanad` nor a crash closes them:
 * without a reader the job's next write would end it with SIGPIPE (or, on a pty, a hangup),
 * without a writer its stdin would reach EOF. While cedanad is away the job blocks once its output
 * is not read, as it would on a terminal nobody reads. A starting cedanad takes the fds back with
 * pidfd_getfd(2) and checks they are the job's.
 *
 * It never reads or writes them. It ends when nothing can write to the output any more: the job
 * and everything it started are gone (for a pty: its slave is closed). Signals other than SIGKILL
 * are ignored, so that `cedana job kill JOB --signal TERM`, sent to the whole scope, reaches only
 * the job; one exception: SIGUSR1 queued by root with HOLD_CLOSE_STDIN_VALUE, cedanad's request
 * to close fd 3, when the user's input to the job ended (CloseJobInput). */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "job-attach.h"

int main(void) {
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_IGN);
        /* Blocked, then read from a signalfd: a queued request is seen with its value; a plain
         * kill() of the scope (SI_USER) is read and ignored. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, HOLD_CLOSE_STDIN_SIGNAL);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        /* No events asked for on fd 4: poll() still reports POLLHUP (no writers left) and POLLERR,
         * and output waiting in it does not wake us. */
        struct pollfd p[2] = {
                { .fd = HOLD_OUTPUT_FD, .events = 0 },
                { .fd = sfd, .events = POLLIN },
        };
        for (;;) {
                int n = poll(p, 2, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return EXIT_FAILURE;
                if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
                        return EXIT_SUCCESS;
                struct signalfd_siginfo si;
                if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si) &&
                    si.ssi_code == SI_QUEUE && si.ssi_uid == 0 && si.ssi_int == HOLD_CLOSE_STDIN_VALUE)
                        (void) close(HOLD_STDIN_FD);
        }
}
