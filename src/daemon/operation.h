/* SPDX-License-Identifier: Apache-2.0 */
/* Dumps and restores in flight: each runs checkpoint_dump()/checkpoint_restore() in a worker,
 * relays progress to its caller, creates the restored job's scope, records the outcome in the
 * job store and only then replies to the method call. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"
#include "job-attach.h"
#include "list.h"
#include "options.h"

typedef struct Job Job;
typedef struct Manager Manager;
typedef struct Worker Worker;

typedef struct Operation Operation;
struct Operation {
        Manager *manager;
        bool restore; /* else a dump */
        sd_bus_message *call;
        Identity caller;
        Identity owner; /* CRIU runs as this identity */
        Job *job;       /* the job dumped or restored, if any */
        char *job_name; /* restore: the job the restored tree becomes */
        bool new_job;   /* restore: job_name is a new job */
        Worker *worker;

        /* dump */
        char *type;
        pid_t pid;
        int pidfd;
        int dir_fd;     /* -EBADF: the worker opens dir_path as the caller */
        char *dir_path;
        DumpOptions dump_options;
        char *name;
        char *staging_name;
        char *partial_name;

        /* restore */
        int source_fd;  /* -EBADF: the worker opens source_path as the caller */
        char *source_path;
        RestoreOptions restore_options;
        int log_fd;     /* a file of the caller's that gets CRIU's restore log */
        char *unit;
        AttachPipes pipes; /* new stdio for a checkpoint of an attached job */

        /* CRIU's log: a private directory below the log directory, kept when something fails */
        int criu_log_fd;
        char *criu_log_dir;

        /* outcome, from the worker */
        int error;
        char *error_message;
        char *result_path;
        uint64_t result_size;
        uint64_t result_time_usec;
        char *result_checksum;
        pid_t result_pid;
        bool result_attached;
        bool recorded; /* dump: the checkpoint is in the job store */
        uint64_t worker_max_rss_kib;

        LIST_FIELDS(Operation, operations);
};

Operation *operation_new(Manager *m, sd_bus_message *call, bool restore);
Operation *operation_free(Operation *op);
/* Starts the worker; on success the operation replies to its call when done and frees itself.
 * On failure *error is set and the caller frees op. */
int operation_start(Operation *op, sd_bus_error *error);
/* Whether a job name is taken by a job or by a restore in flight other than self. */
bool manager_job_name_taken(Manager *m, const Operation *self, const char *name);
/* Whether a checkpoint name is taken by a record or by a dump in flight other than self. */
bool manager_checkpoint_name_taken(Manager *m, const Operation *self, const char *name);
