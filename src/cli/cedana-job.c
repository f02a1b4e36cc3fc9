/* SPDX-License-Identifier: Apache-2.0 */
/* The job and checkpoint verbs: list, inspect, kill, delete, prune, attach. Tables for people, the
 * same rows as JSON with stable keys for scripts. */

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>

#include "bus-error.h"
#include "cedana-job.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "format-util.h"
#include "log.h"
#include "naming.h"
#include "parse-util.h"
#include "strv.h"

/* ---- reading the lists ---- */

static int job_info_compare(const void *a, const void *b) {
        return strcmp(((const JobInfo *) a)->id, ((const JobInfo *) b)->id);
}

int list_jobs(CliBus *b, sd_bus_error *error, sd_bus_message **ret_reply, JobInfo **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ JobInfo *jobs = NULL;
        size_t n = 0, allocated = 0;
        JobInfo j;
        int r = cli_bus_new_manager_call(b, "ListJobs", &m);
        if (r < 0)
                return r;
        r = cli_bus_call(b, m, false, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssusbttsuo)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssusbttsuo)", &j.id, &j.type, &j.pid, &j.state, &j.gpu,
                                        &j.checkpoint_usec, &j.checkpoint_size, &j.log, &j.uid, &j.object)) > 0) {
                if (n == allocated) {
                        allocated = MAX(allocated * 2, (size_t) 16);
                        JobInfo *p = realloc(jobs, allocated * sizeof(JobInfo));
                        if (!p)
                                return -ENOMEM;
                        jobs = p;
                }
                jobs[n++] = j;
        }
        if (r < 0)
                return r;
        if (n > 0)
                qsort(jobs, n, sizeof(JobInfo), job_info_compare);
        *ret_reply = TAKE_PTR(reply);
        *ret = TAKE_PTR(jobs);
        *ret_n = n;
        return 0;
}

int list_checkpoints(CliBus *b, const char *job, sd_bus_error *error, sd_bus_message **ret_reply,
                     CheckpointInfo **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ CheckpointInfo *list = NULL;
        size_t n = 0, allocated = 0;
        CheckpointInfo c;
        int r = cli_bus_new_manager_call(b, "ListCheckpoints", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", strempty(job));
        if (r < 0)
                return r;
        r = cli_bus_call(b, m, false, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sssttsus)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sssttsus)", &c.id, &c.job, &c.path, &c.time_usec, &c.size,
                                        &c.compression, &c.uid, &c.status)) > 0) {
                if (n == allocated) {
                        allocated = MAX(allocated * 2, (size_t) 16);
                        CheckpointInfo *p = realloc(list, allocated * sizeof(CheckpointInfo));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                list[n++] = c;
        }
        if (r < 0)
                return r;
        *ret_reply = TAKE_PTR(reply);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int check_job_name(const Verb *verb, const char *job) {
        if (!job_spec_is_valid(job))
                return log_verb_usage(verb, "'%s' is not a valid job name.", job);
        return 0;
}

static const char *state_color(const char *state) {
        if (streq(state, "running"))
                return ANSI_GREEN;
        if (streq(state, "failed"))
                return ANSI_RED;
        return NULL;
}

/* ---- job list ---- */

static const TableColumn job_columns[] = {
        { "JOB", "job", TABLE_ALIGN_LEFT },
        { "TYPE", "type", TABLE_ALIGN_LEFT },
        { "PID", "pid", TABLE_ALIGN_RIGHT },
        { "STATUS", "status", TABLE_ALIGN_LEFT },
        { "GPU", "gpu", TABLE_ALIGN_LEFT },
        { "CHECKPOINT", "checkpoint", TABLE_ALIGN_LEFT },
        { "SIZE", "size", TABLE_ALIGN_RIGHT },
        { "LOG", "log", TABLE_ALIGN_LEFT },
};

static int add_job_row(Table *t, const JobInfo *j) {
        bool has_checkpoint = j->checkpoint_usec > 0;
        int r = table_add_string(t, j->id);
        if (r >= 0)
                r = table_add_string(t, j->type);
        if (r >= 0)
                r = table_add_pid(t, j->pid);
        if (r >= 0)
                r = table_add_string_colored(t, j->state, state_color(j->state));
        if (r >= 0)
                r = table_add_boolean(t, j->gpu);
        if (r >= 0)
                r = table_add_timestamp_relative(t, j->checkpoint_usec);
        if (r >= 0)
                r = has_checkpoint ? table_add_bytes(t, j->checkpoint_size) : table_add_cell(t, "-", NULL, NULL);
        if (r >= 0)
                r = table_add_string(t, isempty(j->log) ? NULL : j->log);
        return r;
}

int verb_job_list(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ JobInfo *jobs = NULL;
        _cleanup_table_ Table *t = NULL;
        size_t n = 0;
        int r;

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = list_jobs(&bus, &error, &reply, &jobs, &n);
        if (r < 0)
                return log_bus_error(&error, r, "list jobs");

        r = table_new(job_columns, ELEMENTSOF(job_columns), &t);
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                /* Finished jobs are history; --all shows them. */
                if (!arg_all && (streq(jobs[i].state, "exited") || streq(jobs[i].state, "failed")))
                        continue;
                r = add_job_row(t, &jobs[i]);
                if (r < 0)
                        return log_oom();
        }
        return table_print(t, "job", "jobs");
}

