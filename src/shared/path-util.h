/* SPDX-License-Identifier: Apache-2.0 */
/* Paths given by users: syntax checks, opening without following symlinks, and the places a
 * checkpoint must never be written to. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

bool path_is_absolute(const char *p);
/* Absolute, no "//", no "." or ".." components, no trailing "/" (except "/" itself). */
bool path_is_normalized(const char *p);
/* a + "/" + b without doubled slashes; NULL on allocation failure. */
char *path_join(const char *a, const char *b);
/* The last component (pointer into p). */
const char *path_basename(const char *p);

/* Opens a path (relative to the working directory, ".." allowed) with
 * openat2(RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS): a path that is, or passes through, a
 * symbolic link is -ELOOP. flags as for open(); O_CLOEXEC is added. Callers that take paths
 * from other users check path_is_normalized() first. */
int open_nofollow(const char *path, int flags, mode_t mode);
/* The same below a directory fd, never leaving it (RESOLVE_BENEATH). */
int openat_beneath(int dir_fd, const char *path, int flags, mode_t mode);
/* The path the kernel has for fd (readlink of /proc/self/fd/N). */
int fd_get_path(int fd, char **ret);

/* Whether a directory may hold checkpoints: not on a virtual file system (proc, sysfs, cgroup,
 * devtmpfs, ...), not /etc, /dev, /boot, cedana's own state, log and runtime directories or
 * below them. Returns 0 if fine, -EPERM if refused, with the refused place in *ret_reason
 * (a static string like "/etc"). */
int checkpoint_dir_check(int dir_fd, const char **ret_reason);
