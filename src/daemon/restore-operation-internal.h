/* SPDX-License-Identifier: Apache-2.0 */
/* The state a restore shares between the daemon's half and the worker's copy. */
#pragma once

#include "criu-stats.h"
#include "message.h"

#include "job-attach.h"
#include "restore-operation.h"

typedef struct RestoreOperation {
        RestoreSpec spec;
        char *job_name;       /* the job the tree becomes */
        int64_t intent;       /* rowid of the intent in the store, 0 when none */
        bool spawned;
        char *unit;
        int staging_fd;       /* below the state directory, the owner's: archives go there */
        char *staging_name;
        int log_fd;           /* CRIU's log directory */
        char *log_path;
        /* With attach, both: the checkpoint says which the job needs (the worker tells with the
         * tree); the other is dropped then, and pipes holds what the job got. */
        AttachPipes pipes;
        AttachPipes pty;
        /* The job's log, handed to CRIU for the one the checkpoint names: the job's own (restore
         * job), or a new one (a new job), removed unless the job takes it. */
        int job_log_fd;
        char *job_log_path;
        bool job_log_new;
        /* the tree, once it exists: held by pidfds, so a signal never hits a recycled pid */
        pid_t *pids;
        uint64_t *start_times;
        int *pidfds;
        bool *resume;
        size_t n_pids;
        bool recorded;
        Outcome outcome;         /* why it failed, as the worker said */
        bool cancelled;          /* the caller asked to stop: the tree is killed, not recorded */
        bool have_stats;
        CheckpointStats stats;   /* as the worker measured them */
} RestoreOperation;
