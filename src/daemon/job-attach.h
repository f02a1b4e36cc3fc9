/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs with attach: cedanad holds the other ends of their stdio pipes, copies their output to
 * the log and to attached clients, and keeps the pipes in systemd's fd store so neither a
 * daemon restart nor a dump/restore cuts a job off from its terminal. */
#pragma once

#include <errno.h>
#include <stdbool.h>

#define ATTACH_SCROLLBACK (64U * 1024U)

typedef struct Job Job;
typedef struct Manager Manager;

/* A job's stdio pipes: the job's ends go to the child (Run) or to CRIU (restore); the daemon's
 * ends and the keys go to the job once it runs. */
typedef struct AttachPipes {
        int job_stdin, job_stdout;
        int daemon_stdin, daemon_stdout;
        char *stdin_key, *stdout_key; /* "pipe:[inode]" */
} AttachPipes;

#define ATTACH_PIPES_NULL { -EBADF, -EBADF, -EBADF, -EBADF, NULL, NULL }

int attach_pipes_new(AttachPipes *ret);
void attach_pipes_done(AttachPipes *p);
/* j takes the daemon's ends and the keys of p (replacing old ones) and starts the pump. */
int job_attach_take(Job *j, AttachPipes *p);
/* Starts copying the job's output (to its log and clients) and stores the pipes in the fd store. */
int job_attach_start(Job *j);
/* Closes the daemon's ends; forget: the job ended, so they leave the fd store too (else they
 * stay there for the next cedanad). */
void job_attach_stop(Job *j, bool forget);
/* For AttachJob: the job's stdin, and a new pipe that receives its output from now on. */
int job_attach_client(Job *j, int *ret_stdin, int *ret_stdout);
/* At start-up: fds systemd kept for us, by name ("attach-in-JOB", "attach-out-JOB"). Takes fd. */
int manager_attach_adopt_fd(Manager *m, const char *name, int fd);
