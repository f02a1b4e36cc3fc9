/* SPDX-License-Identifier: Apache-2.0 */
/* Restores as the daemon sees them: the intent recorded, the verified and stopped tree put into
 * its scope, the job recorded, and only then the tree let run and the caller answered. On any
 * failure nothing of the tree is left running. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"
#include "options.h"

typedef struct Job Job;
typedef struct Manager Manager;

/* A restore validated and authorized by the bus layer. */
typedef struct RestoreSpec {
        Identity caller;  /* asks */
        Identity owner;   /* whose the restored job is: CRIU runs as this identity, and the tree may
                           * hold no more than it */
        Job *job;         /* restoring this job, or NULL: the tree becomes a new job */
        char *name;       /* for a new job: the name asked for, or NULL for a generated one */
        int source_fd;    /* opened by the caller; -EBADF: the worker opens source_path as owner */
        char *source_path;
        /* When restoring a job-store record: what the bytes must be (digest of cedana.json) and
         * the inode it was published as. NULL/0 for a checkpoint nobody vouches for. */
        char *expected_digest;
        uint64_t expected_dev, expected_ino;
        /* A record of an earlier cedana, which bound nothing: the file must still be owned by
         * the job's owner, who alone could have written it. */
        bool require_owned_file;
        RestoreOptions options;
        bool attach;      /* give the job new stdio pipes held by cedanad */
        int log_fd;       /* a regular file of the caller's that gets CRIU's log, or -EBADF */
        /* A container's checkpoint, restored by its runtime (as root, running once restored, no
         * job): the id asked for (NULL: as recorded); for runc the bundle asked for and runc's
         * state directory, for containerd (containerd set) the namespace (NULL: as recorded). */
        bool container;
        bool containerd;
        char *container_id;
        char *container_bundle;
        char *runc_root;
        char *containerd_namespace;
} RestoreSpec;

#define RESTORE_SPEC_NULL { .source_fd = -EBADF, .log_fd = -EBADF }

void restore_spec_done(RestoreSpec *s);

/* Takes over spec. Returns 1 (the call is answered when the restore ends) or < 0 with *error. */
int restore_operation_start(Manager *m, sd_bus_message *call, RestoreSpec *spec, sd_bus_error *error);

/* The worker's half (restore-worker.c). */
int restore_worker(int sock, void *userdata);

/* Restores a previous cedanad left unfinished: their trees killed, their scopes stopped. */
void restore_intents_reconcile(Manager *m);
