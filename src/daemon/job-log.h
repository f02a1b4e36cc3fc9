/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs' own logs: LOGDIR/<uid>/<job>.log, one per job, created fresh for it and removed with it,
 * so a reused name never inherits another job's output. */
#pragma once

#include "identity.h"

typedef struct Job Job;
typedef struct Manager Manager;

/* LOGDIR/<uid>: root's (0755), so that nobody can create or swap names in it. */
int job_log_dir_open(Manager *m, uid_t uid, int *ret_fd);
/* LOGDIR/<uid>/<job>.log, written by owner (0640, owner's), O_APPEND|O_NOFOLLOW: fresh, O_EXCL
 * after unlinking whatever file of that name an earlier job left (an fd someone kept on that one
 * never sees this job's output), or else the job's own, created if it is gone. */
int job_log_open(Manager *m, const Identity *owner, const char *job, bool fresh, char **ret_path, int *ret_fd);
/* A fresh log for j (job_log_open()); sets j->log_path. */
int job_log_create(Job *j, const Identity *owner, int *ret_fd);
/* Renames job from's log to job to's, in place of whatever file an earlier job left there. */
int job_log_rename(Manager *m, uid_t uid, const char *from, const char *to, char **ret_path);
/* Removes path if it is a log of ours for uid's jobs. */
void job_log_unlink(Manager *m, uid_t uid, const char *path);
/* Removes j's log if it is one of ours. */
void job_log_remove(Job *j);
