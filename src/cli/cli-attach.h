/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana job attach` and --attach: the terminal wired to a job's input and output, until the
 * job's output ends or the user presses Ctrl-] three times within a second. A job with a pty
 * of its own gets every byte typed and the window size; a job with pipes gets EOF when ours
 * ends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli-bus.h"

#define DETACH_CHAR 0x1d /* Ctrl-] */
#define DETACH_COUNT 3
#define DETACH_WINDOW_USEC (1 * USEC_PER_SEC)

typedef struct DetachState {
        unsigned count;
        uint64_t first_usec;
} DetachState;

/* Feeds typed bytes; true once Ctrl-] came DETACH_COUNT times in a row within the window. */
bool detach_feed(DetachState *d, const char *buf, size_t n, uint64_t now_usec);

/* Proxies stdin to in_fd and out_fd to stdout (taking both fds) with the terminal in raw mode,
 * restored on every way out, signals included. in_fd is the job's pty master when the job has a
 * terminal: the window size goes there too. Otherwise EOF on stdin ends the job's input
 * (CloseJobInput on b). Returns an exit status: 0 when the job's output ended or the user
 * detached, 128+signal when a signal ended it. */
int attach_fds(CliBus *b, const char *job, int in_fd, int out_fd);
/* AttachJob(job), then attach_fds(). */
int attach_job(CliBus *b, const char *job);