/* ---- checkpoints ---- */

static const TableColumn job_checkpoint_columns[] = {
        { "ID", "id", TABLE_ALIGN_LEFT },
        { "TIME", "time", TABLE_ALIGN_LEFT },
        { "SIZE", "size", TABLE_ALIGN_RIGHT },
        { "STATUS", "status", TABLE_ALIGN_LEFT },
        { "PATH", "path", TABLE_ALIGN_LEFT },
};

static const TableColumn checkpoint_columns[] = {
        { "ID", "id", TABLE_ALIGN_LEFT },
        { "JOB", "job", TABLE_ALIGN_LEFT },
        { "TIME", "time", TABLE_ALIGN_LEFT },
        { "SIZE", "size", TABLE_ALIGN_RIGHT },
        { "COMPRESSION", "compression", TABLE_ALIGN_LEFT },
        { "STATUS", "status", TABLE_ALIGN_LEFT },
        { "PATH", "path", TABLE_ALIGN_LEFT },
};

/* A record whose file is gone or was replaced stands out. */
static const char *status_color(const char *status) {
        return streq_ptr(status, "ok") ? NULL : ANSI_RED;
}

static int checkpoint_table(const CheckpointInfo *list, size_t n, bool with_job, Table **ret) {
        _cleanup_table_ Table *t = NULL;
        int r = with_job ? table_new(checkpoint_columns, ELEMENTSOF(checkpoint_columns), &t)
                         : table_new(job_checkpoint_columns, ELEMENTSOF(job_checkpoint_columns), &t);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = table_add_string(t, list[i].id);
                if (r >= 0 && with_job)
                        r = table_add_string(t, isempty(list[i].job) ? NULL : list[i].job);
                if (r >= 0)
                        r = table_add_timestamp(t, list[i].time_usec);
                if (r >= 0)
                        r = table_add_bytes(t, list[i].size);
                if (r >= 0 && with_job)
                        r = table_add_string(t, list[i].compression);
                if (r >= 0)
                        r = table_add_string_colored(t, list[i].status, status_color(list[i].status));
                if (r >= 0)
                        r = table_add_string(t, list[i].path);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static int print_checkpoints(const Verb *verb, const char *job) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ CheckpointInfo *list = NULL;
        _cleanup_table_ Table *t = NULL;
        size_t n = 0;
        int r;

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = list_checkpoints(&bus, job, &error, &reply, &list, &n);
        if (r < 0)
                return job ? log_bus_error(&error, r, "list the checkpoints of job %s", job)
                           : log_bus_error(&error, r, "list checkpoints");
        r = checkpoint_table(list, n, !job, &t);
        if (r < 0)
                return log_oom();
        return table_print(t, "checkpoint", "checkpoints");
}

int verb_job_checkpoints(const Verb *verb, int n_args, char **args) {
        int r = check_job_name(verb, args[0]);
        if (r != 0)
                return r;
        return print_checkpoints(verb, args[0]);
}

int verb_checkpoint_list(const Verb *verb, int n_args, char **args) {
        return print_checkpoints(verb, NULL);
}

int verb_checkpoint_delete(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        int r, ret = 0;

        for (int i = 0; i < n_args; i++)
                if (!checkpoint_spec_is_valid(args[i]))
                        return log_verb_usage(verb, "'%s' is not a valid checkpoint ID.", args[i]);
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        /* Like systemctl: go on with the others, and fail with the first failure. */
        for (int i = 0; i < n_args; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                r = cli_bus_new_manager_call(&bus, "DeleteCheckpoint", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", args[i]);
                if (r >= 0)
                        r = cli_bus_call(&bus, m, false, &error, NULL);
                if (r < 0) {
                        r = log_bus_error(&error, r, "delete checkpoint %s", args[i]);
                        if (ret == 0)
                                ret = r;
                }
        }
        return ret;
}

/* ---- prune ---- */

/* The names a Prune* call answered with: a JSON array, or a line each. */
static int print_pruned(sd_bus_message *reply, const char *what) {
        _cleanup_strv_free_ char **removed = NULL;
        int r = sd_bus_message_read_strv(reply, &removed);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");
        if (arg_json != JSON_MODE_OFF) {
                json_t *a = json_strv(removed);
                if (!a)
                        return log_oom();
                r = json_print(a);
                json_decref(a);
                return r;
        }
        if (arg_quiet)
                return 0;
        STRV_FOREACH(s, removed)
                printf("Removed %s %s.\n", what, *s);
        if (!removed || !removed[0])
                printf("Nothing to remove.\n");
        return 0;
}

static int call_prune(const char *method, const char *what, const char *action, const char *types, ...) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, method, &m);
        if (r >= 0 && types) {
                va_list ap;
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, &reply);
        if (r < 0)
                return log_bus_error(&error, r, "%s", action);
        return print_pruned(reply, what);
}

