/* SPDX-License-Identifier: Apache-2.0 */
/* Path checks and symlink-free opening for the paths users hand to cedana. CRIU opens image
 * files without O_NOFOLLOW, so everything it is given must be resolved here first. */

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "build-config.h"
#include "macro.h"
#include "path-util.h"

bool path_is_absolute(const char *p) {
        return p && p[0] == '/';
}

bool path_is_normalized(const char *p) {
        if (!path_is_absolute(p))
                return false;
        if (streq(p, "/"))
                return true;
        for (const char *c = p; *c;) {
                /* c points at a '/' */
                const char *e = strchrnul(c + 1, '/');
                size_t l = (size_t) (e - c - 1);
                if (l == 0)
                        return false; /* "//" or trailing "/" */
                if ((l == 1 && c[1] == '.') || (l == 2 && c[1] == '.' && c[2] == '.'))
                        return false;
                c = e;
        }
        return true;
}

char *path_join(const char *a, const char *b) {
        char *r;
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (asprintf(&r, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return r;
}

const char *path_basename(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static int do_openat2(int dir_fd, const char *path, int flags, mode_t mode, uint64_t resolve) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = resolve,
        };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
        return fd < 0 ? negative_errno() : fd;
}

int open_nofollow(const char *path, int flags, mode_t mode) {
        return do_openat2(AT_FDCWD, path, flags, mode, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int openat_beneath(int dir_fd, const char *path, int flags, mode_t mode) {
        return do_openat2(dir_fd, path, flags, mode,
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int fd_get_path(int fd, char **ret) {
        char proc[64], buf[4096];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%i", fd);
        ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        if ((size_t) n >= sizeof(buf) - 1)
                return -ENAMETOOLONG;
        buf[n] = 0;
        char *p = strdup(buf);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static bool path_startswith_dir(const char *path, const char *dir) {
        const char *rest = startswith(path, dir);
        return rest && (*rest == 0 || *rest == '/');
}

int checkpoint_dir_check(int dir_fd, const char **ret_reason) {
        static const unsigned long virtual_fs[] = {
                PROC_SUPER_MAGIC, SYSFS_MAGIC,    CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC,
                DEBUGFS_MAGIC,    TRACEFS_MAGIC,  SECURITYFS_MAGIC,   BPF_FS_MAGIC,
                DEVPTS_SUPER_MAGIC, PSTOREFS_MAGIC, NSFS_MAGIC,
        };
        static const char *const refused[] = {
                "/etc", "/dev", "/boot", "/proc", "/sys", STATEDIR, LOGDIR, RUNDIR,
        };
        struct statfs sfs;
        if (fstatfs(dir_fd, &sfs) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(virtual_fs); i++)
                if ((unsigned long) sfs.f_type == virtual_fs[i]) {
                        if (ret_reason)
                                *ret_reason = "a virtual file system (proc, sysfs, cgroup, ...)";
                        return -EPERM;
                }

        _cleanup_free_ char *path = NULL;
        int r = fd_get_path(dir_fd, &path);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                if (path_startswith_dir(path, refused[i])) {
                        if (ret_reason)
                                *ret_reason = refused[i];
                        return -EPERM;
                }
        return 0;
}
