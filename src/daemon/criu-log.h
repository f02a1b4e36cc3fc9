/* SPDX-License-Identifier: Apache-2.0 */
/* Where CRIU's logs go: a directory per operation below LOGDIR/<uid>/criu/, where uid is the
 * caller's, so every user reads the logs of their own operations (and nobody else's). Kept
 * when an operation fails, removed when it succeeds, aged out by store hygiene. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

typedef struct Manager Manager;

/* A new directory for one operation of caller's in which CRIU, running as criu_uid, writes.
 * *ret_path: its absolute path; *ret_fd: an fd to it. */
int criu_log_dir_new(Manager *m, uid_t caller, uid_t criu_uid, gid_t criu_gid, const char *prefix, char **ret_path,
                     int *ret_fd);
/* Removes a directory made by criu_log_dir_new(). */
void criu_log_dir_remove(Manager *m, const char *path);
/* Removes operation log directories older than max_age_usec. In a worker: users fill their own
 * directories as they like. */
void criu_log_dirs_age(Manager *m, uint64_t max_age_usec);
