/* SPDX-License-Identifier: Apache-2.0 */
/* Per-user directories for CRIU's logs, and their removal. */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "criu-log.h"
#include "fd-util.h"
#include "job-log.h"
#include "job.h"
#include "parse-util.h"
#include "log.h"
#include "manager.h"
#include "path-util.h"

/* LOGDIR/<uid>/criu, the user's own (0700), created on demand. */
static int open_user_dir(Manager *m, uid_t uid, int *ret) {
        _cleanup_close_ int parent = -EBADF;
        int r = job_log_dir_open(m, uid, &parent);
        if (r < 0)
                return r;
        if (mkdirat(parent, "criu", 0700) >= 0) {
                _cleanup_close_ int fd = openat(parent, "criu", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || fchown(fd, uid, (gid_t) -1) < 0)
                        return negative_errno();
        } else if (errno != EEXIST)
                return negative_errno();
        int fd = openat(parent, "criu", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret = fd;
        return 0;
}

int criu_log_dir_new(Manager *m, uid_t caller, uid_t criu_uid, gid_t criu_gid, const char *prefix, char **ret_path,
                     int *ret_fd) {
        _cleanup_close_ int user_fd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *name = NULL, *p = NULL;
        int r = open_user_dir(m, caller, &user_fd);
        if (r < 0)
                return r;
        r = mkdtemp_at(user_fd, prefix, &name, &fd);
        if (r < 0)
                return r;
        /* CRIU writes here as the process's owner; the caller reads it in its own directory. */
        if (fchown(fd, criu_uid, criu_gid) < 0 || fchmod(fd, criu_uid == caller ? 0700 : 0755) < 0)
                return negative_errno();
        if (asprintf(&p, "%s/%u/criu/%s", m->log_dir, (unsigned) caller, name) < 0)
                return -ENOMEM;
        *ret_path = TAKE_PTR(p);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void criu_log_dir_remove(Manager *m, const char *path) {
        const char *rel = path ? startswith(path, m->log_dir) : NULL;
        if (!rel || rel[0] != '/')
                return;
        (void) rm_rf_at(m->log_dir_fd, rel + 1);
}

void criu_log_dirs_age(Manager *m, uint64_t max_age_usec) {
        DIR *d;
        if (opendir_at(m->log_dir_fd, &d) < 0)
                return;
        uint64_t now = now_realtime_usec();
        struct dirent *de;
        while ((de = readdir(d))) {
                unsigned uid;
                if (safe_atou(de->d_name, &uid) < 0)
                        continue;
                _cleanup_close_ int user_fd = -EBADF;
                if (open_user_dir(m, (uid_t) uid, &user_fd) < 0)
                        continue;
                DIR *u;
                if (opendir_at(user_fd, &u) < 0)
                        continue;
                struct dirent *e;
                while ((e = readdir(u))) {
                        struct stat st;
                        if (e->d_name[0] == '.' || fstatat(user_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        uint64_t mtime = (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC;
                        if (S_ISDIR(st.st_mode) && mtime + max_age_usec < now)
                                (void) rm_rf_at(user_fd, e->d_name);
                }
                closedir(u);
        }
        closedir(d);
}
