/* SPDX-License-Identifier: Apache-2.0 */
/* The rows of ListJobs and ListCheckpoints, read once and shared by the listing verbs,
 * `daemon status` and completion. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "cli-bus.h"

typedef struct JobInfo {
        const char *id, *type, *state, *log, *object;
        uint32_t pid, uid;
        int gpu;
        uint64_t checkpoint_usec, checkpoint_size;
} JobInfo;

typedef struct CheckpointInfo {
        const char *id, *job, *path, *compression, *status;
        uint64_t time_usec, size;
        uint32_t uid;
} CheckpointInfo;

/* ListJobs(), sorted by name. The strings point into *ret_reply, which the caller unrefs after
 * freeing *ret. */
int list_jobs(CliBus *b, sd_bus_error *error, sd_bus_message **ret_reply, JobInfo **ret, size_t *ret_n);
/* ListCheckpoints(job) ("" for all), newest first as cedanad sends them. */
int list_checkpoints(CliBus *b, const char *job, sd_bus_error *error, sd_bus_message **ret_reply,
                     CheckpointInfo **ret, size_t *ret_n);

/* A bus property's name as a JSON key: "LastCheckpointTime" -> "last_checkpoint_time". */
void property_json_key(const char *name, char *buf, size_t l);
