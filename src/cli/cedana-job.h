/* SPDX-License-Identifier: Apache-2.0 */
/* The rows of ListJobs and ListCheckpoints, read once and shared by the listing verbs,
 * `daemon status` and completion. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "cli-bus.h"
#include "cli-verbs.h"
#include "json-util.h"

typedef struct JobInfo {
        const char *id, *type, *state, *log, *object, *signal;
        const char *unit, *checkpoint_id, *restored_from; /* from the job's properties only (inspect) */
        uint32_t pid, uid;
        int gpu;
        int32_t exit_code; /* -1: not ended, or not known */
        uint64_t checkpoint_usec, checkpoint_size;
        /* Its schedule (every 0: none) and whether it outlives shutdowns: from ListSchedules,
         * which only `job list` asks, or the job's properties. */
        uint64_t schedule_usec, schedule_next_usec, schedule_last_usec;
        const char *schedule_last_result;
        uint32_t schedule_keep;
        int persist, restore_at_boot;
} JobInfo;

typedef struct CheckpointInfo {
        const char *id, *job, *path, *compression, *status;
        uint64_t time_usec, size;
        uint32_t uid;
} CheckpointInfo;

/* ListJobs(), sorted by name. The strings point into *ret_reply, which the caller unrefs after
 * freeing *ret. */
int list_jobs(CliBus *b, sd_bus_error *error, sd_bus_message **ret_reply, JobInfo **ret, size_t *ret_n);
/* A usage error (its exit status) for a name that cannot be a job's, else 0. */
int check_job_name(const Verb *verb, const char *job);
/* What every verb on one job does first: a usage error for a bad name, then the connection. */
int connect_for_job(const Verb *verb, const char *job, CliBus *bus);
/* The properties of the job object JOB names, as JSON keys ("last_checkpoint_time"), and the row
 * they make (strings borrowed from the object). */
int get_job_properties(CliBus *bus, const char *job, sd_bus_error *error, json_t **ret);
JobInfo job_info_from_properties(const json_t *o);
/* list_jobs() with ListSchedules() merged into the rows; the strings point into the two replies,
 * which the caller unrefs after freeing *ret. */
int list_jobs_with_schedules(CliBus *b, sd_bus_error *error, sd_bus_message *ret_replies[2], JobInfo **ret,
                             size_t *ret_n);
static inline void sd_bus_message_unref_pairp(sd_bus_message *(*m)[2]) {
        sd_bus_message_unref((*m)[0]);
        sd_bus_message_unref((*m)[1]);
}
/* "every 15min, next 14:05:10, last failed; persist" for a listing, "-" for none, in a new string. */
char *schedule_summary(const JobInfo *j);
/* The schedule and persistence lines of `job inspect` and `job schedule`. */
void print_schedule(const JobInfo *j);
/* {"every_usec", "keep", "next_usec", "last_usec", "last_result"}, or null without a schedule. */
json_t *schedule_to_json(const JobInfo *j);
/* ListCheckpoints(job) ("" for all), newest first as cedanad sends them. */
int list_checkpoints(CliBus *b, const char *job, sd_bus_error *error, sd_bus_message **ret_reply,
                     CheckpointInfo **ret, size_t *ret_n);

/* One job in the JSON vocabulary every listing shares (README, "JSON output"): job, user, uid,
 * type, status, pid, gpu, exit_code, signal, checkpoint (µs), size, log, and unit and
 * checkpoint_id where known; null for what does not apply. */
json_t *job_info_to_json(const JobInfo *j);
/* The user name of uid, or the uid in digits. */
char *uid_to_user(uid_t uid);

/* A bus property's name as a JSON key: "LastCheckpointTime" -> "last_checkpoint_time". */
void property_json_key(const char *name, char *buf, size_t l);
