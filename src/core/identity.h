/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials cedana acts with on behalf of a caller: the caller's uid, gid and groups, applied
 * as file system identity (files are created as the caller) or for good (a job's process). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct Identity {
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary groups */
        size_t n_groups;
} Identity;

/* What a task holds (or a checkpoint asks a task to hold): the kernel's credentials. */
typedef struct Creds {
        uid_t uid[4]; /* real, effective, saved, file system */
        gid_t gid[4];
        const gid_t *groups;
        size_t n_groups;
        uint64_t caps[5]; /* inheritable, permitted, effective, bounding, ambient */
} Creds;

/* The one rule for what a task restored for id may hold, applied to checkpoints' images before
 * CRIU runs and to the restored tasks before they run: every uid id's uid, every gid and
 * supplementary group id's gid or one of its groups, no inheritable, permitted, effective or
 * ambient capability and no bounding capability beyond bounding; anything, for root. false
 * with what it holds beyond that in what ("effective capabilities 0000000000080000"). */
bool identity_allows(const Identity *id, const Creds *c, uint64_t bounding, char *what, size_t l);

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
