/* SPDX-License-Identifier: Apache-2.0 */
/* The state a dump shares between the daemon's half and the worker's (which gets a copy when it
 * is forked). */
#pragma once

#include "criu-stats.h"
#include "message.h"

#include "dump-operation.h"
#include "jobstore.h"

typedef struct DumpOperation {
        DumpSpec spec;
        CheckpointRecord record; /* as it stands in the store */
        bool intent;             /* recorded: forgotten again if the worker never starts */
        bool spawned;
        bool published;          /* recorded complete */
        uint64_t image_size;
        int log_fd;              /* CRIU's log directory for this dump */
        char *log_path;
        Outcome outcome;         /* why it failed, as the worker said */
        bool cancelled;          /* the caller asked to stop: nothing more is recorded */
        bool have_stats;
        CheckpointStats stats;   /* as the worker measured them */
} DumpOperation;
