/* SPDX-License-Identifier: Apache-2.0 */
/* Starting and adopting jobs (Run, Manage), signalling them, and forgetting jobs and
 * checkpoints: the work behind the job methods. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"

typedef struct Job Job;
typedef struct Manager Manager;
typedef struct CheckpointRecord CheckpointRecord;

typedef struct RunArgs {
        char *name;
        char *cwd;
        char **env;
        char *log;
        int log_fd;
        bool attach;
} RunArgs;

int run_args_validate(Manager *m, RunArgs *a, char **argv, sd_bus_error *error);
/* Forks argv as caller into a new scope; replies (job, pid) to call once it executes.
 * Returns 1 (reply pending) or < 0 with *error set. */
int job_run_start(Manager *m, sd_bus_message *call, const Identity *caller, char **argv, RunArgs *a,
                  sd_bus_error *error);
/* Adopts the running process pid (and its descendants) into a new scope as a job of its owner. */
int job_manage(Manager *m, sd_bus_message *call, pid_t pid, const char *name, sd_bus_error *error);
int job_kill(Job *j, int sig, sd_bus_error *error);
/* Forgets a job that does not run; with_checkpoints deletes its checkpoints' files too. */
int job_delete(Job *j, bool with_checkpoints, sd_bus_error *error);
/* Deletes a checkpoint's files (as its owner, never following symlinks) and its record. */
int checkpoint_delete(Manager *m, const CheckpointRecord *c, sd_bus_error *error);
/* Removes what interrupted dumps and restores left behind (recorded staging names). */
int manager_cleanup_staging(Manager *m);
