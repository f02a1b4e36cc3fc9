/* SPDX-License-Identifier: Apache-2.0 */
/* The job and checkpoint verbs: list, inspect, kill, delete, prune, attach. Tables for people, the
 * same rows as JSON with stable keys for scripts. */

#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

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
        r = sd_bus_message_enter_container(reply, 'a', "(ssusbttsuois)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssusbttsuois)", &j.id, &j.type, &j.pid, &j.state, &j.gpu,
                                        &j.checkpoint_usec, &j.checkpoint_size, &j.log, &j.uid, &j.object,
                                        &j.exit_code, &j.signal)) > 0) {
                j.unit = j.checkpoint_id = j.restored_from = j.schedule_last_result = NULL;
                j.schedule_usec = j.schedule_next_usec = j.schedule_last_usec = 0;
                j.schedule_keep = 0;
                j.persist = j.restore_at_boot = false;
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

int check_job_name(const Verb *verb, const char *job) {
        if (!job_spec_is_valid(job))
                return log_verb_usage(verb, "'%s' is not a valid job name.", job);
        return 0;
}

int connect_for_job(const Verb *verb, const char *job, CliBus *bus) {
        int r = check_job_name(verb, job);
        return r != 0 ? r : cli_bus_connect(bus, 0);
}

static const char *state_color(const char *state) {
        if (streq(state, "running"))
                return ANSI_GREEN;
        if (streq(state, "failed"))
                return ANSI_RED;
        return NULL;
}

char *uid_to_user(uid_t uid) {
        struct passwd pw, *result = NULL;
        char buf[4096], *s = NULL;
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) == 0 && result)
                return strdup(pw.pw_name);
        return asprintf(&s, "%u", (unsigned) uid) < 0 ? NULL : s;
}

static json_t *string_or_null(const char *s) {
        return isempty(s) ? json_null() : json_string(s);
}

json_t *job_info_to_json(const JobInfo *j) {
        _cleanup_free_ char *user = uid_to_user(j->uid);
        bool ended = j->exit_code >= 0 || !isempty(j->signal);
        json_t *o = json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}",
                              "job", string_or_null(j->id), "user", string_or_null(user), "uid", (json_int_t) j->uid,
                              "type", string_or_null(j->type), "status", string_or_null(j->state),
                              "pid", j->pid > 0 ? json_integer(j->pid) : json_null(), "gpu", j->gpu,
                              "exit_code", ended && j->exit_code >= 0 ? json_integer(j->exit_code) : json_null(),
                              "signal", string_or_null(j->signal),
                              "checkpoint", j->checkpoint_usec > 0 ? json_integer((json_int_t) j->checkpoint_usec) : json_null(),
                              "size", j->checkpoint_usec > 0 ? json_integer((json_int_t) j->checkpoint_size) : json_null(),
                              "log", string_or_null(j->log), "unit", string_or_null(j->unit),
                              "checkpoint_id", string_or_null(j->checkpoint_id),
                              "restored_from", string_or_null(j->restored_from),
                              "schedule", schedule_to_json(j), "persist", j->persist, "restore_at_boot",
                              j->restore_at_boot);
        return o;
}

/* "failed (status 3)", "killed (TERM)", or the state alone. */
static char *status_text(const JobInfo *j) {
        char *s = NULL;
        int k = j->exit_code > 0    ? asprintf(&s, "%s (status %i)", j->state, j->exit_code)
                : !isempty(j->signal) ? asprintf(&s, "%s (%s)", j->state, j->signal)
                                      : asprintf(&s, "%s", j->state);
        return k < 0 ? NULL : s;
}

/* ---- job list ---- */

#define JOB_COLUMNS_AFTER_USER                         \
        { "TYPE", "type", TABLE_ALIGN_LEFT },           \
        { "PID", "pid", TABLE_ALIGN_RIGHT },            \
        { "STATUS", "status", TABLE_ALIGN_LEFT },       \
        { "GPU", "gpu", TABLE_ALIGN_LEFT },             \
        { "CHECKPOINT", "checkpoint", TABLE_ALIGN_LEFT }, \
        { "SIZE", "size", TABLE_ALIGN_RIGHT },          \
        { "SCHEDULE", "schedule", TABLE_ALIGN_LEFT },   \
        { "LOG", "log", TABLE_ALIGN_LEFT }

static const TableColumn job_columns[] = {
        { "JOB", "job", TABLE_ALIGN_LEFT },
        JOB_COLUMNS_AFTER_USER,
};

