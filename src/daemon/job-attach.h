/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs with attach: cedanad holds the other ends of their stdio pipes, or the master of their
 * pty, and copies their output to the log and to attached clients. A holder process in the job's scope (cedana-hold) keeps
 * the same ends open, so that neither stopping, restarting nor killing cedanad cuts a job off;
 * a starting cedanad takes them back from it. */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdbool.h>

#include <sys/types.h>

#define ATTACH_SCROLLBACK (64U * 1024U)

/* Where cedana-hold keeps the daemon's ends of the pipes (for a pty: the master, twice). */
#define HOLD_STDIN_FD 3
#define HOLD_OUTPUT_FD 4
/* cedanad asks cedana-hold to close its end of the job's stdin (the job reads EOF once cedanad
 * has closed its own too) with this signal, queued with this value. */
#define HOLD_CLOSE_STDIN_SIGNAL SIGUSR1
#define HOLD_CLOSE_STDIN_VALUE 0x63656f66 /* "ceof" */

typedef struct Job Job;
typedef struct Manager Manager;

/* A job's stdio pipes: the job's ends go to the child (Run) or to CRIU (restore); the daemon's
 * ends and the keys go to the job once it runs. */
typedef struct AttachPipes {
        int job_stdin, job_stdout;
        int daemon_stdin, daemon_stdout;
        char *stdin_key, *stdout_key; /* "pipe:[inode]"; for a pty both are "tty[rdev:dev]" */
        pid_t holder; /* cedana-hold with the daemon's ends, once spawned */
} AttachPipes;

#define ATTACH_PIPES_NULL { -EBADF, -EBADF, -EBADF, -EBADF, NULL, NULL, 0 }

int attach_pipes_new(AttachPipes *ret);
/* A pty in the same shape: the job's ends are its slave (owned by uid, so the job may reopen its
 * terminal), the daemon's ends its master. rows and cols: the initial window size, 0: none. */
int attach_pty_new(uid_t uid, unsigned rows, unsigned cols, AttachPipes *ret);
/* Whether a key names a pty rather than a pipe. */
bool attach_key_is_tty(const char *key);
void attach_pipes_done(AttachPipes *p);
/* Starts cedana-hold with the daemon's ends of p; the caller puts p->holder into the job's
 * scope. Spawn it once the job (or CRIU) holds the job's ends: it exits when no writer is left. */
int attach_holder_spawn(AttachPipes *p);
/* j takes the daemon's ends and the keys of p (replacing old ones) and starts the pump. */
int job_attach_take(Job *j, AttachPipes *p);
/* Starts copying the job's output to its log and clients. */
int job_attach_start(Job *j);
/* Closes the daemon's ends; forget: the job ended, and its holder with it. */
void job_attach_stop(Job *j, bool forget);
/* For AttachJob: the job's stdin (for a pty job: its master, so the client can pass on its window
 * size), and a new pipe that receives its output from now on. After the job's input was closed,
 * a pipe nobody reads stands in for its stdin. */
int job_attach_client(Job *j, int *ret_stdin, int *ret_stdout);
/* For CloseJobInput: the job reads EOF once what was written is read; for good (a restore gives
 * it new pipes, open again). -ENOTTY for a pty job: its input ends with the terminal's EOF
 * character (Ctrl-D), as typed. */
int job_attach_close_input(Job *j);
/* At start-up, for a running attached job: its pipes back from its holder, checked against
 * the recorded keys, and the pump started again. */
int job_attach_reclaim(Job *j);
