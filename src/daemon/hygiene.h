/* SPDX-License-Identifier: Apache-2.0 */
/* Store hygiene: jobs that ended without checkpoints are collected after [Jobs] CollectAfterSec=
 * (with their logs), restores' staging and old CRIU logs are removed (in a worker), and what the
 * caller asks to prune goes at once. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "jobstore.h"

typedef struct Manager Manager;

/* Collects what is due; startup: also what a previous cedanad left (staging of restores). */
void manager_hygiene(Manager *m, bool startup);
/* Every hour while cedanad runs (it never keeps cedanad from exiting when idle). */
int manager_hygiene_start_timer(Manager *m);
/* The ended (exited, failed) jobs of uid (root: everybody's) without checkpoints, forgotten now;
 * *ret_removed: their names as the caller sees them. */
int jobs_prune(Manager *m, uid_t uid, char ***ret_removed);
/* For PruneCheckpoints, of the complete records f selects: those whose file is gone, and of
 * each job's records whose files are where they were written all but the newest keep
 * (UINT32_MAX: all). Checkpoints of jobs with a dump or restore in flight, of no job (kept:
 * only missing ones go), and files that changed or cannot be looked at are left alone. */
int checkpoints_prune_select(Manager *m, const CheckpointFilter *f, uint32_t keep, CheckpointRecord **ret,
                             size_t *ret_n);
