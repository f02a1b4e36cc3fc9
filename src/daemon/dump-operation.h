/* SPDX-License-Identifier: Apache-2.0 */
/* Dumps as the daemon sees them: the checkpoint's name picked and its intent recorded before
 * anything is written, then synced, complete (the job halted), as the worker reports, and only
 * then the caller answered. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "identity.h"
#include "options.h"
#include "containerd.h"
#include "runc.h"

typedef struct Job Job;
typedef struct Manager Manager;
typedef struct Operation Operation;

/* Who wants the dump: a caller, or cedanad for the job's owner (its schedule; the system
 * shutting down with the job marked to persist). */
typedef enum DumpOrigin {
        DUMP_ORIGIN_CALLER,
        DUMP_ORIGIN_SCHEDULE,
        DUMP_ORIGIN_SHUTDOWN,
} DumpOrigin;

/* A dump validated and authorized by the bus layer. */
typedef struct DumpSpec {
        Identity caller; /* asks, and owns the checkpoint */
        Identity owner;  /* owns the process: CRIU runs as this identity */
        Job *job;        /* the job dumped, or NULL for a plain process */
        pid_t pid;
        int pidfd;
        int dir_fd;      /* opened by the caller; -EBADF: the worker opens dir_path as the caller */
        char *dir_path;
        bool dir_per_user; /* dir_path is the caller's default directory, made on demand */
        char *name;      /* requested, or NULL for a generated one */
        int log_fd;      /* the caller's file for a copy of CRIU's log, or -EBADF */
        DumpOptions options;
        /* A container's dump: runc's state directory (NULL: its default) and what runc said of
         * the container when it was asked for; container.id NULL for processes and jobs. */
        char *runc_root;
        RuncState container;
        /* A containerd container's: its namespace, and what containerd said of it (container
         * then has its id, status and task's init too). containerd.id NULL otherwise. */
        char *containerd_namespace;
        ContainerdContainer containerd;
        DumpOrigin origin;
} DumpSpec;

#define DUMP_SPEC_NULL { .pidfd = -EBADF, .dir_fd = -EBADF, .log_fd = -EBADF }

void dump_spec_done(DumpSpec *s);

/* Takes over spec. Returns 1 (the call is answered when the dump ends) or < 0 with *error. */
int dump_operation_start(Manager *m, sd_bus_message *call, DumpSpec *spec, sd_bus_error *error);
/* Whether op (a dump) writes uid's checkpoint id. */
bool dump_operation_owns(Operation *op, uid_t uid, const char *id);

/* The worker's half (dump-worker.c): opens the directory as the caller and runs the dump,
 * reporting each step of the commit to the daemon. */
int dump_worker(int sock, void *userdata);
