/* SPDX-License-Identifier: Apache-2.0 */
/* Starting and adopting jobs (Run, Manage), signalling them, and forgetting them: the work behind
 * the job methods. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"
#include "runc.h"

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
        bool tty; /* with attach: a pty instead of pipes */
        uint32_t tty_rows, tty_cols;
} RunArgs;

int run_args_validate(Manager *m, RunArgs *a, char **argv, sd_bus_error *error);
/* Forks argv as caller into a new scope; replies (job, pid) to call once it executes.
 * Returns 1 (reply pending) or < 0 with *error set. */
int job_run_start(Manager *m, sd_bus_message *call, const Identity *caller, char **argv, RunArgs *a,
                  sd_bus_error *error);
/* A container a job is: its runtime ("runc" or "containerd"), id, and where the runtime keeps it. */
typedef struct JobContainer {
        const char *type;
        const char *id;
        const char *bundle;    /* runc's */
        const char *runc_root; /* runc's state directory; NULL: its default */
        const char *namespace; /* containerd's */
} JobContainer;

/* Adopts the running process pid (and its descendants) into a new scope as a job of its owner,
 * for caller; with container, the container pid is the init of, as a job of its runtime's type of
 * root's, outside any scope (the runtime keeps its cgroups). Returns 1 (reply pending) or < 0
 * with *error set. */
int job_manage(Manager *m, sd_bus_message *call, uid_t caller, pid_t pid, const char *name,
               const JobContainer *container, sd_bus_error *error);
int job_kill(Job *j, int sig, sd_bus_error *error);
/* Forgets a job that does not run, and its log (its checkpoints stay). */
int job_delete(Job *j, sd_bus_error *error);
