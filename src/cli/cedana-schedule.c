/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana job schedule|persist|restore-persisted`: jobs that are checkpointed on a schedule, and
 * jobs that outlive a shutdown; and how listings show both. */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bus-error.h"
#include "cedana-job.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "cli-util.h"
#include "fd-util.h"
#include "format-util.h"
#include "log.h"

static int list_schedules(CliBus *b, JobInfo *jobs, size_t n, sd_bus_error *error, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *id, *result;
        uint32_t uid, keep;
        uint64_t every, next, last;
        int persist, at_boot;
        int r = cli_bus_new_manager_call(b, "ListSchedules", &m);
        if (r >= 0)
                r = cli_bus_call(b, m, false, error, &reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sutttsubb)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sutttsubb)", &id, &uid, &every, &next, &last, &result, &keep, &persist,
                                        &at_boot)) > 0)
                for (size_t i = 0; i < n; i++) {
                        JobInfo *j = &jobs[i];
                        if (j->uid != uid || !streq(j->id, id))
                                continue;
                        j->schedule_usec = every;
                        j->schedule_next_usec = next;
                        j->schedule_last_usec = last;
                        j->schedule_last_result = result;
                        j->schedule_keep = keep;
                        j->persist = persist;
                        j->restore_at_boot = at_boot;
                }
        if (r < 0)
                return r;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int list_jobs_with_schedules(CliBus *b, sd_bus_error *error, sd_bus_message *ret_replies[2], JobInfo **ret,
                             size_t *ret_n) {
        int r = list_jobs(b, error, &ret_replies[0], ret, ret_n);
        return r < 0 ? r : list_schedules(b, *ret, *ret_n, error, &ret_replies[1]);
}

static bool last_failed(const JobInfo *j) {
        return !isempty(j->schedule_last_result) && !streq(j->schedule_last_result, "success");
}

char *schedule_summary(const JobInfo *j) {
        char every[FORMAT_TIMESPAN_MAX], next[FORMAT_TIMESTAMP_MAX];
        char *s = NULL;
        const char *mark = j->restore_at_boot ? "restored at boot" : j->persist ? "persist" : NULL;
        int k;
        if (j->schedule_usec == 0)
                k = asprintf(&s, "%s", mark ?: "-");
        else
                k = asprintf(&s, "every %s%s%s%s%s%s", format_timespan(every, sizeof(every), j->schedule_usec),
                             j->schedule_next_usec > 0 ? ", next " : "",
                             j->schedule_next_usec > 0 ? format_timestamp_relative(next, sizeof(next),
                                                                                     j->schedule_next_usec, 0)
                                                       : "",
                             last_failed(j) ? ", last failed" : "", mark ? "; " : "", strempty(mark));
        return k < 0 ? NULL : s;
}

json_t *schedule_to_json(const JobInfo *j) {
        if (j->schedule_usec == 0)
                return json_null();
        return json_pack("{s:I, s:o, s:o, s:o, s:o}", "every_usec", (json_int_t) j->schedule_usec, "keep",
                         j->schedule_keep > 0 ? json_integer(j->schedule_keep) : json_null(), "next_usec",
                         j->schedule_next_usec > 0 ? json_integer((json_int_t) j->schedule_next_usec) : json_null(),
                         "last_usec",
                         j->schedule_last_usec > 0 ? json_integer((json_int_t) j->schedule_last_usec) : json_null(),
                         "last_result", isempty(j->schedule_last_result) ? json_null() : json_string(j->schedule_last_result));
}

void print_schedule(const JobInfo *j) {
        char a[FORMAT_TIMESPAN_MAX], b[FORMAT_TIMESTAMP_MAX], c[FORMAT_TIMESTAMP_MAX];
        if (j->schedule_usec == 0)
                print_field("Schedule", "none");
        else {
                format_timespan(a, sizeof(a), j->schedule_usec);
                if (j->schedule_keep > 0)
                        print_fieldf("Schedule", "every %s, keeping the newest %" PRIu32, a, j->schedule_keep);
                else
                        print_fieldf("Schedule", "every %s, keeping all", a);
                if (j->schedule_next_usec > 0)
                        print_fieldf("Next", "%s (%s)", format_timestamp(b, sizeof(b), j->schedule_next_usec),
                                     format_timestamp_relative(c, sizeof(c), j->schedule_next_usec, 0));
                else
                        print_field("Next", "when the job runs again");
                if (j->schedule_last_usec > 0)
                        print_fieldf("Last", "%s: %s", format_timestamp(b, sizeof(b), j->schedule_last_usec),
                                     j->schedule_last_result);
        }
        print_field("Persist", j->restore_at_boot ? "yes, checkpointed at shutdown: restored at the next boot"
                               : j->persist     ? "yes: checkpointed at shutdown, restored at boot"
                                                : "no");
}

/* ---- job schedule ---- */

static int show_schedule(CliBus *bus, const char *job) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_t *o = NULL;
        int r = get_job_properties(bus, job, &error, &o);
        if (r < 0)
                return log_bus_error(&error, r, "show the schedule of job %s", job);
        JobInfo j = job_info_from_properties(o);
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *out = json_pack("{s:s, s:o, s:b, s:b}", "job", j.id, "schedule",
                                                       schedule_to_json(&j), "persist", j.persist, "restore_at_boot",
                                                       j.restore_at_boot);
                return out ? json_print(out) : log_oom();
        }
        print_field("Job", j.id);
        print_schedule(&j);
        return 0;
}

static int run_schedule_now(CliBus *bus, const char *job) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(cli_call_info_done) CliCallInfo info = {};
        const char *id, *path;
        uint64_t size;
        int r = cli_bus_new_manager_call(bus, "RunJobSchedule", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", job);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call_long(bus, m, &info, &error, &reply);
        if (r == -ECANCELED && !sd_bus_error_is_set(&error))
                return CEDANA_EXIT_CANCELLED;
        if (r < 0)
                return log_bus_error(&error, r, "take the scheduled checkpoint of job %s", job);
        r = sd_bus_message_read(reply, "sst", &id, &path, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to parse cedanad's reply: %m");
        return print_dump_result(id, path, size, info.stats);
}

int verb_job_schedule(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *dir = NULL;
        const char *job = args[0];
        bool setting = arg_every > 0 || arg_keep != UINT32_MAX || arg_compression >= 0 || arg_dir;

        int r = check_job_name(verb, job);
        if (r != 0)
                return r;
        if ((arg_off || arg_now) && (setting || (arg_off && arg_now)))
                return log_verb_usage(verb, "--%s goes alone; give --every, --keep, --compression and --dir to set a "
                                      "schedule.", arg_off ? "off" : "now");
        if (setting && arg_every == 0)
                return log_verb_usage(verb, "A schedule needs --every, e.g. --every 15min.");
        /* The timer's dumps run later, as the job's owner: an absolute path, checked now as a
         * dump would check it, rather than at every tick. */
        if (arg_dir && !startswith(arg_dir, "s3://")) {
                _cleanup_close_ int fd = -EBADF;
                r = open_user_path("--dir", arg_dir, O_RDONLY | O_DIRECTORY, 0, &fd, &dir);
                if (r != 0)
                        return r;
                if (faccessat(fd, ".", W_OK, AT_EACCESS) < 0) {
                        log_error("--dir %s: you cannot write there; give a directory of yours.", dir);
                        return CEDANA_EXIT_ACCESS_DENIED;
                }
        }
        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        if (arg_now)
                return run_schedule_now(&bus, job);
        if (!setting && !arg_off)
                return show_schedule(&bus, job);

        r = cli_bus_new_manager_call(&bus, "SetJobSchedule", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "st", job, arg_off ? UINT64_C(0) : arg_every);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_keep != UINT32_MAX)
                r = bus_append_option_uint32(m, "keep", arg_keep);
        if (r >= 0 && arg_compression >= 0)
                r = bus_append_option_string(m, "compression", compression_to_string(arg_compression));
        if (r >= 0 && (dir || arg_dir))
                r = bus_append_option_string(m, "dir", dir ?: arg_dir);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "schedule job %s", job);
        if (arg_quiet)
                return 0;
        if (arg_off) {
                printf("Job %s is no longer checkpointed on a schedule; its checkpoints stay.\n", job);
                return 0;
        }
        /* The timer's name has the owner's uid, which the job's properties know. */
        _cleanup_json_ json_t *props = NULL;
        sd_bus_error_free(&error);
        char every[FORMAT_TIMESPAN_MAX];
        format_timespan(every, sizeof(every), arg_every);
        if (get_job_properties(&bus, job, &error, &props) >= 0) {
                JobInfo j = job_info_from_properties(props);
                printf("Job %s is checkpointed every %s while it runs, by cedana-schedule-%" PRIu32 "-%s.timer.\n",
                       job, every, j.uid, j.id);
        } else
                printf("Job %s is checkpointed every %s while it runs.\n", job, every);
        return 0;
}

/* ---- job persist, restore-persisted ---- */

int verb_job_persist(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *job = args[0];
        int r = connect_for_job(verb, job, &bus);
        if (r != 0)
                return r;
        r = cli_bus_new_manager_call(&bus, "SetJobPersist", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", job, !arg_off);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request: %m");
        r = cli_bus_call(&bus, m, false, &error, NULL);
        if (r < 0)
                return log_bus_error(&error, r, "mark job %s", job);
        if (!arg_quiet)
                printf(arg_off ? "Job %s is no longer checkpointed at shutdown.\n"
                               : "Job %s is checkpointed when the system shuts down and restored when it boots.\n",
                       job);
        return 0;
}

int verb_job_restore_persisted(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unref_pairp) sd_bus_message *replies[2] = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ JobInfo *jobs = NULL;
        size_t n = 0;
        unsigned restored = 0, failed = 0;
        int r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = list_jobs_with_schedules(&bus, &error, replies, &jobs, &n);
        if (r < 0)
                return log_bus_error(&error, r, "list the jobs checkpointed at shutdown");
        for (size_t i = 0; i < n; i++) {
                const JobInfo *j = &jobs[i];
                if (!j->restore_at_boot)
                        continue;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *res = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *spec = NULL;
                uint32_t pid = 0;
                if (asprintf(&spec, "%" PRIu32 "/%s", j->uid, j->id) < 0)
                        return log_oom();
                r = cli_bus_new_manager_call(&bus, "Restore", &m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "ssa{sv}", "job", spec, 0);
                if (r >= 0)
                        r = cli_bus_call(&bus, m, false, &e, &res);
                if (r >= 0)
                        r = sd_bus_message_read(res, "su", NULL, &pid);
                if (r < 0) {
                        (void) log_bus_error(&e, r, "restore job %s", j->id);
                        failed++;
                        continue;
                }
                restored++;
                if (!arg_quiet)
                        printf("Restored job %s (PID %" PRIu32 ").\n", j->id, pid);
        }
        if (!arg_quiet && restored + failed == 0)
                printf("No job waits to be restored.\n");
        return failed > 0 ? CEDANA_EXIT_FAILURE : 0;
}
