/* SPDX-License-Identifier: Apache-2.0 */
/* Job objects on the bus: properties, the per-job methods (delegating to the Manager's
 * implementations), change signals, and visibility (non-root callers see their own jobs). */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "job-dbus.h"
#include "parse-util.h"
#include "persist.h"
#include "schedule.h"
#include "job.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "polkit.h"
#include "strv.h"

/* /org/cedana/Checkpoint1/job/<uid>/<name>: names are per owner. */
/* JOB_OBJECT_PREFIX/<uid>/<name>: the uid in plain digits (an object path element may start
 * with one), the name escaped as a bus label. */
char *job_bus_path(const Job *j) {
        char prefix[sizeof(JOB_OBJECT_PREFIX) + 16], *p = NULL;
        snprintf(prefix, sizeof(prefix), JOB_OBJECT_PREFIX "/%u", (unsigned) j->uid);
        if (sd_bus_path_encode(prefix, j->id, &p) < 0)
                return NULL;
        return p;
}

/* Objects are looked up while a message is dispatched: its sender decides what is visible. */
static bool current_caller_sees(sd_bus *bus, const Job *j) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        uid_t uid;
        if (!m)
                return true; /* our own emission of signals */
        if (bus_caller_uid(m, &uid) < 0)
                return false;
        return uid == 0 || uid == j->uid;
}

int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *uid = NULL, *name = NULL;
        unsigned u;
        if (sd_bus_path_decode_many(path, JOB_OBJECT_PREFIX "/%/%", &uid, &name) <= 0 || isempty(name) ||
            safe_atou(uid, &u) < 0)
                return 0;
        Job *j = manager_get_job(m, (uid_t) u, name);
        if (!j || !current_caller_sees(bus, j))
                return 0;
        _cleanup_free_ char *canonical = job_bus_path(j);
        if (!canonical || !streq(canonical, path))
                return 0; /* one path per job */
        *found = j;
        return 1;
}

int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = NULL;
        LIST_FOREACH(jobs, j, m->jobs) {
                if (!current_caller_sees(bus, j))
                        continue;
                char *p = job_bus_path(j);
                if (!p || strv_push(&l, p) < 0) {
                        free(p);
                        return -ENOMEM;
                }
        }
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "s", job_state_to_string(j->state));
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", strempty(*(char **) userdata));
}

static int property_get_pid(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        /* Only a running job has a process. */
        return sd_bus_message_append(reply, "u", j->state == JOB_RUNNING ? (uint32_t) j->pid : 0);
}

static int property_get_gpu(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        /* Pure: what the last look found (ListJobs and dumps look again). */
        return sd_bus_message_append(reply, "b", j->gpu);
}

static int property_get_exit_code(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "i", (int32_t) job_exit_code(userdata));
}

static int property_get_exit_signal(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", strempty(job_exit_signal(userdata)));
}

static int property_get_flag(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Job *j = userdata;
        return sd_bus_message_append(reply, "b", streq(property, "Persist") ? persist_wanted(j) : j->restore_at_boot);
}

static int property_get_schedule_next(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "t", j->state == JOB_RUNNING ? schedule_next_usec(j) : UINT64_C(0));
}

static int method_job_set_schedule(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_set_job_schedule(call, j->manager, j, error);
}

static int method_job_run_schedule(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_run_job_schedule(call, j->manager, j, error);
}

static int method_job_set_persist(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_set_job_persist(call, j->manager, j, error);
}

static int method_job_dump(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_dump_job(call, j->manager, j, error);
}

static int method_job_restore(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_restore_job(call, j->manager, j, error);
}

static int method_job_kill(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int sig;
        int r = sd_bus_message_read(call, "i", &sig);
        if (r < 0)
                return r;
        return bus_kill_job(call, j->manager, j, sig, error);
}

static int method_job_delete(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int with_checkpoints;
        int r = sd_bus_message_read(call, "b", &with_checkpoints);
        if (r < 0)
                return r;
        return bus_delete_job(call, j->manager, j, with_checkpoints, error);
}

