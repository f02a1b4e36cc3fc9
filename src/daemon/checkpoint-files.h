/* SPDX-License-Identifier: Apache-2.0 */
/* The files behind checkpoint records, dealt with in a worker (a checkpoint of 200,000 files
 * takes long to delete): deleting them for a caller, and bringing an interrupted dump's files
 * and record back in line. The records follow what the worker found. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"
#include "jobstore.h"

typedef struct Job Job;
typedef struct Manager Manager;
typedef struct Operation Operation;

typedef enum FilesMode {
        FILES_DELETE,    /* the caller deletes complete checkpoints: only what it could delete itself */
        FILES_RECONCILE, /* the daemon finishes or removes interrupted dumps */
} FilesMode;

/* Called when every record was dealt with, before the caller is answered (with r, a CedanaError
 * or -errno, and message; removed: the ids of the records that are gone now): e.g. to forget the
 * job whose checkpoints these were. May reply itself (then returns 1). */
typedef int (*FilesDone)(Operation *op, int r, const char *message, char **removed, void *userdata);

/* Takes records (n of them, freed by it). call NULL: the daemon's own work. as: the identity
 * files are deleted with (FILES_DELETE). On success the call is answered when done. */
int checkpoint_files_start(Manager *m, FilesMode mode, sd_bus_message *call, const Identity *as,
                           CheckpointRecord *records, size_t n, FilesDone done, void *done_userdata,
                           sd_bus_error *error);

typedef enum RecordStatus {
        RECORD_STATUS_OK,      /* where it was written */
        RECORD_STATUS_MISSING, /* deleted or moved away: the record only keeps its name taken */
        RECORD_STATUS_CHANGED, /* something else is at its path now */
        RECORD_STATUS_UNKNOWN, /* cannot be looked at */
        RECORD_STATUS_REMOTE,  /* an object on the object store, not looked at (restore checks it) */
        _RECORD_STATUS_MAX,
} RecordStatus;

/* What became of a complete record's file, from cached attributes (a listing never waits for
 * a remote file system). */
RecordStatus checkpoint_record_status(const CheckpointRecord *c);
const char *record_status_to_string(RecordStatus s);

/* Each in-flight record (intent, synced) in the store, finished or removed: for a start-up, and
 * after a dump's worker ended abnormally. */
int checkpoint_files_reconcile_all(Manager *m);
