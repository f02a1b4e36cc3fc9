/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana dump process|job|runc`: validates the request, opens --dir as the caller, asks cedanad for
 * the checkpoint with its progress on stderr, and says where it went. */

#include <fcntl.h>
#include <stdio.h>

#include "bus-error.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "cli-util.h"
#include "containerd.h"
#include "format-util.h"
#include "log.h"
#include "naming.h"
#include "parse-util.h"
#include "runc.h"

static int check_dump_args(const Verb *verb, const char *target) {
        pid_t pid;

        if (streq(verb->name, "process") && parse_pid(target, &pid) < 0)
                return log_verb_usage(verb, "'%s' is not a process ID.", target);
        if (streq(verb->name, "job") && !job_spec_is_valid(target))
                return log_verb_usage(verb, "'%s' is not a valid job name.", target);
        if (streq(verb->name, "runc") && !runc_id_is_valid(target))
                return log_verb_usage(verb, "'%s' is not a valid container id.", target);
        if (streq(verb->name, "containerd") && !containerd_name_is_valid(target))
                return log_verb_usage(verb, "'%s' is not a valid containerd container id.", target);
        if (arg_name && !checkpoint_name_is_valid(arg_name))
                return log_verb_usage(verb,
                                      "'%s' is not a valid checkpoint name: use up to 200 letters, digits, '.', '_' "
                                      "and '-', starting with a letter or digit.",
                                      arg_name);
        return 0;
}

static int append_dump_options(sd_bus_message *m, int dir_fd, const char *dir, int log_fd) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        /* Without --dir no directory at all: the daemon's configured one applies. */
        if (r >= 0 && dir_fd >= 0)
                r = bus_append_option_fd(m, "dir_fd", dir_fd);
        if (r >= 0 && dir)
                r = bus_append_option_string(m, "dir", dir);
        if (r >= 0 && arg_name)
                r = bus_append_option_string(m, "name", arg_name);
        if (r >= 0 && arg_compression >= 0)
                r = bus_append_option_string(m, "compression", compression_to_string(arg_compression));
        if (r >= 0 && arg_leave_running)
                r = bus_append_option_bool(m, "leave_running", true);
        if (r >= 0 && arg_tcp_established)
                r = bus_append_option_bool(m, "tcp_established", true);
        if (r >= 0 && arg_file_locks)
                r = bus_append_option_bool(m, "file_locks", true);
        if (r >= 0 && arg_shell_job)
                r = bus_append_option_bool(m, "shell_job", true);
        if (r >= 0 && arg_external)
                r = bus_append_option_strv(m, "external", arg_external);
        if (r >= 0 && arg_link_remap)
                r = bus_append_option_bool(m, "link_remap", true);
        if (r >= 0 && log_fd >= 0)
                r = bus_append_option_fd(m, "log_fd", log_fd);
        if (r >= 0 && arg_runc_root)
                r = bus_append_option_string(m, "runc_root", arg_runc_root);
        if (r >= 0 && arg_namespace)
                r = bus_append_option_string(m, "namespace", arg_namespace);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int print_dump_result(const char *id, const char *path, uint64_t size, json_t *stats) {
        if (stats && stats_add_ratio(stats) < 0)
                return log_oom();
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = json_pack("{s:s, s:s, s:I}", "checkpoint", id, "path", path, "size",
                                                     (json_int_t) size);
                if (!v || (arg_print_stats && json_object_set(v, "stats", stats ?: json_null()) < 0))
                        return log_oom();
                return json_print(v);
        }
        if (!arg_quiet) {
                char buf[FORMAT_BYTES_MAX];
                printf("Checkpoint %s written to %s (%s).\n", id, path, format_bytes(buf, sizeof(buf), size));
        }
        return print_stats(stats);
}

int verb_dump(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(cli_call_info_done) CliCallInfo info = {};
        _cleanup_close_ int dir_fd = -EBADF, log_fd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        const char *target = args[0], *id, *path;
        uint64_t size;
        int r;

        r = check_dump_args(verb, target);
        if (r != 0)
                return r;
        if (arg_dir && startswith(arg_dir, "s3://")) {
                /* cedanad writes the object; what the caller may use there, it decides. */
                if (!(dir = strdup(arg_dir)))
                        return log_oom();
        } else if (arg_dir) {
                r = open_user_path("--dir", arg_dir, O_RDONLY | O_DIRECTORY, 0, &dir_fd, &dir);
                if (r != 0)
                        return r;
        }
        /* Opened here, as the caller: cedanad writes CRIU's log into it whatever the outcome. */
        if (arg_log) {
                r = open_user_path("--log", arg_log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0640, &log_fd, NULL);
                if (r != 0)
                        return r;
        }

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "Dump", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", verb->name, target);
        if (r >= 0)
                r = append_dump_options(m, dir_fd, dir, log_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");

        r = cli_bus_call_long(&bus, m, &info, &error, &reply);
        if (r == -ECANCELED && !sd_bus_error_is_set(&error))
                return CEDANA_EXIT_CANCELLED;
        if (r < 0)
                return log_bus_error(&error, r, "dump %s %s", verb->name, target);
        r = sd_bus_message_read(reply, "sst", &id, &path, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");
        if (info.cancel_requested)
                log_warning("Too late to cancel: checkpoint %s was complete already.", id);
        return print_dump_result(id, path, size, info.stats);
}
