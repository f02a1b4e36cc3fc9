/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs' own logs: LOGDIR/<uid>/<job>.log, one per job, created fresh for it and removed with it,
 * so a reused name never inherits another job's output. */
#pragma once

#include "identity.h"

typedef struct Job Job;
typedef struct Manager Manager;

/* LOGDIR/<uid>: root's (0755), so that nobody can create or swap names in it. */
int job_log_dir_open(Manager *m, uid_t uid, int *ret_fd);
/* A new log for j, written by owner (0640, owner's): O_EXCL|O_NOFOLLOW, after unlinking whatever
 * file of that name an earlier job left (an fd someone kept on that one never sees this job's
 * output). Sets j->log_path. */
int job_log_create(Job *j, const Identity *owner, int *ret_fd);
/* Removes j's log if it is one of ours. */
void job_log_remove(Job *j);
