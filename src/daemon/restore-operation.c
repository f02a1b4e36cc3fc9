/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's half of a restore: intent, staging, worker; the verified tree put into its scope
 * while it is held stopped; the job recorded; the tree let run; the reply. */

#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "bus-error.h"
#include "criu-log.h"
#include "fd-util.h"
#include "checkpoint.h"
#include "job-attach.h"
#include "job-dbus.h"
#include "job-log.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "message-ids.h"
#include "names.h"
#include "operation.h"
#include "checkpoint.h"
#include "process.h"
#include "progress.h"
#include "restore-operation-internal.h"
#include "scope.h"
#include "strv.h"

void restore_spec_done(RestoreSpec *s) {
        identity_done(&s->caller);
        identity_done(&s->owner);
        free(s->name);
        safe_close(s->source_fd);
        free(s->source_path);
        free(s->expected_digest);
        free(s->container_id);
        free(s->container_bundle);
        free(s->runc_root);
        free(s->containerd_namespace);
        restore_options_done(&s->options);
        safe_close(s->log_fd);
        *s = (RestoreSpec) RESTORE_SPEC_NULL;
}

static void tree_signal(RestoreOperation *r, int sig, bool only_resumable) {
        for (size_t i = 0; i < r->n_pids; i++)
                if (r->pidfds[i] >= 0 && (!only_resumable || r->resume[i]))
                        (void) syscall(SYS_pidfd_send_signal, r->pidfds[i], sig, NULL, 0);
}

static void restore_free(Operation *op) {
        RestoreOperation *r = op->userdata;
        if (!r)
                return;
        Manager *m = op->manager;
        if (!r->recorded) {
                /* Nothing of a restore that did not end recorded may run. */
                tree_signal(r, SIGKILL, false);
                if (r->intent > 0)
                        (void) jobstore_delete_restore(m->store, r->intent);
        }
        /* A new log nobody took: the job that would have written it does not exist. */
        if (r->job_log_new && r->job_log_path)
                job_log_unlink(m, r->spec.owner.uid, r->job_log_path);
        if (!r->spawned) {
                if (r->staging_name)
                        (void) rm_rf_at(m->state_dir_fd, r->staging_name);
                if (r->log_path)
                        criu_log_dir_remove(m, r->log_path);
        }
        scope_cancel(m, op);
        restore_spec_done(&r->spec);
        free(r->job_name);
        free(r->unit);
        safe_close(r->staging_fd);
        free(r->staging_name);
        safe_close(r->log_fd);
        free(r->log_path);
        safe_close(r->job_log_fd);
        free(r->job_log_path);
        attach_pipes_done(&r->pipes);
        attach_pipes_done(&r->pty);
        for (size_t i = 0; i < r->n_pids; i++)
                safe_close(r->pidfds[i]);
        free(r->pids);
        free(r->start_times);
        free(r->pidfds);
        free(r->resume);
        outcome_done(&r->outcome);
        free(r);
}

static void reply_worker(Operation *op, int code, const char *message) {
        _cleanup_free_ WorkerMessage *m = calloc(1, sizeof(WorkerMessage));
        if (!m || !op->worker)
                return;
        m->type = WM_REPLY;
        m->status.code = code;
        snprintf(m->status.message, sizeof(m->status.message), "%s", strempty(message));
        (void) worker_send(op->worker, m);
}

static const char *restore_get_name(Operation *op) {
        RestoreOperation *r = op->userdata;
        return r->job_name;
}

/* Until the tree is recorded nothing of it runs: the worker stops where it is, a tree already
 * made is killed instead of recorded. */
static void restore_cancel(Operation *op) {
        RestoreOperation *r = op->userdata;
        if (r->recorded || r->cancelled)
                return;
        r->cancelled = true;
        log_ctx(LOG_INFO, LOG_CTX(.job = r->job_name), "Cancelling the restore of job %s at its caller's request.",
                strna(r->job_name));
        if (op->worker)
                (void) worker_send_cancel(op->worker);
}

static void on_scope_started(Manager *m, int error, const char *message, void *userdata) {
        Operation *op = userdata;
        reply_worker(op, error, message);
}

