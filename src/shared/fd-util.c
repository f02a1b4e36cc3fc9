/* SPDX-License-Identifier: Apache-2.0 */
/* File descriptor chores used by the daemon, the CLI and the workers: full I/O, atomic small
 * files, and tree removal that is safe against symlinks planted by users. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <alloca.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "macro.h"

/* offset < 0: write() at the file offset; otherwise pwrite() at offset. */
static int loop_write_at(int fd, const void *buf, size_t n, int64_t offset) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = offset < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
                if (offset >= 0)
                        offset += k;
        }
        return 0;
}

int loop_write(int fd, const void *buf, size_t n) {
        return loop_write_at(fd, buf, n, -1);
}

int loop_pwrite(int fd, const void *buf, size_t n, uint64_t offset) {
        return offset > INT64_MAX ? -EOVERFLOW : loop_write_at(fd, buf, n, (int64_t) offset);
}

/* offset < 0: read() from the file offset; otherwise pread() at offset. Stops early only at the
 * end of the file. */
static ssize_t loop_read_at(int fd, void *buf, size_t n, int64_t offset) {
        uint8_t *p = buf;
        size_t done = 0;
        while (done < n) {
                ssize_t k = offset < 0 ? read(fd, p + done, n - done)
                                       : pread(fd, p + done, n - done, (off_t) (offset + (int64_t) done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

ssize_t loop_pread(int fd, void *buf, size_t n, uint64_t offset) {
        return offset > INT64_MAX ? -EOVERFLOW : loop_read_at(fd, buf, n, (int64_t) offset);
}

ssize_t loop_read(int fd, void *buf, size_t n) {
        return loop_read_at(fd, buf, n, -1);
}

/* name in dir_fd for reading, a regular file: -ELOOP for a symbolic link, -EBADFD for anything
 * else. O_NONBLOCK: a FIFO swapped in must not block the open; it is refused right after. */
static int open_regular(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return TAKE_FD(fd);
}

int open_regular_at(int dir_fd, const char *name) {
        int fd = open_regular(dir_fd, name);
        return fd == -ELOOP || fd == -EBADFD ? -EBADMSG : fd;
}

int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_regular(dir_fd, path);
        if (fd < 0)
                return fd;

        size_t size = 0, allocated = 4096;
        _cleanup_free_ char *buf = malloc(allocated);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (allocated - size < 2) {
                        if (allocated > max + 1)
                                return -EFBIG;
                        char *b = realloc(buf, allocated * 2);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated *= 2;
                }
                ssize_t k = read(fd, buf + size, allocated - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }
        buf[size] = 0;
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int fsync_directory_of(int dir_fd) {
        /* fsync() on an O_RDONLY directory fd is allowed and persists the entries in it. */
        if (fsync(dir_fd) < 0 && errno != EINVAL)
                return negative_errno();
        return 0;
}

int fsync_at(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return fsync(fd) < 0 ? negative_errno() : 0;
}

void block_sigpipe(void) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        (void) pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int random_alnum(char *buf, size_t l) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t r[16];
        if (l > sizeof(r) + 1)
                return -EINVAL;
        if (getrandom(r, l - 1, 0) != (ssize_t) (l - 1))
                return -EIO;
        for (size_t i = 0; i < l - 1; i++)
                buf[i] = alphabet[r[i] % STRLEN(alphabet)];
        buf[l - 1] = 0;
        return 0;
}

int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t n, mode_t mode) {
        char suffix[9];
        int r = random_alnum(suffix, sizeof(suffix));
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, ".#%s.%s", name, suffix) < 0)
                return -ENOMEM;

        _cleanup_close_ int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return negative_errno();
        r = loop_write(fd, data, n);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return fsync_directory_of(dir_fd);
}

bool stat_only_root_writes(const struct stat *st) {
        return st->st_uid == 0 && !(st->st_mode & 0022);
}

int opendir_at(int dir_fd, DIR **ret) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        *ret = d;
        return 0;
}

int close_all_fds(const int *except, size_t n_except) {
        /* close_range() closes everything at once; the fds to keep split it into gaps. */
        int prev = 2;
        int *sorted = NULL;
        if (n_except > 0) {
                sorted = alloca(n_except * sizeof(int));
                memcpy(sorted, except, n_except * sizeof(int));
                for (size_t i = 1; i < n_except; i++)
                        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                                int t = sorted[j];
                                sorted[j] = sorted[j - 1];
                                sorted[j - 1] = t;
                        }
        }
        for (size_t i = 0; i < n_except; i++) {
                if (sorted[i] <= prev)
                        continue;
                if (sorted[i] > prev + 1 && syscall(SYS_close_range, prev + 1, sorted[i] - 1, 0) < 0)
                        return negative_errno();
                prev = sorted[i];
        }
        if (syscall(SYS_close_range, prev + 1, ~0U, 0) < 0)
                return negative_errno();
        return 0;
}

static int rm_rf_children(int fd, dev_t dev) {
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        int ret = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT && ret == 0)
                                ret = negative_errno();
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (st.st_dev != dev)
                                continue; /* a mount point: never descend into other file systems */
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                if (errno != ENOENT && ret == 0)
                                        ret = negative_errno();
                                continue;
                        }
                        int r = rm_rf_children(sub, dev);
                        if (r < 0 && ret == 0)
                                ret = r;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && ret == 0)
                                ret = negative_errno();
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && ret == 0)
                        ret = negative_errno();
        }
        closedir(d);
        return ret;
}

int rm_rf_at(int dir_fd, const char *name) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                        return negative_errno();
                return 0;
        }

        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        int r = rm_rf_children(fd, st.st_dev);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r >= 0)
                r = negative_errno();
        return r;
}

int mkdtemp_at(int dir_fd, const char *prefix, char **ret_name, int *ret_fd) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                char suffix[9];
                int r = random_alnum(suffix, sizeof(suffix));
                if (r < 0)
                        return r;
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "%s%s", prefix, suffix) < 0)
                        return -ENOMEM;
                if (mkdirat(dir_fd, name, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return negative_errno();
                }
                int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = negative_errno();
                        (void) unlinkat(dir_fd, name, AT_REMOVEDIR);
                        return r;
                }
                *ret_fd = fd;
                if (ret_name)
                        *ret_name = TAKE_PTR(name);
                return 0;
        }
        return -EEXIST;
}

int fd_move_above_stdio(int fd) {
        if (fd < 0 || fd > 2)
                return fd;
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return negative_errno();
        close(fd);
        return copy;
}
