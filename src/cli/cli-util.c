/* SPDX-License-Identifier: Apache-2.0 */
/* Paths are opened here, by the CLI, with the user's own rights and without following symlinks,
 * and handed to cedanad as file descriptors (SECURITY.md, principle 4). */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bus-error.h"
#include "cli-util.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "path-util.h"

int exit_status_from_result(int r) {
        if (r == 0)
                return CEDANA_EXIT_SUCCESS;
        return r > 0 ? cedana_error_to_exit_code((CedanaError) r) : CEDANA_EXIT_FAILURE;
}

int open_user_path(const char *option, const char *path, int flags, mode_t mode, int *ret_fd, char **ret_absolute) {
        bool writing = (flags & O_ACCMODE) != O_RDONLY;
        int fd;

        if (isempty(path)) {
                log_error("%s needs a path.", option);
                return CEDANA_EXIT_USAGE;
        }
        /* URLs would otherwise be "does not exist": name what takes them. */
        if (strstr(path, "://")) {
                log_error("%s %s: only a dump's --dir and a restore's --path take URLs, and only s3:// ones (the "
                          "object store cedanad is configured with); give a local path here.",
                          option, path);
                return CEDANA_EXIT_UNSUPPORTED;
        }
        /* O_NONBLOCK: a FIFO given as a path must not hang us in open(); the type check below
         * refuses it, and the flag is cleared again for what is kept. */
        fd = open_nofollow(path, flags | O_NOCTTY | O_NONBLOCK, mode);
        if (fd == -ENXIO)
                fd = -ENODEV; /* a FIFO without a reader */
        if (fd < 0) {
                /* The same outcome, and exit code, as cedanad gives for the same path. */
                CedanaError e;
                switch (fd) {
                case -ELOOP:
                        log_error("%s %s is, or passes through, a symbolic link; cedana does not follow symbolic "
                                  "links, give the real path.",
                                  option, path);
                        e = CEDANA_E_PATH_NOT_ALLOWED;
                        break;
                case -ENOENT:
                        log_error("%s %s does not exist.", option, path);
                        e = CEDANA_E_NO_SUCH_FILE;
                        break;
                case -ENOTDIR:
                        log_error("%s %s is not a directory, or a part of it is not.", option, path);
                        e = CEDANA_E_NO_SUCH_FILE;
                        break;
                case -EISDIR:
                        log_error("%s %s is a directory; give a file.", option, path);
                        e = CEDANA_E_INVALID_ARGS;
                        break;
                case -EACCES:
                case -EPERM:
                        log_error("%s %s: you may not %s it.", option, path, writing ? "write" : "read");
                        e = CEDANA_E_PATH_NOT_ALLOWED;
                        break;
                case -ENODEV:
                        log_error("%s %s is not a regular file or directory.", option, path);
                        e = CEDANA_E_INVALID_ARGS;
                        break;
                case -EXDEV:
                        log_error("%s %s crosses a mount point cedana may not follow; give the real path.", option,
                                  path);
                        e = CEDANA_E_PATH_NOT_ALLOWED;
                        break;
                default:
                        log_error_errno(fd, "Failed to open %s %s: %m", option, path);
                        return CEDANA_EXIT_FAILURE;
                }
                return cedana_error_to_exit_code(e);
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || (S_ISDIR(st.st_mode) && !writing))) {
                log_error("%s %s is not a regular file%s.", option, path, writing ? "" : " or directory");
                safe_close(fd);
                return CEDANA_EXIT_USAGE;
        }
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);

        if (ret_absolute) {
                _cleanup_free_ char *p = NULL;
                /* A path the daemon can show in messages; none if the kernel's is not a plain one
                 * (deleted, or outside our mount namespace). */
                if (fd_get_path(fd, &p) >= 0 && path_is_normalized(p))
                        *ret_absolute = TAKE_PTR(p);
                else
                        *ret_absolute = NULL;
        }
        *ret_fd = fd;
        return 0;
}

int bus_append_option_string(sd_bus_message *m, const char *key, const char *value) {
        return sd_bus_message_append(m, "{sv}", key, "s", value);
}

int bus_append_option_bool(sd_bus_message *m, const char *key, bool value) {
        return sd_bus_message_append(m, "{sv}", key, "b", (int) value);
}

int bus_append_option_uint32(sd_bus_message *m, const char *key, uint32_t value) {
        return sd_bus_message_append(m, "{sv}", key, "u", value);
}

int bus_append_option_fd(sd_bus_message *m, const char *key, int fd) {
        return sd_bus_message_append(m, "{sv}", key, "h", fd);
}

int bus_append_option_strv(sd_bus_message *m, const char *key, char **l) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 's', key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, l);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int write_pid_file(int fd, const char *path, pid_t pid) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%i\n", (int) pid);
        int r = loop_write(fd, buf, (size_t) n);
        if (r < 0) {
                log_error_errno(r, "Failed to write the PID file %s: %m", path);
                return cedana_error_to_exit_code(r == -ENOSPC || r == -EDQUOT ? CEDANA_E_NO_SPACE : CEDANA_E_PATH_NOT_ALLOWED);
        }
        return 0;
}