static const TableColumn job_columns_with_user[] = {
        { "JOB", "job", TABLE_ALIGN_LEFT },
        { "USER", "user", TABLE_ALIGN_LEFT },
        JOB_COLUMNS_AFTER_USER,
};

static int add_job_row(Table *t, const JobInfo *j, bool with_user) {
        bool has_checkpoint = j->checkpoint_usec > 0;
        _cleanup_free_ char *status = status_text(j), *user = with_user ? uid_to_user(j->uid) : NULL,
                            *schedule = schedule_summary(j);
        int r = table_add_string(t, j->id);
        if (r >= 0 && with_user)
                r = table_add_string(t, user);
        if (r >= 0)
                r = table_add_string(t, j->type);
        if (r >= 0)
                r = table_add_pid(t, j->pid);
        if (r >= 0)
                r = table_add_string_colored(t, status ?: j->state, state_color(j->state));
        if (r >= 0)
                r = table_add_boolean(t, j->gpu);
        if (r >= 0)
                r = table_add_timestamp_relative(t, j->checkpoint_usec);
        if (r >= 0)
                r = has_checkpoint ? table_add_bytes(t, j->checkpoint_size) : table_add_cell(t, "-", NULL, NULL);
        if (r >= 0)
                r = schedule ? table_add_cell(t, schedule, NULL, schedule_to_json(j)) : -ENOMEM;
        if (r >= 0)
                r = table_add_string(t, isempty(j->log) ? NULL : j->log);
        return r;
}

/* Shown without --all: what may need attention, as systemctl shows failed units. Exited and
 * killed jobs are history. */
static bool job_listed(const JobInfo *j) {
        return arg_all || !(streq(j->state, "exited") || streq(j->state, "killed"));
}

int verb_job_list(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unref_pairp) sd_bus_message *replies[2] = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ JobInfo *jobs = NULL;
        _cleanup_table_ Table *t = NULL;
        size_t n = 0;
        int r;

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = list_jobs_with_schedules(&bus, &error, replies, &jobs, &n);
        if (r < 0)
                return log_bus_error(&error, r, "list jobs");

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *a = json_array();
                for (size_t i = 0; a && i < n; i++)
                        if (job_listed(&jobs[i]) && json_array_append_new(a, job_info_to_json(&jobs[i])) < 0)
                                return log_oom();
                return a ? json_print(a) : log_oom();
        }
        /* A USER column when the list has anybody else's jobs (root sees everybody's). */
        bool with_user = false;
        for (size_t i = 0; i < n; i++)
                if (job_listed(&jobs[i]) && jobs[i].uid != getuid())
                        with_user = true;
        r = with_user ? table_new(job_columns_with_user, ELEMENTSOF(job_columns_with_user), &t)
                      : table_new(job_columns, ELEMENTSOF(job_columns), &t);
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                if (!job_listed(&jobs[i]))
                        continue;
                r = add_job_row(t, &jobs[i], with_user);
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

/* with_job: the JOB and COMPRESSION columns too, which a job's own listing leaves out for people;
 * JSON always has every key, so that all listings share one vocabulary. */
