/* SPDX-License-Identifier: Apache-2.0 */
/* The name registry: jobs' and checkpoints' names are per owner. A caller names its own as
 * "NAME"; another user's as "USER/NAME" (USER a user name or a uid), which only root and
 * administrators get to act on. Generated names never fail a request: they are picked free. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Job Job;
typedef struct Manager Manager;

/* What a caller typed: "NAME" or "USER/NAME". *ret_uid is whose it is: the named user's, else
 * the caller's; for root an unqualified name that root itself does not use resolves to the one
 * user who has a job (is_job) or checkpoint by that name. InvalidArgs for bad syntax, NoSuchJob
 * (NoSuchCheckpoint) for an unknown user, NameTaken... never: ambiguity is InvalidArgs asking for
 * USER/NAME. */
int names_parse(Manager *m, uid_t caller, const char *spec, bool is_job, uid_t *ret_uid, char **ret_name,
                sd_bus_error *error);

/* Whether uid has a job named name, or an operation reserves that name for it. */
bool names_job_taken(Manager *m, uid_t uid, const char *name);
/* requested (taken: NameTaken) or, when NULL, a generated name free for uid. */
int names_pick_job(Manager *m, uid_t uid, const char *requested, char **ret, sd_bus_error *error);

/* Whether uid has a checkpoint record named name (a record whose file is gone frees its name:
 * it is dropped here), or dir_fd (if >= 0) has an entry name + suffix. */
bool names_checkpoint_taken(Manager *m, uid_t uid, const char *name, int dir_fd, const char *suffix);
/* requested (taken: NameTaken) or, when NULL, base, then base-2, base-3, ... whichever is free. */
int names_pick_checkpoint(Manager *m, uid_t uid, const char *requested, const char *base, int dir_fd,
                          const char *suffix, char **ret, sd_bus_error *error);
