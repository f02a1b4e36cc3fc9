/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana run process` and `cedana manage process`: start a command as a managed job, with a
 * little of the caller's environment, or adopt a running process as one. */

#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bus-error.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "cli-util.h"
#include "containerd.h"
#include "log.h"
#include "naming.h"
#include "parse-util.h"
#include "runc.h"
#include "strv.h"

/* Passed on from our environment; everything else the job gets from -E only. */
static const char *const inherited_env[] = { "PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM" };

static bool env_has_key(char **env, const char *assignment) {
        size_t l = strcspn(assignment, "=");
        STRV_FOREACH(e, env)
                if (strncmp(*e, assignment, l) == 0 && (*e)[l] == '=')
                        return true;
        return false;
}

static int build_env(char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        for (size_t i = 0; i < ELEMENTSOF(inherited_env); i++) {
                const char *v = getenv(inherited_env[i]);
                _cleanup_free_ char *e = NULL;
                if (!v)
                        continue;
                /* -E wins over what we inherit. */
                if (asprintf(&e, "%s=%s", inherited_env[i], v) < 0)
                        return -ENOMEM;
                if (env_has_key(arg_setenv, e))
                        continue;
                if (strv_push(&env, e) < 0)
                        return -ENOMEM;
                e = NULL;
        }
        STRV_FOREACH(e, arg_setenv)
                if (strv_extend(&env, *e) < 0)
                        return -ENOMEM;
        if (!env && !(env = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

static int append_run_options(sd_bus_message *m, int log_fd, const char *log_path) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *cwd = get_current_dir_name();
        int r = build_env(&env);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_name)
                r = bus_append_option_string(m, "name", arg_name);
        /* Without a usable working directory the job starts in "/", as cedanad decides. */
        if (r >= 0 && cwd && cwd[0] == '/')
                r = bus_append_option_string(m, "cwd", cwd);
        if (r >= 0)
                r = bus_append_option_strv(m, "env", env);
        if (r >= 0 && log_path)
                r = bus_append_option_string(m, "log", log_path);
        if (r >= 0 && log_fd >= 0)
                r = bus_append_option_fd(m, "log_fd", log_fd);
        if (r >= 0 && arg_attach)
                r = bus_append_option_bool(m, "attach", true);
        /* Typed at a terminal: the job gets one too, as large as ours, so that line editing,
         * Ctrl-C and full-screen programs work as they would here. */
        struct winsize ws = {};
        if (r >= 0 && arg_attach && isatty(STDIN_FILENO)) {
                r = bus_append_option_bool(m, "tty", true);
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
                        ws = (struct winsize) {};
                if (r >= 0 && ws.ws_row > 0 && ws.ws_col > 0)
                        r = bus_append_option_uint32(m, "tty_rows", ws.ws_row);
                if (r >= 0 && ws.ws_row > 0 && ws.ws_col > 0)
                        r = bus_append_option_uint32(m, "tty_cols", ws.ws_col);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* The job's Log property: where cedanad sends its output when no --log was given. */
static char *job_log_path(CliBus *bus, const char *job) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *path, *log;
        if (cli_bus_new_manager_call(bus, "GetJob", &m) < 0 || sd_bus_message_append(m, "s", job) < 0)
                return NULL;
        if (sd_bus_call(bus->bus, m, 0, NULL, &reply) < 0 || sd_bus_message_read(reply, "o", &path) < 0)
                return NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *prop = NULL;
        if (cli_bus_get_property(bus, path, CEDANA_JOB_INTERFACE, "Log", NULL, &prop, "s") < 0)
                return NULL;
        if (sd_bus_message_read(prop, "s", &log) < 0 || isempty(log))
                return NULL;
        return strdup(log);
}

static int print_started(const char *job, uint32_t pid, const char *log) {
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = json_pack("{s:s, s:I, s:o}", "job", job, "pid", (json_int_t) pid, "log",
                                                     json_string_or_null(log));
                if (!v)
                        return log_oom();
                return json_print(v);
        }
        if (arg_quiet)
                return 0;
        /* With --attach stdout carries the job's output; our words go to stderr. */
        FILE *f = arg_attach ? stderr : stdout;
        if (log)
                fprintf(f, "Started job %s (PID %" PRIu32 "), logging to %s.\n", job, pid, log);
        else
                fprintf(f, "Started job %s (PID %" PRIu32 ").\n", job, pid);
        fflush(f);
        return 0;
}

int verb_run(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_close_ int log_fd = -EBADF;
        _cleanup_free_ char *log_path = NULL, *job_log = NULL;
        const char *job;
        uint32_t pid;
        int r;

        if (arg_name && !job_name_is_valid(arg_name))
                return log_verb_usage(verb,
                                      "'%s' is not a valid job name: use up to 64 letters, digits, '.', '_' and '-', "
                                      "starting with a letter or digit.",
                                      arg_name);
        if (arg_attach && arg_json != JSON_MODE_OFF)
                return log_verb_usage(verb, "--attach puts the job's output on stdout and cannot be combined with --json.");
        if (isempty(args[0]))
                return log_verb_usage(verb, "The command to run is empty.");
        if (arg_log) {
                r = open_user_path("--log", arg_log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640, &log_fd,
                                   &log_path);
                if (r != 0)
                        return r;
        }

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "Run", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "process");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, args);
        if (r >= 0)
                r = append_run_options(m, log_fd, log_path);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, &reply);
        if (r < 0)
                return log_bus_error(&error, r, "run %s", args[0]);
        r = sd_bus_message_read(reply, "su", &job, &pid);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");

        if (!log_path)
                job_log = job_log_path(&bus, job);
        r = print_started(job, pid, log_path ?: job_log);
        if (r < 0 || !arg_attach)
                return r;
        return attach_job(&bus, job);
}

int verb_manage(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        bool containerd = streq(verb->name, "containerd"), container = containerd || streq(verb->name, "runc");
        const char *job;
        pid_t pid = 0;
        int r;

        if (!container && parse_pid(args[0], &pid) < 0)
                return log_verb_usage(verb, "'%s' is not a process ID.", args[0]);
        if (container && !(containerd ? containerd_name_is_valid(args[0]) : runc_id_is_valid(args[0])))
                return log_verb_usage(verb, "'%s' is not a valid container id.", args[0]);
        if (arg_name && !job_name_is_valid(arg_name))
                return log_verb_usage(verb,
                                      "'%s' is not a valid job name: use up to 64 letters, digits, '.', '_' and '-', "
                                      "starting with a letter or digit.",
                                      arg_name);
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "Manage", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", verb->name, args[0]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_name)
                r = bus_append_option_string(m, "name", arg_name);
        if (r >= 0 && arg_runc_root)
                r = bus_append_option_string(m, "runc_root", arg_runc_root);
        if (r >= 0 && arg_namespace)
                r = bus_append_option_string(m, "namespace", arg_namespace);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, &reply);
        if (r < 0)
                return log_bus_error(&error, r, "manage %s %s", verb->name, args[0]);
        r = sd_bus_message_read(reply, "s", &job);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = container ? json_pack("{s:s, s:s}", "job", job, "container", args[0])
                                                     : json_pack("{s:s, s:I}", "job", job, "pid", (json_int_t) pid);
                if (!v)
                        return log_oom();
                return json_print(v);
        }
        if (!arg_quiet && container)
                printf("Container %s is now managed as job %s.\n", args[0], job);
        else if (!arg_quiet)
                printf("Process %i is now managed as job %s.\n", (int) pid, job);
        return 0;
}