static int checkpoint_table(const CheckpointInfo *list, size_t n, bool with_job, Table **ret) {
        _cleanup_table_ Table *t = NULL;
        with_job = with_job || arg_json != JSON_MODE_OFF;
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

int get_job_properties(CliBus *bus, const char *job, sd_bus_error *error, json_t **ret) {
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


/* The job's properties (GetAll, as JSON) as the row a listing has; strings borrowed from o. */
JobInfo job_info_from_properties(const json_t *o) {
        json_int_t exit_code = -1;
        json_t *e = json_object_get(o, "exit_code");
        if (json_is_integer(e))
                exit_code = json_integer_value(e);
        return (JobInfo) {
                .id = json_str(o, "id"),
                .type = json_str(o, "type"),
                .state = json_str(o, "state") ?: "unknown",
                .log = json_str(o, "log"),
                .signal = json_str(o, "exit_signal"),
                .unit = json_str(o, "unit"),
                .checkpoint_id = json_str(o, "last_checkpoint"),
                .restored_from = json_str(o, "restored_from"),
                .pid = (uint32_t) json_u64(o, "pid"),
                .uid = (uint32_t) json_u64(o, "uid"),
                .gpu = json_is_true(json_object_get(o, "gpu")),
                .exit_code = (int32_t) exit_code,
                .checkpoint_usec = json_u64(o, "last_checkpoint_time"),
                .checkpoint_size = json_u64(o, "last_checkpoint_size"),
                .schedule_usec = json_u64(o, "schedule_interval"),
                .schedule_next_usec = json_u64(o, "schedule_next"),
                .schedule_last_usec = json_u64(o, "schedule_last_time"),
                .schedule_last_result = json_str(o, "schedule_last_result"),
                .schedule_keep = (uint32_t) json_u64(o, "schedule_keep"),
                .persist = json_is_true(json_object_get(o, "persist")),
                .restore_at_boot = json_is_true(json_object_get(o, "restore_at_boot")),
        };
}

static void print_job_status(const JobInfo *j) {
        char a[FORMAT_TIMESTAMP_MAX], b[FORMAT_TIMESTAMP_MAX], c[FORMAT_BYTES_MAX];
        _cleanup_free_ char *line = NULL, *status = status_text(j), *user = uid_to_user(j->uid);
        const char *color = state_color(j->state);

        printf("%s%s%s %s (%s)\n", color ? ansi(color) : "", glyph_bullet(), color ? ansi(ANSI_NORMAL) : "",
               strna(j->id), strna(j->type));
        printf("%*s: %s%s%s\n", FIELD_LABEL_WIDTH, "Status", color ? ansi(color) : "", status ?: j->state,
               color ? ansi(ANSI_NORMAL) : "");
        if (j->pid > 0 && asprintf(&line, "%" PRIu32, j->pid) >= 0)
                print_field("PID", line);
        print_field("Unit", j->unit);
        print_field("GPU", j->gpu ? "yes" : "no");
        print_field("Log", j->log);
        free(line);
        line = NULL;
        if (asprintf(&line, "%s (UID %" PRIu32 ")", strna(user), j->uid) >= 0)
                print_field("Owner", line);
        free(line);
        line = NULL;
        uint64_t t = j->checkpoint_usec;
        if (!isempty(j->checkpoint_id) &&
            asprintf(&line, "%s (%s; %s, %s)", j->checkpoint_id, format_timestamp(a, sizeof(a), t),
                     format_timestamp_relative(b, sizeof(b), t, 0), format_bytes(c, sizeof(c), j->checkpoint_size)) >= 0)
                print_field("Checkpoint", line);
        else
                print_field("Checkpoint", "none");
        print_field("Restored from", j->restored_from);
        print_schedule(j);
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

        r = connect_for_job(verb, args[0], &bus);
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
        JobInfo j = job_info_from_properties(o);

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *out = job_info_to_json(&j);
                r = out ? table_to_json(t, &cps) : -ENOMEM;
                if (r >= 0 && json_object_set_new(out, "checkpoints", TAKE_PTR(cps)) < 0)
                        r = -ENOMEM;
                if (r < 0)
                        return log_oom();
                return json_print(out);
        }

        pager_open();
        print_job_status(&j);
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
        int r = connect_for_job(verb, args[0], &bus);
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
        int r = connect_for_job(verb, args[0], &bus);
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
        int r = connect_for_job(verb, args[0], &bus);
        if (r != 0)
                return r;
        return attach_job(&bus, args[0]);
}

/* ---- logs ---- */

/* Copies what fd has from where it is; with follow, goes on as it grows. */
static int copy_log(int fd, bool follow) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0) {
                        if (fwrite(buf, 1, (size_t) n, stdout) != (size_t) n)
                                return -EIO;
                        continue;
                }
                if (!follow)
                        return 0;
                (void) fflush(stdout);
                /* A log grows by a job's writes: a tenth of a second is quick enough to look. */
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                (void) nanosleep(&ts, NULL);
        }
}

int verb_job_logs(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_t *o = NULL;
        int r = connect_for_job(verb, args[0], &bus);
        if (r != 0)
                return r;
        r = get_job_properties(&bus, args[0], &error, &o);
        if (r < 0)
                return log_bus_error(&error, r, "find job %s", args[0]);
        const char *path = json_str(o, "log");
        if (isempty(path)) {
                log_error("Job %s has no log: it was adopted, or restored without one.", args[0]);
                return CEDANA_EXIT_NOT_FOUND;
        }
        /* As the caller, who may read their own job's log and nobody else's. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                if (r == -ENOENT) {
                        log_error("The log of job %s, %s, does not exist (any more).", args[0], path);
                        return CEDANA_EXIT_NOT_FOUND;
                }
                log_error("Cannot read the log of job %s, %s: %s.", args[0], path, strerror(-r));
                return r == -EACCES || r == -EPERM ? CEDANA_EXIT_ACCESS_DENIED : CEDANA_EXIT_FAILURE;
        }
        r = copy_log(fd, arg_follow);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        return 0;
}
