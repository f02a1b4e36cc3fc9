/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's half of a dump: name, intent, worker; then the record through synced and complete
 * as the worker reports each step, the job's new state in the same transaction, the reply. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bus-error.h"
#include "checkpoint-files.h"
#include "checkpoint.h"
#include "criu-log.h"
#include "dump-operation-internal.h"
#include "fd-util.h"
#include "job-dbus.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "message-ids.h"
#include "names.h"
#include "operation.h"
#include "paused.h"
#include "path-util.h"
#include "persist.h"
#include "progress.h"
#include "schedule.h"
#include "strv.h"

void dump_spec_done(DumpSpec *s) {
        identity_done(&s->caller);
        identity_done(&s->owner);
        safe_close(s->pidfd);
        safe_close(s->dir_fd);
        safe_close(s->log_fd);
        free(s->dir_path);
        free(s->name);
        dump_options_done(&s->options);
        free(s->runc_root);
        runc_state_done(&s->container);
        free(s->containerd_namespace);
        containerd_container_done(&s->containerd);
        *s = (DumpSpec) DUMP_SPEC_NULL;
}

static void dump_free(Operation *op) {
        DumpOperation *d = op->userdata;
        if (!d)
                return;
        /* Refused before anything was written: the name is free again. */
        if (d->intent && !d->spawned)
                (void) jobstore_delete_checkpoint(op->manager->store, d->record.uid, d->record.id);
        if (!d->spawned && d->log_path)
                criu_log_dir_remove(op->manager, d->log_path);
        dump_spec_done(&d->spec);
        checkpoint_record_done(&d->record);
        safe_close(d->log_fd);
        free(d->log_path);
        outcome_done(&d->outcome);
        free(d);
}

