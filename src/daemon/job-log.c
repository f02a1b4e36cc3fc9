/* SPDX-License-Identifier: Apache-2.0 */
/* Per-job log files in per-user directories of the daemon's. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "job-log.h"
#include "job.h"
#include "manager.h"
#include "path-util.h"

/* LOGDIR/<uid>: the user's own (owner uid, 0700), so that the user lists their logs, CRIU
 * running as the user can stat the log its job writes to, and nobody else sees the names. The
 * daemon only ever creates O_EXCL|O_NOFOLLOW, removes and walks without following links in
 * it, so whatever the user puts there reaches nothing beyond. */
int job_log_dir_open(Manager *m, uid_t uid, int *ret_fd) {
        char name[16];
        snprintf(name, sizeof(name), "%u", (unsigned) uid);
        if (mkdirat(m->log_dir_fd, name, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int fd = openat(m->log_dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* Only the daemon creates entries in LOGDIR: a root-owned one is ours to hand over. */
        if (st.st_uid != uid && (st.st_uid != 0 || fchown(fd, uid, (gid_t) -1) < 0))
                return -EPERM;
        if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int job_log_open(Manager *m, const Identity *owner, const char *job, bool fresh, char **ret_path, int *ret_fd) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *name = NULL, *path = NULL;
        int r = job_log_dir_open(m, owner->uid, &dir_fd);
        if (r < 0)
                return r;
        if (asprintf(&name, "%s.log", job) < 0 || asprintf(&path, "%s/%u/%s", m->log_dir, (unsigned) owner->uid, name) < 0)
                return -ENOMEM;
        /* A deleted job's log, or one of a crash: not this job's. */
        if (fresh && unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        _cleanup_close_ int fd = openat(dir_fd, name,
                                        O_WRONLY | O_CREAT | (fresh ? O_EXCL : 0) | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                                        0640);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        /* The job writes it as its user, and a restore by that user reopens it. */
        if (fchown(fd, owner->uid, owner->gid) < 0)
                return negative_errno();
        *ret_path = TAKE_PTR(path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int job_log_create(Job *j, const Identity *owner, int *ret_fd) {
        char *path;
        int r = job_log_open(j->manager, owner, j->id, true, &path, ret_fd);
        if (r < 0)
                return r;
        free(j->log_path);
        j->log_path = path;
        return 0;
}

int job_log_rename(Manager *m, uid_t uid, const char *from, const char *to, char **ret_path) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *a = NULL, *b = NULL, *path = NULL;
        int r = job_log_dir_open(m, uid, &dir_fd);
        if (r < 0)
                return r;
        if (asprintf(&a, "%s.log", from) < 0 || asprintf(&b, "%s.log", to) < 0 ||
            asprintf(&path, "%s/%u/%s", m->log_dir, (unsigned) uid, b) < 0)
                return -ENOMEM;
        if (unlinkat(dir_fd, b, 0) < 0 && errno != ENOENT)
                return negative_errno();
        if (renameat2(dir_fd, a, dir_fd, b, RENAME_NOREPLACE) < 0)
                return negative_errno();
        *ret_path = TAKE_PTR(path);
        return 0;
}

void job_log_unlink(Manager *m, uid_t uid, const char *path) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "/%u/", (unsigned) uid);
        const char *rel = path ? startswith(path, m->log_dir) : NULL;
        const char *name = rel ? startswith(rel, prefix) : NULL;
        if (!name || strchr(name, '/'))
                return; /* the caller's own file: not ours to remove */
        _cleanup_close_ int dir_fd = -EBADF;
        if (job_log_dir_open(m, uid, &dir_fd) >= 0)
                (void) unlinkat(dir_fd, name, 0);
}

void job_log_remove(Job *j) {
        job_log_unlink(j->manager, j->uid, j->log_path);
}