int verb_job_prune(const Verb *verb, int n_args, char **args) {
        return call_prune("PruneJobs", "job", "prune jobs", NULL);
}

int verb_checkpoint_prune(const Verb *verb, int n_args, char **args) {
        return call_prune("PruneCheckpoints", "checkpoint", "prune checkpoints", "su", strempty(arg_job), arg_keep);
}

/* ---- job inspect ---- */

/* "LastCheckpointTime" -> "last_checkpoint_time", "PID" -> "pid": stable JSON keys derived from
 * the bus properties, so a new property shows up without a change here. */
void property_json_key(const char *name, char *buf, size_t l) {
        size_t n = 0;
        for (size_t i = 0; name[i] && n + 2 < l; i++) {
                char c = name[i];
                bool upper = c >= 'A' && c <= 'Z';
                if (upper && i > 0 && name[i - 1] >= 'a' && name[i - 1] <= 'z')
                        buf[n++] = '_';
                buf[n++] = upper ? (char) (c - 'A' + 'a') : c;
        }
        buf[n] = 0;
}

static int read_property_value(sd_bus_message *m, const char *contents, json_t **ret) {
        union {
                const char *s;
                uint32_t u;
                uint64_t t;
                int b;
                int32_t i;
                int64_t x;
        } v;
        int r;

        switch (contents[0]) {
        case 's':
        case 'o':
                r = sd_bus_message_read_basic(m, contents[0], &v.s);
                *ret = r < 0 ? NULL : json_string_or_null(v.s);
                break;
        case 'u':
                r = sd_bus_message_read_basic(m, 'u', &v.u);
                *ret = r < 0 ? NULL : json_integer(v.u);
                break;
        case 't':
                r = sd_bus_message_read_basic(m, 't', &v.t);
                *ret = r < 0 ? NULL : json_integer((json_int_t) v.t);
                break;
        case 'b':
                r = sd_bus_message_read_basic(m, 'b', &v.b);
                *ret = r < 0 ? NULL : json_boolean(v.b);
                break;
        case 'i':
                r = sd_bus_message_read_basic(m, 'i', &v.i);
                *ret = r < 0 ? NULL : json_integer(v.i);
                break;
        case 'x':
                r = sd_bus_message_read_basic(m, 'x', &v.x);
                *ret = r < 0 ? NULL : json_integer(v.x);
                break;
        default:
                if (streq(contents, "as")) {
                        _cleanup_(strv_freep) char **l = NULL;
                        r = sd_bus_message_read_strv(m, &l);
                        *ret = r < 0 ? NULL : json_strv(l);
                        break;
                }
                r = sd_bus_message_skip(m, contents);
                return r < 0 ? r : 0; /* *ret stays NULL: not shown */
        }
        if (r < 0)
                return r;
        return *ret ? 0 : -ENOMEM;
}