bool dump_operation_owns(Operation *op, uid_t uid, const char *id) {
        DumpOperation *d = op->kind == OPERATION_DUMP ? op->userdata : NULL;
        return d && d->record.id && d->record.uid == uid && streq(d->record.id, id);
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

static void take_commit(DumpOperation *d, const WmCommit *c) {
        d->record.size = c->size;
        d->record.time_usec = c->time_usec;
        d->record.dev = c->dev;
        d->record.ino = c->ino;
        d->image_size = c->image_size;
        free(d->record.digest);
        d->record.digest = strdup(c->digest);
}

static const char *dump_get_name(Operation *op) {
        DumpOperation *d = op->userdata;
        return d->record.id;
}

/* The worker stops where that leaves nothing behind; whatever it asks to record from now on is
 * refused, so the dump ends cancelled unless it was recorded complete already. */
static void dump_cancel(Operation *op) {
        DumpOperation *d = op->userdata;
        if (d->published || d->cancelled)
                return;
        d->cancelled = true;
        log_ctx(LOG_INFO, LOG_CTX(.checkpoint = d->record.id, .job = op->job ? op->job->id : NULL),
                "Cancelling dump %s at its caller's request.", d->record.id);
        if (op->worker)
                (void) worker_send_cancel(op->worker);
}

static int refuse_cancelled(Operation *op) {
        DumpOperation *d = op->userdata;
        _cleanup_free_ char *msg = NULL;
        char what[DUMP_TARGET_MAX];
        dump_target_describe(d->spec.pid, d->spec.container.id, false, what);
        if (asprintf(&msg, DUMP_CANCELLED_MESSAGE, what) < 0)
                msg = NULL;
        reply_worker(op, CEDANA_E_CANCELLED, msg);
        return 0;
}

/* Complete and durable, not yet under its final name: recorded with what identifies it. */
static int on_synced(Operation *op, const WmCommit *c) {
        DumpOperation *d = op->userdata;
        take_commit(d, c);
        d->record.state = CHECKPOINT_SYNCED;
        return jobstore_update_checkpoint(op->manager->store, &d->record);
}

/* Published: complete, and the job about to be halted, in one transaction. */
static int on_published(Operation *op, const WmCommit *c) {
        DumpOperation *d = op->userdata;
        JobStore *s = op->manager->store;
        take_commit(d, c);
        d->record.state = CHECKPOINT_COMPLETE;
        d->record.staging_name = mfree(d->record.staging_name);
        d->record.partial_name = mfree(d->record.partial_name);
        int r = jobstore_begin(s);
        if (r < 0)
                return r;
        r = jobstore_update_checkpoint(s, &d->record);
        if (r >= 0 && op->job && !d->spec.options.leave_running) {
                op->job->halt_pending = true;
                /* Halted for the shutdown: the boot restores it from this checkpoint. */
                op->job->restore_at_boot = d->spec.origin == DUMP_ORIGIN_SHUTDOWN;
                r = job_save(op->job);
        }
        if (r >= 0)
                r = jobstore_commit(s);
        if (r < 0) {
                jobstore_rollback(s);
                if (op->job)
                        op->job->halt_pending = op->job->restore_at_boot = false;
                return r;
        }
        d->published = true;
        if (op->job)
                job_set_last_checkpoint(op->job, d->record.id, d->record.time_usec, d->record.size);
        return 0;
}

static int dump_on_message(Operation *op, const WorkerMessage *msg) {
        DumpOperation *d = op->userdata;
        int r;
        switch (msg->type) {
        case WM_PROGRESS:
                manager_send_progress(op->manager, op->call, d->record.id, msg->progress.phase, msg->progress.done,
                                      msg->progress.total);
                return 0;
        case WM_STATS:
                d->stats = msg->stats;
                d->have_stats = true;
                return 0;
        case WM_SYNCED:
        case WM_PUBLISHED:
                if (d->cancelled)
                        return refuse_cancelled(op);
                r = msg->type == WM_SYNCED ? on_synced(op, &msg->commit) : on_published(op, &msg->commit);
                if (r < 0)
                        log_ctx_errno(LOG_ERR, r, LOG_CTX(.checkpoint = d->record.id), "Failed to record checkpoint %s: %m",
                                      d->record.id);
                reply_worker(op, r < 0 ? r : 0,
                             r < 0 ? "The checkpoint could not be recorded in cedanad's job store; it was removed "
                                     "again and the process keeps running." : NULL);
                return 0;
        case WM_FAILED:
                (void) outcome_set(&d->outcome, msg->status.code ?: -EIO, "%s", msg->status.message);
                return 0;
        default:
                return -EBADMSG;
        }
}

static void dump_succeeded(Operation *op, const WorkerUsage *usage) {
        Manager *m = op->manager;
        DumpOperation *d = op->userdata;
        char what[160];
        if (op->job)
                snprintf(what, sizeof(what), "job %s", op->job->id);
        else if (d->spec.container.id)
                snprintf(what, sizeof(what), "%s container %s", d->spec.containerd.id ? "containerd" : "runc",
                         d->spec.container.id);
        else
                snprintf(what, sizeof(what), "process %i", (int) d->spec.pid);
        if (op->job) {
                op->job->halt_pending = false;
                if (!d->spec.options.leave_running)
                        job_set_state(op->job, JOB_HALTED, -1);
        }
        StatsPair pairs[STATS_PAIRS_MAX];
        size_t n = d->have_stats ? checkpoint_stats_pairs(&d->stats, true, now_monotonic_usec() - op->start_usec,
                                                          pairs)
                                 : 0;
        _cleanup_strv_free_ char **fields = NULL;
        (void) operation_stats_fields(pairs, n, &fields);
        log_ctx(LOG_INFO,
                LOG_CTX(.message_id = MESSAGE_ID_CHECKPOINT_WRITTEN, .job = op->job ? op->job->id : NULL,
                        .checkpoint = d->record.id, .pid = d->spec.pid, .fields = fields),
                "Checkpoint %s of %s written to %s (%" PRIu64 " bytes; worker peak RSS %" PRIu64 " KiB, %" PRIu64
                " ms CPU with CRIU's).", d->record.id, what, d->record.path, d->record.size, usage->max_rss_kib,
                usage->cpu_usec / 1000);
        if (n > 0)
                manager_send_statistics(m, op->call, d->record.id, pairs, n);
        manager_send_checkpoint_new(m, op->job ? op->job->id : "", d->record.id, d->record.path);
        int r = sd_bus_reply_method_return(op->call, "sst", d->record.id, d->record.path, d->record.size);
        if (r < 0)
                log_debug_errno(r, "Failed to reply (the caller may be gone): %m");
}

/* A dump cedanad took for a job's owner ended: its schedule or the shutdown hear how. */
static void dump_origin_done(Manager *m, Job *j, DumpOrigin origin, int r, const char *message) {
        if (j && origin == DUMP_ORIGIN_SCHEDULE)
                schedule_dump_done(j, r, message);
        else if (j && origin == DUMP_ORIGIN_SHUTDOWN)
                persist_dump_done(m, j, r, message);
}

static void dump_on_exit(Operation *op, int status, const WorkerUsage *usage) {
        Manager *m = op->manager;
        DumpOperation *d = op->userdata;
        DumpOrigin origin = d->spec.origin;
        Job *j = op->job;
        /* A complete record is a done dump, whatever happened afterwards. */
        /* A containerd container its worker paused and did not let go of runs on (committed, it
         * would have been killed: the checkpoint is complete either way). */
        if (d->spec.containerd.id)
                paused_resume(m, d->spec.containerd_namespace, d->spec.containerd.id);
        if (d->published) {
                dump_succeeded(op, usage);
                operation_free(op);
                /* Exits of a busy job were ignored: one that still runs is watched anew, which
                 * also notices at once if it died meanwhile. */
                if (j && j->state == JOB_RUNNING)
                        (void) job_watch(j);
                dump_origin_done(m, j, origin, 0, NULL);
                return;
        }
        (void) outcome_set(&d->outcome, -EIO, "The dump worker of cedanad died unexpectedly (%s %i).",
                           WIFSIGNALED(status) ? "signal" : "status",
                           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        int code = d->outcome.code;
        _cleanup_free_ char *message = d->outcome.message ? strdup(d->outcome.message) : NULL;
        operation_fail(op, d->outcome.code, d->outcome.message);
        if (j && j->state == JOB_RUNNING)
                (void) job_watch(j);
        /* The worker removed what it wrote; whatever an abnormal end left, the intent says where. */
        (void) checkpoint_files_reconcile_all(m);
        dump_origin_done(m, j, origin, code, message);
}

static int pick_name(Manager *m, DumpOperation *d, sd_bus_error *error) {
        DumpSpec *s = &d->spec;
        const char *suffix = compression_suffix(s->options.compression);
        /* dump-<type>-<job, container or pid>-<unix time>, then -2, -3, ... where that is taken. */
        _cleanup_free_ char *base = NULL;
        char pid[16];
        snprintf(pid, sizeof(pid), "%i", (int) s->pid);
        if (asprintf(&base, "dump-%s-%s-%" PRIu64,
                     s->job ? "job" : s->containerd.id ? "containerd" : s->container.id ? "runc" : "process",
                     s->job ? s->job->id : s->container.id ?: pid, now_realtime_usec() / USEC_PER_SEC) < 0)
                return -ENOMEM;
        _cleanup_close_ int dir_fd = s->dir_fd >= 0 ? fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3)
                                                    : open_nofollow(s->dir_path, O_PATH | O_DIRECTORY, 0);
        return names_pick_checkpoint(m, s->caller.uid, s->name, base, dir_fd, suffix, &d->record.id, error);
}

/* The intent, recorded before anything is created: a crash at any later point is finished or
 * removed at the next start. */
static int record_intent(Manager *m, DumpOperation *d) {
        DumpSpec *s = &d->spec;
        char suffix[9];
        int r = random_alnum(suffix, sizeof(suffix));
        if (r < 0)
                return r;
        const char *ext = compression_suffix(s->options.compression);
        if (asprintf(&d->record.staging_name, ".cedana-staging-%s-%s", d->record.id, suffix) < 0 ||
            asprintf(&d->record.partial_name, ".%s%s.partial-%s", d->record.id, ext, suffix) < 0 ||
            asprintf(&d->record.path, "%s%s%s%s", s->dir_path, streq(s->dir_path, "/") ? "" : "/", d->record.id,
                     ext) < 0 ||
            !(d->record.compression = strdup(compression_to_string(s->options.compression))))
                return -ENOMEM;
        d->record.uid = s->caller.uid;
        d->record.state = CHECKPOINT_INTENT;
        d->record.process_uid = s->owner.uid;
        d->record.pid = s->pid;
        d->record.time_usec = now_realtime_usec();
        d->record.scheduled = s->origin == DUMP_ORIGIN_SCHEDULE;
        if (s->job) {
                if (!(d->record.job = strdup(s->job->id)))
                        return -ENOMEM;
                d->record.job_uid = s->job->uid;
        }
        return jobstore_add_checkpoint(m->store, &d->record);
}

int dump_operation_start(Manager *m, sd_bus_message *call, DumpSpec *spec, sd_bus_error *error) {
        _cleanup_(operation_freep) Operation *op = NULL;
        int r = operation_new(m, OPERATION_DUMP, call, spec->caller.uid, error, &op);
        if (r < 0)
                return r;
        DumpOperation *d = calloc(1, sizeof(DumpOperation));
        if (!d)
                return -ENOMEM;
        d->spec = *spec;
        *spec = (DumpSpec) DUMP_SPEC_NULL;
        d->log_fd = -EBADF;
        op->userdata = d;
        op->on_free = dump_free;
        op->on_message = dump_on_message;
        op->on_exit = dump_on_exit;
        op->get_name = dump_get_name;
        op->on_cancel = dump_cancel;
        if (d->spec.job)
                operation_set_job(op, d->spec.job);

        r = pick_name(m, d, error);
        if (r < 0)
                return r;
        r = record_intent(m, d);
        if (r == -EEXIST)
                return bus_error_setf(error, CEDANA_E_EXISTS, "You have a checkpoint named %s already; choose another "
                                      "--name.", d->record.id);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to record the dump in the job store: %s", strerror(-r));
        d->intent = true;
        _cleanup_free_ char *prefix = NULL;
        if (asprintf(&prefix, "%s-dump-", d->record.id) < 0)
                return -ENOMEM;
        r = criu_log_dir_new(m, d->spec.caller.uid, d->spec.owner.uid, d->spec.owner.gid, prefix, &d->log_path,
                             &d->log_fd);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to create a log directory for CRIU in %s: %s", m->log_dir,
                                      strerror(-r));
        /* The state directory: an upload's scratch directory goes there. */
        int keep[] = { d->spec.pidfd, d->spec.dir_fd, d->spec.log_fd, d->log_fd, m->log_dir_fd, m->state_dir_fd };
        int valid[ELEMENTSOF(keep)];
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                if (keep[i] >= 0)
                        valid[n++] = keep[i];
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "dump %s", d->record.id) < 0)
                return -ENOMEM;
        /* Asked once per daemon, here, so that the worker's copy of the manager has it for the
         * checkpoint's metadata. */
        (void) manager_criu_version(m);
        r = operation_spawn(op, desc, valid, n, dump_worker);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to start a worker: %s", strerror(-r));
        d->spawned = true;
        TAKE_PTR(op);
        return 1;
}
