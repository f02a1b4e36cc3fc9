/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduled checkpoints: the jobs' transient timers, and what a scheduled dump leaves behind. */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "build-config.h"
#include "bus-error.h"
#include "checkpoint-files.h"
#include "format-util.h"
#include "hygiene.h"
#include "job-dbus.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "progress.h"
#include "schedule.h"
#include "scope.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

/* How long a stopped timer may take to be collected before its name is free again. */
#define RESTART_TRIES 40
#define RESTART_WAIT_MSEC 25

int schedule_unit_name(const Job *j, const char *suffix, char **ret) {
        return asprintf(ret, "cedana-schedule-%u-%s.%s", (unsigned) j->uid, j->id, suffix) < 0 ? -ENOMEM : 0;
}

static int timer_message(Job *j, const char *timer, const char *service, sd_bus_message **ret) {
        Manager *m = j->manager;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        _cleanup_free_ char *description = NULL, *target = NULL;
        char every[FORMAT_TIMESPAN_MAX];
        format_timespan(every, sizeof(every), j->schedule_usec);
        if (asprintf(&description, "Checkpoint of cedana job %s every %s", job_display_name(j, 0), every) < 0 ||
            asprintf(&target, "%u/%s", (unsigned) j->uid, j->id) < 0)
                return -ENOMEM;
        int r = sd_bus_message_new_method_call(m->bus, &msg, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                               "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ss", timer, "fail");
        /* The first one an interval after it was set (or the job came back), then an interval
         * after each one started. Accurate to the second, not systemd's default minute. */
        if (r >= 0)
                r = sd_bus_message_append(msg, "a(sv)", 4, "Description", "s", description, "TimersMonotonic", "a(st)",
                                          2, "OnActiveSec", j->schedule_usec, "OnUnitActiveSec", j->schedule_usec,
                                          "AccuracyUSec", "t", (uint64_t) 1000000, "CollectMode", "s",
                                          "inactive-or-failed");
        /* The service the timer starts: the cedana command, as root, asking cedanad for the
         * job's scheduled checkpoint. Failed runs are collected like successful ones, so that
         * a failure never blocks the next tick (cedanad records why it failed). */
        if (r >= 0)
                r = sd_bus_message_append(msg, "a(sa(sv))", 1, service, 4, "Description", "s", description, "Type", "s",
                                          "oneshot", "CollectMode", "s", "inactive-or-failed", "ExecStart", "a(sasb)", 1,
                                          CEDANA_PATH, 7, "cedana", "job", "schedule", target, "--now",
                                          "--no-ask-password", "--quiet", false);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(msg);
        return 0;
}

static int timer_start(Job *j, bool replacing, sd_bus_error *error) {
        _cleanup_free_ char *timer = NULL, *service = NULL;
        int r = schedule_unit_name(j, "timer", &timer);
        if (r >= 0)
                r = schedule_unit_name(j, "service", &service);
        if (r < 0)
                return r;
        /* A replaced timer's name is free once systemd collected it: soon, but not at once. */
        for (unsigned i = 0;; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                r = timer_message(j, timer, service, &msg);
                if (r < 0)
                        return r;
                r = sd_bus_call(j->manager->bus, msg, 0, &e, NULL);
                if (r >= 0)
                        return 0;
                if (!sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists"))
                        return bus_error_setf(error, r, "systemd refused the timer of job %s: %s", j->id,
                                              e.message ?: e.name);
                /* Started by an earlier cedanad, which ran the same schedule. */
                if (!replacing && scope_is_active(j->manager, timer) > 0)
                        return 0;
                if (i >= RESTART_TRIES)
                        return bus_error_setf(error, CEDANA_E_JOB_BUSY,
                                              "The timer of job %s could not be replaced while its service runs; "
                                              "try again once the scheduled checkpoint is done.", j->id);
                struct timespec ts = { 0, RESTART_WAIT_MSEC * 1000000L };
                (void) nanosleep(&ts, NULL);
        }
}

static int timer_stop(Job *j) {
        _cleanup_free_ char *timer = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = schedule_unit_name(j, "timer", &timer);
        if (r < 0)
                return r;
        r = sd_bus_call_method(j->manager->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "StopUnit", &e, NULL,
                               "ss", timer, "replace");
        if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
                return 0;
        return r;
}

void schedule_sync(Job *j) {
        /* Without a schedule there is no timer to look for (schedule_set() stopped it): no call
         * to systemd for every state change of every job. */
        if (!j->manager->bus || j->schedule_usec == 0)
                return;
        _cleanup_free_ char *timer = NULL;
        if (schedule_unit_name(j, "timer", &timer) < 0)
                return;
        bool want = j->state == JOB_RUNNING;
        int active = scope_is_active(j->manager, timer);
        if (active < 0 || want == (active > 0))
                return;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = want ? timer_start(j, false, &e) : timer_stop(j);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id, .unit = timer), "Failed to %s %s: %s",
                              want ? "start" : "stop", timer, e.message ?: strerror(-r));
        else
                log_ctx(LOG_DEBUG, LOG_CTX(.job = j->id, .unit = timer), "%s %s.", want ? "Started" : "Stopped", timer);
}