/* Properties.GetAll's a{sv} into a JSON object. */
static int read_properties(sd_bus_message *m, json_t *o) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *contents;
                char key[64];
                json_t *v = NULL;
                r = sd_bus_message_read_basic(m, 's', &name);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r >= 0)
                        r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0)
                        r = read_property_value(m, contents, &v);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0) {
                        json_decref(v);
                        return r;
                }
                if (!v)
                        continue;
                property_json_key(name, key, sizeof(key));
                if (json_object_set_new(o, key, v) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int get_job_properties(CliBus *bus, const char *job, sd_bus_error *error, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL, *props = NULL;
        _cleanup_json_ json_t *o = NULL;
        const char *path;
        int r = cli_bus_new_manager_call(bus, "GetJob", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", job);
        if (r >= 0)
                r = cli_bus_call(bus, m, false, error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        m = sd_bus_message_unref(m);
        r = cli_bus_new_call(bus, path, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", CEDANA_JOB_INTERFACE);
        if (r >= 0)
                r = cli_bus_call(bus, m, false, error, &props);
        if (r >= 0 && !(o = json_object()))
                r = -ENOMEM;
        if (r >= 0)
                r = read_properties(props, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static const char *json_str(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static uint64_t json_u64(const json_t *o, const char *key) {
        uint64_t u = 0;
        (void) json_get_u64(json_object_get(o, key), &u);
        return u;
}

static void print_field(const char *label, const char *value) {
        if (!isempty(value))
                printf("%12s: %s\n", label, value);
}

static void print_job_status(const json_t *o) {
        char a[FORMAT_TIMESTAMP_MAX], b[FORMAT_TIMESTAMP_MAX], c[FORMAT_BYTES_MAX];
        _cleanup_free_ char *line = NULL;
        const char *state = json_str(o, "state") ?: "unknown";
        const char *color = state_color(state);
        bool gpu = false;
        uint64_t pid = json_u64(o, "pid");

        printf("%s%s%s %s (%s)\n", color ? ansi(color) : "", glyph_bullet(),
               color ? ansi(ANSI_NORMAL) : "", strna(json_str(o, "id")), strna(json_str(o, "type")));
        printf("%12s: %s%s%s\n", "State", color ? ansi(color) : "", state, color ? ansi(ANSI_NORMAL) : "");
        if (pid > 0 && asprintf(&line, "%" PRIu64, pid) >= 0)
                print_field("PID", line);
        print_field("Unit", json_str(o, "unit"));
        gpu = json_is_true(json_object_get(o, "gpu"));
        print_field("GPU", gpu ? "yes" : "no");
        print_field("Log", json_str(o, "log"));

        json_t *uid = json_object_get(o, "uid");
        if (uid) {
                struct passwd pw, *result = NULL;
                char buf[4096];
                uint64_t u = json_u64(o, "uid");
                free(line);
                line = NULL;
                int k = getpwuid_r((uid_t) u, &pw, buf, sizeof(buf), &result) == 0 && result
                                ? asprintf(&line, "%s (UID %" PRIu64 ")", pw.pw_name, u)
                                : asprintf(&line, "UID %" PRIu64, u);
                if (k < 0)
                        line = NULL;
                print_field("Owner", line);
        }

        const char *last = json_str(o, "last_checkpoint");
        uint64_t t = json_u64(o, "last_checkpoint_time");
        free(line);
        line = NULL;
        if (!isempty(last) && asprintf(&line, "%s (%s; %s, %s)", last, format_timestamp(a, sizeof(a), t),
                                       format_timestamp_relative(b, sizeof(b), t, 0),
                                       format_bytes(c, sizeof(c), json_u64(o, "last_checkpoint_size"))) >= 0)
                print_field("Checkpoint", line);
        else
                print_field("Checkpoint", "none");
}

int verb_job_inspect(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ CheckpointInfo *list = NULL;
        _cleanup_json_ json_t *o = NULL, *cps = NULL;
        _cleanup_table_ Table *t = NULL;
        size_t n = 0;
        int r;

        r = check_job_name(verb, args[0]);
        if (r != 0)
                return r;
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = get_job_properties(&bus, args[0], &error, &o);
        if (r < 0)
                return log_bus_error(&error, r, "inspect job %s", args[0]);
        r = list_checkpoints(&bus, args[0], &error, &reply, &list, &n);
        if (r < 0)
                return log_bus_error(&error, r, "list the checkpoints of job %s", args[0]);
        r = checkpoint_table(list, n, false, &t);
        if (r < 0)
                return log_oom();

        if (arg_json != JSON_MODE_OFF) {
                r = table_to_json(t, &cps);
                if (r >= 0 && json_object_set_new(o, "checkpoints", TAKE_PTR(cps)) < 0)
                        r = -ENOMEM;
                if (r < 0)
                        return log_oom();
                return json_print(o);
        }

        pager_open();
        print_job_status(o);
        if (n > 0) {
                _cleanup_free_ char *text = NULL;
                r = table_format(t, true, colors_enabled(), &text);
                if (r < 0)
                        return log_oom();
                printf("\n%s", text);
        }
        return 0;
}

/* ---- kill, delete, attach ---- */

int verb_job_kill(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = check_job_name(verb, args[0]);
        if (r != 0)
                return r;
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "KillJob", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "si", args[0], (int32_t) arg_signal);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "kill job %s", args[0]);
        return 0;
}

int verb_job_delete(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = check_job_name(verb, args[0]);
        if (r != 0)
                return r;
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "DeleteJob", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", args[0], (int) arg_with_checkpoints);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "delete job %s", args[0]);
        return 0;
}

int verb_job_attach(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        int r = check_job_name(verb, args[0]);
        if (r != 0)
                return r;
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        return attach_job(&bus, args[0]);
}