/* "PID:STARTTIME ..." for the intent: what a next start kills if this restore never ends. */
static int tree_to_string(RestoreOperation *r, char **ret) {
        _cleanup_free_ char *s = strdup("");
        for (size_t i = 0; s && i < r->n_pids; i++) {
                char *n = NULL;
                if (asprintf(&n, "%s%s%i:%" PRIu64, s, i ? " " : "", (int) r->pids[i], r->start_times[i]) < 0)
                        return -ENOMEM;
                free(s);
                s = n;
        }
        if (!s)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* Asked for no name, a checkpoint of a job is restored under that job's name where its owner has
 * no job of that name (any more): the user gets back the job they dumped, here or elsewhere. */
static int take_source_name(Operation *op, const char *source) {
        RestoreOperation *r = op->userdata;
        if (r->spec.job || r->spec.name || !job_name_is_valid(source) || streq(source, r->job_name) ||
            names_job_taken(op->manager, r->spec.owner.uid, source))
                return 0;
        int k = operation_reserve_job_name(op, r->spec.owner.uid, source);
        if (k < 0)
                return k;
        char *n = strdup(source);
        if (!n)
                return -ENOMEM;
        if (r->job_log_new) {
                char *path;
                k = job_log_rename(op->manager, r->spec.owner.uid, r->job_name, n, &path);
                if (k < 0) {
                        free(n);
                        return k;
                }
                free(r->job_log_path);
                r->job_log_path = path;
        }
        free(r->job_name);
        r->job_name = n;
        return 0;
}

/* The tree is verified and held stopped by the worker, CRIU still holds it: pinned with pidfds
 * (CRIU keeps the pids from being recycled now), recorded in the intent, put into its scope. */
static int on_tree(Operation *op, const WmTree *t) {
        RestoreOperation *r = op->userdata;
        Manager *m = op->manager;
        if (r->n_pids > 0)
                return -EBADMSG;
        if (r->cancelled) {
                reply_worker(op, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
                return 0;
        }
        /* What the checkpoint's stdio was: the job keeps that kind, the other goes. */
        if (t->attached == ATTACH_TTY) {
                attach_pipes_done(&r->pipes);
                r->pipes = r->pty;
                r->pty = (AttachPipes) ATTACH_PIPES_NULL;
        } else {
                attach_pipes_done(&r->pty);
                if (t->attached != ATTACH_PIPES)
                        attach_pipes_done(&r->pipes);
        }
        size_t n = t->n;
        if (!(r->pids = calloc(n, sizeof(pid_t))) || !(r->start_times = calloc(n, sizeof(uint64_t))) ||
            !(r->pidfds = calloc(n, sizeof(int))) || !(r->resume = calloc(n, sizeof(bool))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                r->pidfds[i] = -EBADF;
        r->n_pids = n;
        for (size_t i = 0; i < n; i++) {
                if (t->entries[i].pid <= 0)
                        return -EBADMSG;
                r->pids[i] = t->entries[i].pid;
                r->resume[i] = t->entries[i].resume != 0;
                r->pidfds[i] = (int) syscall(SYS_pidfd_open, r->pids[i], 0);
                if (r->pidfds[i] < 0 || process_start_time(r->pids[i], &r->start_times[i]) < 0) {
                        reply_worker(op, -ESRCH, "A restored process disappeared.");
                        return 0;
                }
        }
        _cleanup_free_ char *pids = NULL;
        int k = take_source_name(op, t->source_job);
        if (k >= 0)
                k = scope_name_for_job(r->spec.owner.uid, r->job_name, &r->unit);
        if (k >= 0)
                k = tree_to_string(r, &pids);
        if (k >= 0)
                k = jobstore_update_restore(m->store, r->intent, r->job_name, m->bus ? r->unit : NULL, pids);
        if (k < 0) {
                reply_worker(op, k, "The restore could not be recorded in cedanad's job store.");
                return 0;
        }
        if (!m->bus) {
                /* No systemd to ask: the job runs without a scope. */
                r->unit = mfree(r->unit);
                reply_worker(op, 0, NULL);
                return 0;
        }
        /* An attached job's pipes outlive cedanad: their holder goes into the scope too. */
        _cleanup_free_ pid_t *scoped = calloc(r->n_pids + 1, sizeof(pid_t));
        if (!scoped)
                return -ENOMEM;
        memcpy(scoped, r->pids, r->n_pids * sizeof(pid_t));
        size_t n_scoped = r->n_pids;
        if (r->pipes.daemon_stdout >= 0) {
                k = attach_holder_spawn(&r->pipes);
                if (k < 0) {
                        reply_worker(op, k, "Failed to start the holder of the job's pipes.");
                        return 0;
                }
                scoped[n_scoped++] = r->pipes.holder;
        }
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "cedana job %s", r->job_name) < 0)
                return -ENOMEM;
        k = scope_start(m, r->unit, desc, scoped, n_scoped, on_scope_started, op);
        if (k < 0) {
                _cleanup_free_ char *msg = NULL;
                (void) asprintf(&msg, "Failed to create scope %s: %s.", r->unit, strerror(-k));
                reply_worker(op, k, msg);
        }
        return 0;
}

/* The job as the tree makes it: recorded with the intent gone, in one transaction, while the
 * tree is still stopped; then let run. */
static int record_job(Operation *op, const WmRestored *res, Job **ret) {
        RestoreOperation *r = op->userdata;
        Manager *m = op->manager;
        Job *j = op->job;
        bool created = !j;
        if (res->pid != r->pids[0])
                return -EBADMSG;
        if (!j) {
                int k = job_new(m, r->spec.owner.uid, r->job_name, &j);
                if (k < 0)
                        return k;
                operation_set_job(op, j);
        }
        if (r->spec.source_path) {
                char *from = strdup(r->spec.source_path);
                if (!from)
                        return -ENOMEM;
                free(j->restored_from);
                j->restored_from = from;
        }
        j->pid = res->pid;
        j->pid_start_time = r->start_times[0];
        free(j->unit);
        j->unit = TAKE_PTR(r->unit);
        j->exit_status = -1;
        j->state = JOB_RUNNING;
        j->resume_pending = true;
        j->halt_pending = false;
        j->restore_at_boot = false;
        if (res->job_log_used && r->job_log_new) {
                free(j->log_path);
                j->log_path = TAKE_PTR(r->job_log_path);
                r->job_log_new = false;
        }
        /* Its new pipes and their holder are recorded with it, for a cedanad that starts before
         * the tree runs. */
        int k = 0;
        if (res->attached != ATTACH_NONE)
                k = job_attach_take(j, &r->pipes);
        else
                j->attach = false;
        if (k < 0)
                log_ctx_errno(LOG_WARNING, k, LOG_CTX(.job = j->id), "Failed to attach to job %s: %m", j->id);
        k = jobstore_begin(m->store);
        if (k >= 0)
                k = job_save(j);
        if (k >= 0)
                k = jobstore_delete_restore(m->store, r->intent);
        if (k >= 0)
                k = jobstore_commit(m->store);
        if (k < 0) {
                jobstore_rollback(m->store);
                if (created) {
                        op->job = NULL;
                        job_free(j);
                } else {
                        job_attach_stop(j, true);
                        j->state = JOB_HALTED;
                }
                return k;
        }
        r->intent = 0;
        r->recorded = true;
        *ret = j;
        return created;
}

/* The worker's figures, as the journal and the caller get them. */
typedef struct RestoreStats {
        StatsPair pairs[STATS_PAIRS_MAX];
        size_t n;
        char **fields;
} RestoreStats;

static void restore_stats(Operation *op, RestoreStats *st) {
        RestoreOperation *r = op->userdata;
        st->n = r->have_stats ? checkpoint_stats_pairs(&r->stats, false, now_monotonic_usec() - op->start_usec,
                                                       st->pairs)
                              : 0;
        (void) operation_stats_fields(st->pairs, st->n, &st->fields);
}

/* Statistics and the answer to the caller; the operation ends. The worker removes its staging
 * directory on its own time; what was restored runs meanwhile. */
static void reply_restored(Operation *op, RestoreStats *st, const char *name, pid_t pid) {
        if (st->n > 0)
                manager_send_statistics(op->manager, op->call, name, st->pairs, st->n);
        st->fields = strv_free(st->fields);
        int k = sd_bus_reply_method_return(op->call, "su", name, (uint32_t) pid);
        if (k < 0)
                log_debug_errno(k, "Failed to reply (the caller may be gone): %m");
        operation_detach_worker(op);
        operation_free(op);
}

static void restore_succeeded(Operation *op, const WmRestored *res) {
        RestoreOperation *r = op->userdata;
        Job *j = NULL;
        if (r->cancelled) {
                /* Not recorded: freeing the operation kills the tree, still stopped. The worker
                 * removes its staging directory on its own. */
                operation_detach_worker(op);
                operation_fail(op, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
                return;
        }
        int created = record_job(op, res, &j);
        if (created < 0) {
                operation_fail(op, created, "The restored job could not be recorded in cedanad's job store; it was "
                                            "killed before it ran.");
                return;
        }
        /* Recorded: now it may run. */
        tree_signal(r, SIGCONT, true);
        j->resume_pending = false;
        (void) job_save(j);
        int k = job_watch(j);
        if (k < 0)
                log_ctx_errno(LOG_WARNING, k, LOG_CTX(.job = j->id), "Failed to watch job %s: %m", j->id);
        job_send_changed(j, "State", "PID", "Unit", "RestoredFrom", NULL);
        job_sync_units(j);
        if (created)
                job_announce(j);
        RestoreStats st = {};
        restore_stats(op, &st);
        log_ctx(LOG_INFO,
                LOG_CTX(.message_id = MESSAGE_ID_JOB_RESTORED, .job = j->id, .unit = j->unit, .pid = j->pid,
                        .fields = st.fields),
                "Restored %s as job %s (PID %i) in %s (worker peak RSS %" PRIu64 " KiB, %" PRIu64 " ms CPU with CRIU's).",
                strna(r->spec.source_path), j->id, (int) j->pid, strna(j->unit), res->usage.max_rss_kib,
                res->usage.cpu_usec / 1000);
        reply_restored(op, &st, j->id, j->pid);
}

/* A container job runs again as runc's container: its new init recorded and watched. runc has
 * let it run already; if it cannot be recorded, the next start finds it by its runc state. */
static int record_container_job(Operation *op, const WmRestored *res) {
        RestoreOperation *r = op->userdata;
        Job *j = r->spec.job;
        uint64_t start_time = 0;
        int k = process_start_time(res->pid, &start_time);
        if (k < 0)
                return k;
        j->pid = res->pid;
        j->pid_start_time = start_time;
        j->halt_pending = false;
        free(j->restored_from);
        j->restored_from = r->spec.source_path ? strdup(r->spec.source_path) : NULL;
        j->exit_status = -1;
        j->ended_usec = 0;
        j->restore_at_boot = false;
        job_set_state(j, JOB_RUNNING, -1);
        k = job_watch(j);
        if (k < 0)
                log_ctx_errno(LOG_WARNING, k, LOG_CTX(.job = j->id), "Failed to watch job %s: %m", j->id);
        job_send_changed(j, "State", "PID", "RestoredFrom", NULL);
        return 0;
}

/* runc restored the container and runs it: nothing of ours to record but a container job's new
 * process. */
static void container_restored(Operation *op, const WmRestored *res) {
        RestoreOperation *r = op->userdata;
        r->recorded = true;
        Job *j = r->spec.job;
        if (j) {
                int k = record_container_job(op, res);
                if (k < 0)
                        log_ctx_errno(LOG_ERR, k, LOG_CTX(.job = j->id), "Failed to record job %s as running again: %m",
                                      j->id);
        }
        RestoreStats st = {};
        restore_stats(op, &st);
        log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_CONTAINER_RESTORED, .job = j ? j->id : NULL, .pid = res->pid,
                                  .fields = st.fields),
                "Restored %s as %s container %s (PID %i)%s%s.", strna(r->spec.source_path),
                r->spec.containerd ? "containerd" : "runc", res->container_id,
                (int) res->pid, j ? ", job " : "", j ? j->id : "");
        reply_restored(op, &st, j ? j->id : res->container_id, res->pid);
}

static int restore_on_message(Operation *op, const WorkerMessage *msg) {
        RestoreOperation *r = op->userdata;
        switch (msg->type) {
        case WM_PROGRESS:
                manager_send_progress(op->manager, op->call, r->job_name, msg->progress.phase, msg->progress.done,
                                      msg->progress.total);
                return 0;
        case WM_TREE:
                return r->spec.container ? -EBADMSG : on_tree(op, &msg->tree);
        case WM_STATS:
                r->stats = msg->stats;
                r->have_stats = true;
                return 0;
        case WM_RESTORED:
                if (r->spec.container) {
                        container_restored(op, &msg->restored);
                        return 0;
                }
                if (r->n_pids == 0)
                        return -EBADMSG;
                restore_succeeded(op, &msg->restored);
                return 0;
        case WM_FAILED:
                (void) outcome_set(&r->outcome, msg->status.code ?: -EIO, "%s", msg->status.message);
                return 0;
        default:
                return -EBADMSG;
        }
}

static void restore_on_exit(Operation *op, int status, const WorkerUsage *usage) {
        RestoreOperation *r = op->userdata;
        (void) outcome_set(&r->outcome, -EIO, "The restore worker of cedanad died unexpectedly (%s %i).",
                           WIFSIGNALED(status) ? "signal" : "status",
                           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        operation_fail(op, r->outcome.code, r->outcome.message);
}

/* The log a job's checkpoint's output goes to once restored, wherever its old log went (deleted
 * with its job, or on another host): a restored job's own, or a new one for a new job. An
 * attached job's output goes to its pipes; a log the caller chose is reopened where it was. */
static int open_job_log(Manager *m, RestoreOperation *r) {
        Job *j = r->spec.job;
        if (j ? j->attach : r->spec.attach)
                return 0;
        if (j) {
                _cleanup_free_ char *ours = NULL;
                if (asprintf(&ours, "%s/%u/%s.log", m->log_dir, (unsigned) j->uid, j->id) < 0)
                        return -ENOMEM;
                if (!streq_ptr(j->log_path, ours))
                        return 0;
                return job_log_open(m, &r->spec.owner, j->id, false, &r->job_log_path, &r->job_log_fd);
        }
        r->job_log_new = true;
        return job_log_open(m, &r->spec.owner, r->job_name, true, &r->job_log_path, &r->job_log_fd);
}

static int make_staging(Manager *m, RestoreOperation *r) {
        int k = mkdtemp_at(m->state_dir_fd, "staging-", &r->staging_name, &r->staging_fd);
        if (k >= 0 && fchown(r->staging_fd, r->spec.owner.uid, r->spec.owner.gid) < 0)
                k = negative_errno();
        return k;
}

int restore_operation_start(Manager *m, sd_bus_message *call, RestoreSpec *spec, sd_bus_error *error) {
        _cleanup_(operation_freep) Operation *op = NULL;
        int k = operation_new(m, OPERATION_RESTORE, call, spec->caller.uid, error, &op);
        if (k < 0)
                return k;
        RestoreOperation *r = calloc(1, sizeof(RestoreOperation));
        if (!r)
                return -ENOMEM;
        r->spec = *spec;
        *spec = (RestoreSpec) RESTORE_SPEC_NULL;
        r->staging_fd = r->log_fd = r->job_log_fd = -EBADF;
        r->pipes = r->pty = (AttachPipes) ATTACH_PIPES_NULL;
        op->userdata = r;
        op->on_free = restore_free;
        op->on_message = restore_on_message;
        op->on_exit = restore_on_exit;
        op->get_name = restore_get_name;
        op->on_cancel = restore_cancel;

        if (r->spec.job) {
                operation_set_job(op, r->spec.job);
                k = (r->job_name = strdup(r->spec.job->id)) ? 0 : -ENOMEM;
        } else if (r->spec.container)
                /* runc keeps the container's state; a crash leaves it to runc, not to a record. */
                k = (r->job_name = strdup(r->spec.container_id ?: "container")) ? 0 : -ENOMEM;
        else {
                k = names_pick_job(m, r->spec.owner.uid, r->spec.name, &r->job_name, error);
                if (k >= 0)
                        k = operation_reserve_job_name(op, r->spec.owner.uid, r->job_name);
        }
        if (k < 0)
                return k;
        if (!r->spec.container && (k = jobstore_add_restore(m->store, r->spec.owner.uid, r->job_name, &r->intent)) < 0)
                return bus_error_setf(error, k, "Failed to record the restore in the job store: %s", strerror(-k));
        k = make_staging(m, r);
        if (k < 0)
                return bus_error_setf(error, k, "Failed to create a staging directory for the restore: %s",
                                      strerror(-k));
        _cleanup_free_ char *prefix = NULL;
        if (asprintf(&prefix, "%s-restore-", r->job_name) < 0)
                return -ENOMEM;
        k = criu_log_dir_new(m, r->spec.caller.uid, r->spec.owner.uid, r->spec.owner.gid, prefix, &r->log_path,
                             &r->log_fd);
        if (k < 0)
                return bus_error_setf(error, k, "Failed to create a log directory for CRIU in %s: %s", m->log_dir,
                                      strerror(-k));
        /* An attached job gets new stdio pipes, or a new pty if it had one; a restored process
         * too, if asked (its checkpoint says whether it needs them, and which). */
        if (r->spec.job ? r->spec.job->attach : r->spec.attach) {
                k = attach_pipes_new(&r->pipes);
                if (k >= 0)
                        k = attach_pty_new(r->spec.owner.uid, 0, 0, &r->pty);
                if (k < 0)
                        return k;
        }
        k = r->spec.container ? 0 : open_job_log(m, r);
        if (k < 0)
                return bus_error_setf(error, k, "Failed to create the log of job %s: %s", r->job_name, strerror(-k));

        int keep[] = { r->spec.source_fd, r->spec.log_fd, r->log_fd, r->staging_fd, m->state_dir_fd, m->log_dir_fd,
                       r->pipes.job_stdin, r->pipes.job_stdout, r->pty.job_stdin, r->job_log_fd };
        int valid[ELEMENTSOF(keep)];
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                if (keep[i] >= 0)
                        valid[n++] = keep[i];
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "restore %s", r->job_name) < 0)
                return -ENOMEM;
        k = operation_spawn(op, desc, valid, n, restore_worker);
        if (k < 0)
                return bus_error_setf(error, k, "Failed to start a worker: %s", strerror(-k));
        r->spawned = true;
        /* The worker has its own copies of the job's ends now. */
        r->pipes.job_stdin = safe_close(r->pipes.job_stdin);
        r->pipes.job_stdout = safe_close(r->pipes.job_stdout);
        r->pty.job_stdin = safe_close(r->pty.job_stdin);
        r->pty.job_stdout = safe_close(r->pty.job_stdout);
        TAKE_PTR(op);
        return 1;
}

/* A tree recorded as "PID:STARTTIME ...": killed where the pid still is that process. */
static void kill_recorded_tree(const char *pids) {
        _cleanup_free_ char *copy = pids ? strdup(pids) : NULL;
        char *save = NULL;
        for (char *tok = copy ? strtok_r(copy, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
                int pid;
                uint64_t start, now;
                if (sscanf(tok, "%i:%" SCNu64, &pid, &start) != 2 || pid <= 0)
                        continue;
                if (process_start_time(pid, &now) >= 0 && now == start)
                        (void) kill(pid, SIGKILL);
        }
}

void restore_intents_reconcile(Manager *m) {
        RestoreRecord *list = NULL;
        size_t n = 0;
        if (jobstore_list_restores(m->store, &list, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                kill_recorded_tree(list[i].pids);
                if (list[i].unit && m->bus) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                        (void) scope_kill(m, list[i].unit, SIGKILL, &e);
                }
                log_ctx(LOG_NOTICE, LOG_CTX(.job = list[i].job),
                        "The restore of job %s was interrupted; nothing of it is left running.", list[i].job);
                (void) jobstore_delete_restore(m->store, list[i].rowid);
        }
        restore_records_free(list, n);
}
