/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs with attach: cedanad holds the other ends of their stdio pipes and copies their output
 * to the log and to attached clients. A holder process in the job's scope (cedana-hold) keeps
 * the same ends open, so that neither stopping, restarting nor killing cedanad cuts a job off;
 * a starting cedanad takes them back from it. */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include <sys/types.h>

#define ATTACH_SCROLLBACK (64U * 1024U)

/* Where cedana-hold keeps the daemon's ends of the pipes. */
#define HOLD_STDIN_FD 3
#define HOLD_OUTPUT_FD 4

typedef struct Job Job;
typedef struct Manager Manager;

/* A job's stdio pipes: the job's ends go to the child (Run) or to CRIU (restore); the daemon's
 * ends and the keys go to the job once it runs. */
typedef struct AttachPipes {
        int job_stdin, job_stdout;
        int daemon_stdin, daemon_stdout;
        char *stdin_key, *stdout_key; /* "pipe:[inode]" */
        pid_t holder; /* cedana-hold with the daemon's ends, once spawned */
} AttachPipes;

#define ATTACH_PIPES_NULL { -EBADF, -EBADF, -EBADF, -EBADF, NULL, NULL, 0 }

int attach_pipes_new(AttachPipes *ret);
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
/* For AttachJob: the job's stdin, and a new pipe that receives its output from now on. */
int job_attach_client(Job *j, int *ret_stdin, int *ret_stdout);
/* At start-up, for a running attached job: its pipes back from its holder, checked against
 * the recorded keys, and the pump started again. */
int job_attach_reclaim(Job *j);
