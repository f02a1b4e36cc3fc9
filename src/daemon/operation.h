/* SPDX-License-Identifier: Apache-2.0 */
/* One generic operation: the work the daemon has in flight for a caller (dump, restore, run,
 * adopt, delete) or for itself (reconciliation). It holds the message to answer, the worker doing
 * the work, the job it keeps busy and the job name it reserves; the kinds of work are built on it
 * in their own files. Limits per caller and overall are enforced here. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "criu-stats.h"
#include "list.h"
#include "worker.h"

typedef struct Job Job;
typedef struct Manager Manager;
typedef struct Operation Operation;

typedef enum OperationKind {
        OPERATION_DUMP,
        OPERATION_RESTORE,
        OPERATION_RUN,
        OPERATION_MANAGE,
        OPERATION_DELETE,
        OPERATION_RECONCILE,
        _OPERATION_KIND_MAX,
} OperationKind;

/* What one caller, and everybody together, may have in flight. root is limited only overall. */
#define OPERATIONS_MAX 64
#define OPERATIONS_PER_USER_MAX 8

struct Operation {
        Manager *manager;
        OperationKind kind;
        uid_t uid;            /* whose request it is */
        sd_bus_message *call; /* answered once; NULL for the daemon's own work */
        Worker *worker;
        Job *job;             /* busy while the operation runs */
        uid_t job_uid;        /* job_name, owned by job_uid, is reserved until the operation ends */
        char *job_name;
        void *userdata;       /* the kind's state, freed by on_free */
        void (*on_free)(Operation *op);
        /* the worker's messages, and its end (op->worker is NULL by then) */
        int (*on_message)(Operation *op, const WorkerMessage *msg);
        void (*on_exit)(Operation *op, int wait_status, const WorkerUsage *usage);
        /* Kinds that can be cancelled (dump, restore): the name their Progress signals carry,
         * and the request to stop (the call is then answered Cancelled, or normally when it
         * was too late). */
        const char *(*get_name)(Operation *op);
        void (*on_cancel)(Operation *op);
        uint64_t start_usec;  /* CLOCK_MONOTONIC */
        LIST_FIELDS(Operation, operations);
};

const char *operation_kind_to_string(OperationKind k);

/* A new operation for call (NULL: the daemon's own), refused with LimitsExceeded in *error when
 * uid or everybody has too many in flight. */
int operation_new(Manager *m, OperationKind kind, sd_bus_message *call, uid_t uid, sd_bus_error *error,
                  Operation **ret);
Operation *operation_free(Operation *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(Operation *, operation_free);

/* Marks j busy with op (j->busy). */
void operation_set_job(Operation *op, Job *j);
/* Reserves name (of owner uid) for a job op will create. */
int operation_reserve_job_name(Operation *op, uid_t uid, const char *name);
/* Starts op's worker, which runs run(sock, op) keeping keep_fds; its messages go to
 * op->on_message and its end to op->on_exit. */
int operation_spawn(Operation *op, const char *description, const int *keep_fds, size_t n_keep, WorkerRun run);
/* The worker finishes on its own (cleaning up) after op is done; it is not killed with op. */
void operation_detach_worker(Operation *op);
/* Answers op's call with r (a CedanaError or -errno) and message (NULL: strerror), logs it once,
 * and frees op. */
void operation_fail(Operation *op, int r, const char *message);
/* Asks operations to stop: those named spec of user uid (any user's with any_user), or with spec
 * "" those started on the very connection that sends call. Returns how many were asked; the
 * caller has checked who may stop whose. */
unsigned operation_cancel_matching(Manager *m, sd_bus_message *call, uid_t uid, bool any_user, const char *spec);
/* The pairs as journal fields, "CEDANA_FROZEN_USEC=1234", in a new strv. */
int operation_stats_fields(const StatsPair *pairs, size_t n, char ***ret);
/* How many operations uid has in flight. */
unsigned manager_operations_of(Manager *m, uid_t uid);