/* A job's schedule fields, to put back when a change cannot be made whole. */
typedef struct ScheduleFields {
        uint64_t usec;
        unsigned keep;
        char *compression, *dir;
} ScheduleFields;

static void schedule_fields_swap(Job *j, ScheduleFields *f) {
        ScheduleFields t = { j->schedule_usec, j->schedule_keep, j->schedule_compression, j->schedule_dir };
        j->schedule_usec = f->usec;
        j->schedule_keep = f->keep;
        j->schedule_compression = f->compression;
        j->schedule_dir = f->dir;
        *f = t;
}

int schedule_set(Job *j, uint64_t usec, unsigned keep, const char *compression, const char *dir,
                 sd_bus_error *error) {
        if (usec > 0 && !j->manager->bus)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED, "A schedule is a systemd timer, and cedanad has "
                                      "no system bus to ask systemd for one; job %s keeps no schedule.", j->id);
        ScheduleFields f = { .usec = usec, .keep = usec > 0 ? keep : 0 };
        if (usec > 0 && ((compression && !(f.compression = strdup(compression))) || (dir && !(f.dir = strdup(dir))))) {
                free(f.compression);
                return -ENOMEM;
        }
        bool replacing = j->schedule_usec > 0 && j->schedule_usec != usec;
        schedule_fields_swap(j, &f); /* f: the schedule it had */
        int r = 0;
        /* The timer first: a schedule is recorded only once systemd runs it (or the job does not
         * run, and it starts with it). */
        if (j->manager->bus && j->state == JOB_RUNNING) {
                if (usec == 0 || replacing) {
                        r = timer_stop(j);
                        if (r < 0)
                                r = bus_error_setf(error, r, "Failed to stop the timer of job %s: %s", j->id,
                                                   strerror(-r));
                }
                if (r >= 0 && usec > 0)
                        r = timer_start(j, replacing, error);
        }
        if (r >= 0 && (r = job_save(j)) < 0)
                r = bus_error_setf(error, r, "Failed to save the schedule of job %s: %s", j->id, strerror(-r));
        if (r < 0) {
                schedule_fields_swap(j, &f);
                /* The timer as the schedule it keeps wants it: none, or the old one running. */
                if (j->schedule_usec == 0 && j->manager->bus)
                        (void) timer_stop(j);
                else
                        schedule_sync(j);
        } else
                job_send_changed(j, "ScheduleInterval", "ScheduleKeep", "ScheduleCompression", "ScheduleDirectory",
                                 NULL);
        free(f.compression);
        free(f.dir);
        return r;
}

uint64_t schedule_next_usec(Job *j) {
        Manager *m = j->manager;
        _cleanup_free_ char *timer = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        uint64_t next = 0;
        if (!m->bus || j->schedule_usec == 0 || schedule_unit_name(j, "timer", &timer) < 0 ||
            sd_bus_call_method(m->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", NULL, &reply, "s",
                               timer) < 0 ||
            sd_bus_message_read(reply, "o", &path) < 0 ||
            sd_bus_get_property_trivial(m->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Timer",
                                        "NextElapseUSecMonotonic", NULL, 't', &next) < 0 ||
            next == 0 || next == UINT64_MAX)
                return 0;
        /* systemd counts on CLOCK_MONOTONIC; listings show the wall clock. */
        uint64_t now_mono = now_monotonic_usec(), now_real = now_realtime_usec();
        return next > now_mono ? now_real + (next - now_mono) : now_real;
}

static void prune(Job *j) {
        Manager *m = j->manager;
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = { .job = j->id, .job_uid = j->uid, .scheduled = true };
        int r = checkpoints_prune_select(m, &f, j->schedule_keep, &list, &n);
        if (r < 0 || n == 0) {
                free(list);
                if (r < 0)
                        log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id),
                                      "Failed to find job %s's old scheduled checkpoints: %m", j->id);
                return;
        }
        _cleanup_(identity_done) Identity owner = {};
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        r = identity_from_uid(j->uid, &owner);
        if (r >= 0)
                r = checkpoint_files_start(m, FILES_DELETE, NULL, &owner, list, n, NULL, NULL, &e);
        else
                checkpoint_records_free(list, n);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id),
                              "Failed to delete job %s's scheduled checkpoints beyond the newest %u: %s", j->id,
                              j->schedule_keep, e.message ?: strerror(-r));
}

void schedule_dump_done(Job *j, int r, const char *message) {
        char *result = strdup(r == 0 ? "success" : message ?: "failed");
        if (!result)
                return (void) log_oom();
        free(j->schedule_last_result);
        j->schedule_last_result = result;
        j->schedule_last_usec = now_realtime_usec();
        (void) job_save(j);
        job_send_changed(j, "ScheduleLastTime", "ScheduleLastResult", NULL);
        if (r != 0) {
                char every[FORMAT_TIMESPAN_MAX];
                log_ctx(LOG_WARNING, LOG_CTX(.job = j->id), "Scheduled checkpoint of job %s failed: %s The job runs on; "
                        "the next one is due in %s.", j->id, result,
                        format_timespan(every, sizeof(every), j->schedule_usec));
                return;
        }
        if (j->schedule_keep > 0)
                prune(j);
}
