/* SPDX-License-Identifier: Apache-2.0 */
/* org.cedana.Checkpoint1.Manager on /org/cedana/Checkpoint1: argument checks, authorization
 * and replies; the work itself is in the operations (dump-, restore-operation.c, job-run.c,
 * checkpoint-files.c). */
#pragma once

#include "criu-stats.h"
#include "dump-operation.h"

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Job Job;
typedef struct Manager Manager;

#define MANAGER_OBJECT_PATH "/org/cedana/Checkpoint1"
#define MANAGER_INTERFACE "org.cedana.Checkpoint1.Manager"

/* Registers the manager object, the job objects and the object manager on bus. */
int manager_bus_add_objects(Manager *m, sd_bus *bus);

/* Progress of a long call, sent to that call's sender only. */
/* Unicast to call's sender, like Progress: what a dump or restore measured, before its reply. */
void manager_send_statistics(Manager *m, sd_bus_message *call, const char *operation, const StatsPair *pairs,
                             size_t n);
void manager_send_progress(Manager *m, sd_bus_message *call, const char *operation, const char *phase,
                           uint64_t done, uint64_t total);
void manager_send_checkpoint_new(Manager *m, const char *job, const char *id, const char *path);

/* Shared by the Manager methods and the Job object's methods of the same names, for a job found
 * the way its caller may see it: the options a{sv} are read from the call's current position. */
int bus_dump_job(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);
/* The dump cedanad takes of j for its owner, with its schedule's compression and directory: the
 * scheduled one (left running; call: the request, already authorized) or the one at shutdown
 * (the job stops; call NULL). 1 started, < 0 refused with error set. */
int bus_dump_job_for_owner(sd_bus_message *call, Manager *m, Job *j, DumpOrigin origin, sd_bus_error *error);
/* The job's schedule and persistence: SetSchedule's (t interval_usec, a{sv} options) and
 * SetPersist's (b) arguments read from the call's current position; RunSchedule. */
int bus_set_job_schedule(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);
int bus_run_job_schedule(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);
int bus_set_job_persist(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);
int bus_restore_job(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);
int bus_kill_job(sd_bus_message *call, Manager *m, Job *j, int sig, sd_bus_error *error);
int bus_delete_job(sd_bus_message *call, Manager *m, Job *j, int with_checkpoints, sd_bus_error *error);
