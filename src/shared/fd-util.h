/* SPDX-License-Identifier: Apache-2.0 */
/* File descriptor chores: full reads and writes, bounded file reads, fsync of directories,
 * closing inherited fds, and removing a directory tree without following symlinks. */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Writes all n bytes, retrying on EINTR and short writes. */
int loop_write(int fd, const void *buf, size_t n);
int loop_pwrite(int fd, const void *buf, size_t n, uint64_t offset);
/* Reads until n bytes or EOF; returns the number read. */
ssize_t loop_read(int fd, void *buf, size_t n);
/* pread() until n bytes or the end of the file: the bytes read, or -errno. */
ssize_t loop_pread(int fd, void *buf, size_t n, uint64_t offset);
/* Reads a whole regular file below dir_fd (AT_FDCWD for paths) with O_NOFOLLOW, at most max
 * bytes (-EFBIG beyond); anything but a regular file is -EBADFD, and never blocks the open.
 * *ret is NUL-terminated, *ret_size (optional) excludes the NUL. */
int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size);
/* Writes a small file atomically: temporary name, fsync, rename, fsync of the directory. */
int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t n, mode_t mode);
int fsync_directory_of(int dir_fd);
/* fsync() of name below dir_fd (a regular file, not followed if a symlink). */
int fsync_at(int dir_fd, const char *name);
/* A DIR for listing dir_fd from the start, on a fresh open file description (a dup would share,
 * and move, the caller's directory offset). */
int opendir_at(int dir_fd, DIR **ret);
/* Whether only root can change what st describes: root's, and not writable by group or others. */
bool stat_only_root_writes(const struct stat *st);
/* name in dir_fd for reading: no symbolic link, no blocking on a FIFO, only a regular file
 * (-EBADMSG otherwise). */
int open_regular_at(int dir_fd, const char *name);
/* Closes every fd >= 3 not in except[]. For children right after fork(). */
int close_all_fds(const int *except, size_t n_except);
/* Removes name below dir_fd and everything under it; never follows symlinks, never crosses
 * into another mount. -ENOENT is not an error. */
int rm_rf_at(int dir_fd, const char *name);
/* Makes a fresh directory "<prefix><random>" below dir_fd (mode 0700) and returns its name
 * in *ret_name and an O_DIRECTORY fd to it. */
int mkdtemp_at(int dir_fd, const char *prefix, char **ret_name, int *ret_fd);
/* l - 1 random characters of [a-z0-9] and a NUL (l <= 17). */
int random_alnum(char *buf, size_t l);
/* For a thread that writes to pipes whose reader may go (CRIU's, or one of ours): a write then
 * fails with EPIPE instead of killing the process, whatever the process's SIGPIPE disposition
 * (workers keep the default, which CRIU and jobs inherit). */
void block_sigpipe(void);
/* Moves fd to a number >= 3 (so it survives stdio setup in a child). */
int fd_move_above_stdio(int fd);