const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get_string, offsetof(Job, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", property_get_string, offsetof(Job, type), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PID", "u", property_get_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitCode", "i", property_get_exit_code, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitSignal", "s", property_get_exit_signal, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GPU", "b", property_get_gpu, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", property_get_string, offsetof(Job, unit), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Log", "s", property_get_string, offsetof(Job, log_path), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UID", "u", NULL, offsetof(Job, uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Container", "s", property_get_string, offsetof(Job, container_id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RestoredFrom", "s", property_get_string, offsetof(Job, restored_from),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastCheckpoint", "s", property_get_string, offsetof(Job, last_checkpoint_id),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastCheckpointTime", "t", NULL, offsetof(Job, last_checkpoint_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastCheckpointSize", "t", NULL, offsetof(Job, last_checkpoint_size),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ScheduleInterval", "t", NULL, offsetof(Job, schedule_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ScheduleKeep", "u", NULL, offsetof(Job, schedule_keep), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ScheduleCompression", "s", property_get_string, offsetof(Job, schedule_compression),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ScheduleDirectory", "s", property_get_string, offsetof(Job, schedule_dir),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Asked of systemd's timer each time. */
        SD_BUS_PROPERTY("ScheduleNext", "t", property_get_schedule_next, 0, 0),
        SD_BUS_PROPERTY("ScheduleLastTime", "t", NULL, offsetof(Job, schedule_last_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ScheduleLastResult", "s", property_get_string, offsetof(Job, schedule_last_result),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Persist", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RestoreAtBoot", "b", property_get_flag, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetSchedule", SD_BUS_ARGS("t", interval_usec, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_job_set_schedule, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RunSchedule", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", checkpoint_id, "s", path, "t", size),
                                method_job_run_schedule, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPersist", SD_BUS_ARGS("b", persist), SD_BUS_NO_RESULT, method_job_set_persist,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Dump", SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("s", checkpoint_id, "s", path, "t", size), method_job_dump,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", job, "u", pid),
                                method_job_restore, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("i", signal), SD_BUS_NO_RESULT, method_job_kill,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("b", with_checkpoints), SD_BUS_NO_RESULT, method_job_delete,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

typedef struct ChangedArgs {
        const char *path;
        char **properties;
} ChangedArgs;

static int emit_changed(sd_bus *bus, void *userdata) {
        ChangedArgs *a = userdata;
        return sd_bus_emit_properties_changed_strv(bus, a->path, JOB_INTERFACE, a->properties);
}

void job_send_changed(Job *j, const char *property, ...) {
        _cleanup_free_ char *path = job_bus_path(j);
        char *props[16];
        size_t n = 0;
        va_list ap;
        va_start(ap, property);
        for (const char *p = property; p && n < ELEMENTSOF(props) - 1; p = va_arg(ap, const char *))
                props[n++] = (char *) p;
        va_end(ap);
        props[n] = NULL;
        if (!path)
                return;
        ChangedArgs a = { path, props };
        (void) manager_foreach_bus(j->manager, emit_changed, &a);
}

typedef struct JobSignalArgs {
        const char *id;
        const char *path;
        bool removed;
} JobSignalArgs;

static int emit_job_signal(sd_bus *bus, void *userdata) {
        JobSignalArgs *a = userdata;
        int r = sd_bus_emit_signal(bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, a->removed ? "JobRemoved" : "JobNew",
                                   "so", a->id, a->path);
        if (r < 0)
                return r;
        return a->removed ? sd_bus_emit_object_removed(bus, a->path) : sd_bus_emit_object_added(bus, a->path);
}

static void job_send_signal(Job *j, bool removed) {
        _cleanup_free_ char *path = job_bus_path(j);
        if (!path)
                return;
        JobSignalArgs a = { j->id, path, removed };
        (void) manager_foreach_bus(j->manager, emit_job_signal, &a);
}

void job_announce(Job *j) {
        job_send_signal(j, false);
}

void job_send_removed(Job *j) {
        job_send_signal(j, true);
}
