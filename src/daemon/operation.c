/* SPDX-License-Identifier: Apache-2.0 */
/* The generic operation: creation under limits, hand-over of a job and a reserved name, the
 * worker, and the one place a failed operation is answered and logged. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-error.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "progress.h"
#include "strv.h"

static const char *const kind_table[_OPERATION_KIND_MAX] = {
        [OPERATION_DUMP] = "dump",       [OPERATION_RESTORE] = "restore", [OPERATION_RUN] = "run",
        [OPERATION_MANAGE] = "manage",   [OPERATION_DELETE] = "delete",   [OPERATION_RECONCILE] = "reconcile",
};

const char *operation_kind_to_string(OperationKind k) {
        return k >= 0 && k < _OPERATION_KIND_MAX ? kind_table[k] : NULL;
}

unsigned manager_operations_of(Manager *m, uid_t uid) {
        unsigned n = 0;
        LIST_FOREACH(operations, op, m->operations)
                n += op->call && op->uid == uid;
        return n;
}

int operation_new(Manager *m, OperationKind kind, sd_bus_message *call, uid_t uid, sd_bus_error *error,
                  Operation **ret) {
        if (call) {
                unsigned all = 0;
                LIST_FOREACH(operations, op, m->operations)
                        all += op->call != NULL;
                if (all >= OPERATIONS_MAX)
                        return bus_error_setf(error, CEDANA_E_LIMITS,
                                              "cedanad is busy with %u operations; try again later.", all);
                if (uid != 0 && manager_operations_of(m, uid) >= OPERATIONS_PER_USER_MAX)
                        return bus_error_setf(error, CEDANA_E_LIMITS,
                                              "You have %u operations in flight already; wait for one to finish.",
                                              (unsigned) OPERATIONS_PER_USER_MAX);
        }
        Operation *op = calloc(1, sizeof(Operation));
        if (!op)
                return -ENOMEM;
        op->manager = m;
        op->kind = kind;
        op->uid = uid;
        op->call = sd_bus_message_ref(call);
        op->start_usec = now_monotonic_usec();
        LIST_PREPEND(operations, m->operations, op);
        *ret = op;
        return 0;
}

Operation *operation_free(Operation *op) {
        if (!op)
                return NULL;
        Manager *m = op->manager;
        if (op->on_free)
                op->on_free(op);
        LIST_REMOVE(operations, m->operations, op);
        if (op->worker) {
                /* Freed before its worker ended (the daemon exits): the worker dies with it. */
                op->worker->on_exit = NULL;
                op->worker->on_message = NULL;
                op->worker->userdata = NULL;
                worker_free(op->worker);
        }
        if (op->job && op->job->busy == op)
                op->job->busy = NULL;
        sd_bus_message_unref(op->call);
        free(op->job_name);
        free(op);
        manager_check_idle(m);
        return NULL;
}

/* Started on the connection that sent call: the same bus (the private socket has one per client)
 * and the same unique name (the system bus). */
static bool same_connection(sd_bus_message *a, sd_bus_message *b) {
        return sd_bus_message_get_bus(a) == sd_bus_message_get_bus(b) &&
               streq_ptr(sd_bus_message_get_sender(a), sd_bus_message_get_sender(b));
}

unsigned operation_cancel_matching(Manager *m, sd_bus_message *call, uid_t uid, bool any_user, const char *spec) {
        unsigned n = 0;
        LIST_FOREACH(operations, op, m->operations) {
                if (!op->call || !op->on_cancel || !op->get_name)
                        continue;
                if (isempty(spec) ? !same_connection(op->call, call)
                                  : (!any_user && op->uid != uid) || !streq_ptr(op->get_name(op), spec))
                        continue;
                op->on_cancel(op);
                n++;
        }
        return n;
}

int operation_stats_fields(const StatsPair *pairs, size_t n, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < n; i++) {
                char *f = NULL;
                if (asprintf(&f, "CEDANA_%s=%" PRIu64, pairs[i].key, pairs[i].value) < 0)
                        return -ENOMEM;
                for (char *c = f; *c != '='; c++)
                        *c = (char) toupper((unsigned char) *c);
                int r = strv_push(&l, f);
                if (r < 0) {
                        free(f);
                        return r;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void operation_set_job(Operation *op, Job *j) {
        op->job = j;
        j->busy = op;
}

int operation_reserve_job_name(Operation *op, uid_t uid, const char *name) {
        char *n = strdup(name);
        if (!n)
                return -ENOMEM;
        free(op->job_name);
        op->job_name = n;
        op->job_uid = uid;
        return 0;
}

static int on_worker_message(Worker *w, const WorkerMessage *msg, void *userdata) {
        Operation *op = userdata;
        return op->on_message ? op->on_message(op, msg) : 0;
}

static void on_worker_exit(Worker *w, int wait_status, void *userdata) {
        Operation *op = userdata;
        op->worker = NULL; /* freed right after this */
        if (op->on_exit)
                op->on_exit(op, wait_status, &w->usage);
}

int operation_spawn(Operation *op, const char *description, const int *keep_fds, size_t n_keep, WorkerRun run) {
        return worker_spawn(op->manager, description, keep_fds, n_keep, run, op, on_worker_message, on_worker_exit, op,
                            &op->worker);
}

void operation_detach_worker(Operation *op) {
        if (!op->worker)
                return;
        op->worker->on_message = NULL;
        op->worker->on_exit = NULL;
        op->worker->userdata = NULL;
        op->worker = NULL;
}

void operation_fail(Operation *op, int r, const char *message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        (void) bus_error_set(&error, r, message);
        log_ctx(r > 0 ? LOG_NOTICE : LOG_ERR,
                LOG_CTX(.job = op->job ? op->job->id : op->job_name),
                "%s failed: %s", operation_kind_to_string(op->kind), error.message ?: error.name);
        if (op->call) {
                int k = sd_bus_reply_method_error(op->call, &error);
                if (k < 0)
                        log_debug_errno(k, "Failed to reply (the caller may be gone): %m");
        }
        operation_free(op);
}
