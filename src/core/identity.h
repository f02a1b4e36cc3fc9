/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials cedana acts with on behalf of a caller: the caller's uid, gid and groups, applied
 * as file system identity (files are created as the caller) or for good (a job's process). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct Identity {
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups */
        size_t n_groups;
} Identity;

/* uid's primary gid and groups from the user database; a uid without an entry gets gid = uid. */
int identity_from_uid(uid_t uid, Identity *ret);
void identity_done(Identity *id);
int identity_copy(const Identity *from, Identity *to);
bool identity_has_gid(const Identity *id, gid_t gid);
/* File system credentials of the calling thread (fsuid, fsgid) and the process's groups. */
int identity_set_fs(const Identity *id);
int identity_reset_fs(void);
/* For good: groups, gid and uid, no capabilities left. For a child right before exec. */
int identity_drop(const Identity *id);
