/* SPDX-License-Identifier: Apache-2.0 */
/* Chores the verbs share: opening user-given paths as the caller (never through a symlink),
 * with errors that say what to fix, and building the a{sv} option dictionaries. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* Opens path (relative or absolute) as the calling user with open_nofollow(). option names
 * what the path came from ("--dir"), for messages. On success *ret_fd and, if wanted,
 * *ret_absolute (the kernel's absolute path for the fd, or NULL if it has none) are set and
 * 0 is returned; on failure the reason is printed and an exit status (> 0) returned. */
int open_user_path(const char *option, const char *path, int flags, mode_t mode, int *ret_fd, char **ret_absolute);

/* {sv} entries of an a{sv} being built. */
int bus_append_option_string(sd_bus_message *m, const char *key, const char *value);
int bus_append_option_bool(sd_bus_message *m, const char *key, bool value);
int bus_append_option_uint32(sd_bus_message *m, const char *key, uint32_t value);
int bus_append_option_fd(sd_bus_message *m, const char *key, int fd);
int bus_append_option_strv(sd_bus_message *m, const char *key, char **l);

/* Writes "PID\n" to an fd opened with open_user_path(); prints why on failure. */
int write_pid_file(int fd, const char *path, pid_t pid);

/* The exit status of a local result: an outcome's (bus-error.h's table, as for cedanad's answers),
 * 1 for an unexpected -errno. */
int exit_status_from_result(int r);
