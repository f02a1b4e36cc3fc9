/* SPDX-License-Identifier: Apache-2.0 */
/* cedana-hold: keeps an attached job's stdio pipes open while cedanad is away.
 *
 * cedanad starts one per attached job, with its own ends of the job's pipes as fd 3 (the job's
 * stdin, write end) and fd 4 (the job's output, read end), and puts it into the job's scope, so
 * neither `systemctl stop cedanad` nor a crash closes them: without a reader the job's next
 * write would end it with SIGPIPE, without a writer its stdin would reach EOF. While cedanad is
 * away the job blocks once the output pipe is full, as it would on a terminal nobody reads. A
 * starting cedanad takes the pipes back with pidfd_getfd(2) and checks they are the job's.
 *
 * It never reads or writes them. It ends when nothing can write to the output pipe any more:
 * the job and everything it started are gone. Signals other than SIGKILL are ignored, so that
 * `cedana job kill JOB --signal TERM`, sent to the whole scope, reaches only the job. */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>

#define HOLD_STDIN_FD 3
#define HOLD_OUTPUT_FD 4

int main(void) {
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_IGN);
        /* No events asked for: poll() still reports POLLHUP (no writers left) and POLLERR, and
         * output waiting in the pipe does not wake us. */
        struct pollfd p = { .fd = HOLD_OUTPUT_FD, .events = 0 };
        for (;;) {
                int n = poll(&p, 1, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return EXIT_FAILURE;
                if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
                        return EXIT_SUCCESS;
        }
}
