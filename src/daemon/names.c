/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing qualified names, finding jobs the way each caller may see them, and picking names
 * that are free for their owner. */

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "bus-error.h"
#include "checkpoint-files.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager.h"
#include "naming.h"
#include "names.h"
#include "operation.h"
#include "parse-util.h"

static int user_to_uid(const char *user, uid_t *ret) {
        unsigned u;
        if (safe_atou(user, &u) >= 0 && u != UINT32_MAX) {
                *ret = (uid_t) u;
                return 0;
        }
        struct passwd pw, *result = NULL;
        char buf[16384];
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &result) != 0 || !result)
                return -ESRCH;
        *ret = result->pw_uid;
        return 0;
}

/* The owners of root-invisible-by-default names: only root resolves an unqualified name of
 * someone else's, and only when it is unambiguous. */
static int find_unique_owner(Manager *m, const char *name, bool is_job, uid_t *ret) {
        unsigned found = 0;
        if (is_job) {
                LIST_FOREACH(jobs, j, m->jobs)
                        if (streq(j->id, name)) {
                                found += found == 0 || *ret != j->uid;
                                *ret = j->uid;
                        }
        } else {
                CheckpointRecord *list = NULL;
                size_t n = 0;
                CheckpointFilter f = { .id = name };
                int r = jobstore_list_checkpoints(m->store, &f, &list, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        found += found == 0 || *ret != list[i].uid;
                        *ret = list[i].uid;
                }
                checkpoint_records_free(list, n);
        }
        return (int) found;
}

/* Whether root itself has a job or checkpoint of that name. */
static bool own_name(Manager *m, const char *name, bool is_job) {
        if (is_job)
                return manager_get_job(m, 0, name) != NULL;
        CheckpointRecord c;
        if (jobstore_get_checkpoint(m->store, 0, name, &c) < 0)
                return false;
        checkpoint_record_done(&c);
        return true;
}

int names_parse(Manager *m, uid_t caller, const char *spec, bool is_job, uid_t *ret_uid, char **ret_name,
                sd_bus_error *error) {
        const char *what = is_job ? "job" : "checkpoint";
        if (!(is_job ? job_spec_is_valid(spec) : checkpoint_spec_is_valid(spec)))
                return bus_error_setf(error, CEDANA_E_INVALID_ARGS, "'%.64s' is not a valid %s name.", spec, what);
        const char *slash = strchr(spec, '/');
        _cleanup_free_ char *name = strdup(slash ? slash + 1 : spec);
        if (!name)
                return -ENOMEM;
        uid_t uid = caller;
        if (slash) {
                _cleanup_free_ char *user = strndup(spec, (size_t) (slash - spec));
                if (!user)
                        return -ENOMEM;
                if (user_to_uid(user, &uid) < 0)
                        return bus_error_setf(error, is_job ? CEDANA_E_NO_SUCH_JOB : CEDANA_E_NO_SUCH_CHECKPOINT,
                                              "There is no user %.64s.", user);
        } else if (caller == 0 && !own_name(m, name, is_job)) {
                uid_t owner = 0;
                int n = find_unique_owner(m, name, is_job, &owner);
                if (n < 0)
                        return n;
                if (n > 1)
                        return bus_error_setf(error, CEDANA_E_INVALID_ARGS,
                                              "Several users have a %s named %s; name it as USER/%s.", what, name, name);
                if (n == 1)
                        uid = owner;
        }
        *ret_uid = uid;
        *ret_name = TAKE_PTR(name);
        return 0;
}

bool names_job_taken(Manager *m, uid_t uid, const char *name) {
        if (manager_get_job(m, uid, name))
                return true;
        LIST_FOREACH(operations, op, m->operations)
                if (op->job_name && op->job_uid == uid && streq(op->job_name, name))
                        return true;
        return false;
}

/* Generated names are random; after a few collisions a counter makes one free for sure. */
#define GENERATE_ATTEMPTS 16

int names_pick_job(Manager *m, uid_t uid, const char *requested, char **ret, sd_bus_error *error) {
        if (requested) {
                if (names_job_taken(m, uid, requested))
                        return bus_error_setf(error, CEDANA_E_EXISTS,
                                              "You have a job named %s already; choose another --name.", requested);
                char *n = strdup(requested);
                if (!n)
                        return -ENOMEM;
                *ret = n;
                return 0;
        }
        _cleanup_free_ char *base = NULL;
        for (unsigned i = 0;; i++) {
                _cleanup_free_ char *n = NULL;
                if (i < GENERATE_ATTEMPTS) {
                        free(base);
                        base = NULL;
                        if (job_name_generate(&base) < 0)
                                return -ENOMEM;
                        n = strdup(base);
                } else if (asprintf(&n, "%s-%u", base, i - GENERATE_ATTEMPTS + 2) < 0)
                        n = NULL;
                if (!n)
                        return -ENOMEM;
                if (!names_job_taken(m, uid, n)) {
                        *ret = TAKE_PTR(n);
                        return 0;
                }
        }
}

/* A complete record whose file is no longer where it was written. An object on the store is
 * never looked at here (its path is no file name): its record stands until deleted. */
static bool record_missing(const CheckpointRecord *c) {
        return c->state == CHECKPOINT_COMPLETE && checkpoint_record_status(c) == RECORD_STATUS_MISSING;
}

bool names_checkpoint_taken(Manager *m, uid_t uid, const char *name, int dir_fd, const char *suffix) {
        CheckpointRecord c;
        if (jobstore_get_checkpoint(m->store, uid, name, &c) >= 0) {
                bool missing = record_missing(&c);
                if (missing) {
                        log_ctx(LOG_INFO, LOG_CTX(.checkpoint = c.id),
                                "Forgetting checkpoint %s: %s is gone, and its name is wanted again.", c.id, c.path);
                        (void) jobstore_delete_checkpoint(m->store, uid, name);
                        Job *j = c.job ? manager_get_job(m, c.job_uid, c.job) : NULL;
                        if (j)
                                job_refresh_last_checkpoint(j);
                }
                checkpoint_record_done(&c);
                if (!missing)
                        return true;
        }
        if (dir_fd >= 0) {
                _cleanup_free_ char *file = NULL;
                struct stat st;
                if (asprintf(&file, "%s%s", name, suffix ?: "") < 0)
                        return true;
                if (fstatat(dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT)
                        return true;
        }
        return false;
}

int names_pick_checkpoint(Manager *m, uid_t uid, const char *requested, const char *base, int dir_fd,
                          const char *suffix, char **ret, sd_bus_error *error) {
        if (requested) {
                /* A file of that name is the dump's to report, with the directory it is in. */
                if (names_checkpoint_taken(m, uid, requested, -EBADF, NULL))
                        return bus_error_setf(error, CEDANA_E_EXISTS,
                                              "You have a checkpoint named %s already; choose another --name.",
                                              requested);
                char *n = strdup(requested);
                if (!n)
                        return -ENOMEM;
                *ret = n;
                return 0;
        }
        for (unsigned i = 1;; i++) {
                _cleanup_free_ char *n = NULL;
                if ((i == 1 ? (n = strdup(base)) == NULL : asprintf(&n, "%s-%u", base, i) < 0))
                        return -ENOMEM;
                if (!names_checkpoint_taken(m, uid, n, dir_fd, suffix)) {
                        *ret = TAKE_PTR(n);
                        return 0;
                }
        }
}
