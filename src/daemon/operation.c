/* SPDX-License-Identifier: Apache-2.0 */
/* Dump and restore operations of the daemon: the parent half (records, scopes, replies) and
 * the worker half (opening the caller's paths as the caller, running the checkpoint code). */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bus-error.h"
#include "checkpoint.h"
#include "fd-util.h"
#include "job-dbus.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "message-ids.h"
#include "operation.h"
#include "path-util.h"
#include "process.h"
#include "scope.h"
#include "worker.h"

Operation *operation_new(Manager *m, sd_bus_message *call, bool restore) {
        Operation *op = calloc(1, sizeof(Operation));
        if (!op)
                return NULL;
        op->manager = m;
        op->restore = restore;
        op->call = sd_bus_message_ref(call);
        op->pidfd = op->dir_fd = op->source_fd = op->log_fd = op->criu_log_fd = -EBADF;
        op->pipes = (AttachPipes) ATTACH_PIPES_NULL;
        LIST_PREPEND(operations, m->operations, op);
        return op;
}

Operation *operation_free(Operation *op) {
        if (!op)
                return NULL;
        LIST_REMOVE(operations, op->manager->operations, op);
        scope_cancel(op->manager, op);
        if (op->worker) {
                op->worker->userdata = NULL;
                op->worker->on_exit = NULL;
                op->worker->on_message = NULL;
        }
        if (op->job && op->job->busy == op)
                op->job->busy = NULL;
        sd_bus_message_unref(op->call);
        identity_done(&op->caller);
        identity_done(&op->owner);
        free(op->job_name);
        free(op->type);
        safe_close(op->pidfd);
        safe_close(op->dir_fd);
        free(op->dir_path);
        dump_options_done(&op->dump_options);
        free(op->name);
        free(op->staging_name);
        free(op->partial_name);
        safe_close(op->source_fd);
        free(op->source_path);
        restore_options_done(&op->restore_options);
        safe_close(op->log_fd);
        free(op->unit);
        attach_pipes_done(&op->pipes);
        safe_close(op->criu_log_fd);
        free(op->criu_log_dir);
        free(op->error_message);
        free(op->result_path);
        free(op->result_checksum);
        free(op);
        return NULL;
}

bool manager_job_name_taken(Manager *m, const Operation *self, const char *name) {
        if (manager_get_job(m, name))
                return true;
        LIST_FOREACH(operations, op, m->operations)
                if (op != self && op->new_job && streq_ptr(op->job_name, name))
                        return true;
        return false;
}

bool manager_checkpoint_name_taken(Manager *m, const Operation *self, const char *name) {
        CheckpointRecord c;
        if (jobstore_get_checkpoint(m->store, name, &c) >= 0) {
                checkpoint_record_done(&c);
                return true;
        }
        LIST_FOREACH(operations, op, m->operations)
                if (op != self && !op->restore && streq_ptr(op->name, name))
                        return true;
        return false;
}

/* ---- worker side ---- */

static int send_json_error(int sock, int error, const char *message) {
        _cleanup_json_ JsonVariant *v = NULL, *e = NULL;
        int r = json_new_object(&v);
        if (r >= 0)
                r = json_new_object(&e);
        if (r >= 0)
                r = json_object_set_integer(e, "errno", -abs(error));
        if (r >= 0)
                r = json_object_set_string(e, "message", message);
        if (r >= 0) {
                r = json_object_set(v, "error", TAKE_PTR(e));
        }
        if (r >= 0)
                r = worker_child_send(sock, v);
        return r;
}

typedef struct WorkerContext {
        Operation *op;
        int sock;
} WorkerContext;

static void worker_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        WorkerContext *w = userdata;
        _cleanup_json_ JsonVariant *v = NULL, *p = NULL;
        if (json_new_object(&v) < 0 || json_new_object(&p) < 0)
                return;
        if (json_object_set_string(p, "phase", phase) < 0 || json_object_set_unsigned(p, "done", done) < 0 ||
            json_object_set_unsigned(p, "total", total) < 0 || json_object_set(v, "progress", TAKE_PTR(p)) < 0)
                return;
        (void) worker_child_send(w->sock, v);
}

/* Opens a path the caller named, with the caller's rights and without following symlinks. */
static int open_as_caller(const Identity *caller, const char *path, int flags, const char *what, char **reterr) {
        int r = identity_set_fs(caller);
        if (r < 0)
                return r;
        int fd = open_nofollow(path, flags, 0);
        (void) identity_reset_fs();
        if (fd >= 0)
                return fd;
        switch (fd) {
        case -ENOENT:
                return asprintf(reterr, "The %s %s does not exist.", what, path), -ENOENT;
        case -ELOOP:
                return asprintf(reterr, "The %s %s is, or passes through, a symbolic link; give the real path.", what,
                                path), -ELOOP;
        case -EACCES:
        case -EPERM:
                return asprintf(reterr, "You cannot access the %s %s.", what, path), -EACCES;
        case -ENOTDIR:
                return asprintf(reterr, "The %s %s is not a directory.", what, path), -ENOTDIR;
        default:
                return asprintf(reterr, "Cannot open the %s %s: %s.", what, path, strerror(-fd)), fd;
        }
}

/* In the worker: sends v to the daemon and waits for its answer, whose error_key, when set, is
 * the daemon's refusal. */
static int ask_daemon(WorkerContext *w, JsonVariant *v, const char *error_key, char **reterr) {
        _cleanup_json_ JsonVariant *answer = NULL;
        int r = worker_child_send(w->sock, v);
        if (r >= 0)
                r = worker_child_recv(w->sock, &answer);
        if (r < 0)
                return r;
        const char *e = json_string(json_object_get(answer, error_key));
        if (e) {
                *reterr = strdup(e);
                return -EIO;
        }
        return 0;
}

/* In the worker: the checkpoint is complete; the daemon records it before CRIU stops the process. */
static int dump_committed(const DumpResult *res, void *userdata, char **reterr) {
        WorkerContext *w = userdata;
        _cleanup_json_ JsonVariant *v = NULL, *o = NULL;
        int r = json_new_object(&v);
        if (r >= 0)
                r = json_new_object(&o);
        if (r >= 0)
                r = json_object_set_string(o, "path", res->path);
        if (r >= 0)
                r = json_object_set_unsigned(o, "size", res->size);
        if (r >= 0)
                r = json_object_set_unsigned(o, "time_usec", res->time_usec);
        if (r >= 0)
                r = json_object_set_string(o, "checksum", res->metadata_checksum);
        if (r >= 0)
                r = json_object_set(v, "committed", TAKE_PTR(o));
        return r < 0 ? r : ask_daemon(w, v, "record_error", reterr);
}

static int dump_worker(int sock, void *userdata) {
        Operation *op = userdata;
        WorkerContext w = { .op = op, .sock = sock };
        _cleanup_free_ char *err = NULL;
        int r;

        _cleanup_close_ int dir_fd = op->dir_fd >= 0 ? TAKE_FD(op->dir_fd)
                                                     : open_as_caller(&op->caller, op->dir_path, O_RDONLY | O_DIRECTORY,
                                                                      "directory", &err);
        if (dir_fd < 0)
                return send_json_error(sock, dir_fd, err), EXIT_FAILURE;
        const char *reason = NULL;
        r = checkpoint_dir_check(dir_fd, &reason);
        if (r < 0) {
                (void) asprintf(&err, "Checkpoints cannot be written to %s (%s); choose another --dir.", op->dir_path,
                                reason ?: strerror(-r));
                return send_json_error(sock, -EPERM, err), EXIT_FAILURE;
        }

        DumpRequest req = {
                .type = op->type,
                .job = op->job_name,
                .pid = op->pid,
                .pidfd = op->pidfd,
                .caller = op->caller,
                .owner = op->owner,
                .dir_fd = dir_fd,
                .name = op->name,
                .staging_name = op->staging_name,
                .partial_name = op->partial_name,
                .options = &op->dump_options,
                .criu_binary = op->manager->config.criu_binary,
                .criu_version = op->manager->criu_version,
                .criu_log_level = op->manager->config.criu_log_level,
                .log_dir_fd = op->criu_log_fd,
                .log_name = "dump.log",
                .committed = dump_committed,
                .progress = worker_progress,
                .userdata = &w,
        };
        /* Success was reported through dump_committed() already: the exit status says the rest. */
        DumpResult res = {};
        r = checkpoint_dump(&req, &res, &err);
        dump_result_done(&res);
        if (r < 0)
                return send_json_error(sock, r, err ?: strerror(-r)), EXIT_FAILURE;
        return EXIT_SUCCESS;
}

static int restore_before_resume(const pid_t *pids, size_t n, void *userdata, char **reterr) {
        WorkerContext *w = userdata;
        _cleanup_json_ JsonVariant *v = NULL, *a = NULL;
        int r = json_new_object(&v);
        if (r >= 0)
                r = json_new_array(&a);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                JsonVariant *p;
                r = json_new_unsigned((uint64_t) pids[i], &p);
                if (r >= 0)
                        r = json_array_append(a, p);
        }
        if (r >= 0)
                r = json_object_set(v, "scope", TAKE_PTR(a));
        /* The tree stays stopped until the daemon has put it into its scope. */
        return r < 0 ? r : ask_daemon(w, v, "scope_error", reterr);
}

static void copy_log(int log_dir_fd, const char *name, int to_fd) {
        _cleanup_close_ int fd = openat(log_dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        char buf[65536];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
                if (loop_write(to_fd, buf, (size_t) n) < 0)
                        break;
}

static int restore_worker(int sock, void *userdata) {
        Operation *op = userdata;
        WorkerContext w = { .op = op, .sock = sock };
        _cleanup_free_ char *err = NULL;
        int r;

        _cleanup_close_ int source_fd = op->source_fd >= 0
                                                ? TAKE_FD(op->source_fd)
                                                : open_as_caller(&op->caller, op->source_path, O_RDONLY, "checkpoint", &err);
        if (source_fd < 0)
                return send_json_error(sock, source_fd, err), EXIT_FAILURE;

        /* Archives are extracted into a directory of the daemon's, owned by the owner CRIU runs as. */
        _cleanup_free_ char *staging_name = NULL;
        _cleanup_close_ int staging_fd = -EBADF;
        r = mkdtemp_at(op->manager->state_dir_fd, "staging-", &staging_name, &staging_fd);
        if (r >= 0 && fchown(staging_fd, op->owner.uid, op->owner.gid) < 0)
                r = negative_errno();
        if (r < 0)
                return send_json_error(sock, r, "Failed to create a staging directory for the restore."), EXIT_FAILURE;

        bool attached = false;
        RestoreRequest req = {
                .source_fd = source_fd,
                .caller = op->caller,
                .owner = op->owner,
                .options = &op->restore_options,
                .staging_fd = staging_fd,
                .criu_binary = op->manager->config.criu_binary,
                .criu_log_level = op->manager->config.criu_log_level,
                .log_dir_fd = op->criu_log_fd,
                .log_name = "restore.log",
                .max_archive_bytes = op->manager->config.max_restore_bytes,
                .attach_stdin_fd = op->pipes.job_stdin,
                .attach_stdout_fd = op->pipes.job_stdout,
                .ret_attached = &attached,
                .before_resume = restore_before_resume,
                .progress = worker_progress,
                .userdata = &w,
        };
        pid_t pid = 0;
        r = checkpoint_restore(&req, &pid, &err);
        (void) rm_rf_at(op->manager->state_dir_fd, staging_name);
        if (op->log_fd >= 0)
                copy_log(op->criu_log_fd, "restore.log", op->log_fd);
        if (r < 0)
                return send_json_error(sock, r, err ?: strerror(-r)), EXIT_FAILURE;

        _cleanup_json_ JsonVariant *v = NULL, *o = NULL;
        r = json_new_object(&v);
        if (r >= 0)
                r = json_new_object(&o);
        if (r >= 0)
                r = json_object_set_unsigned(o, "pid", (uint64_t) pid);
        if (r >= 0)
                r = json_object_set_boolean(o, "attached", attached);
        if (r >= 0)
                r = json_object_set(v, "result", TAKE_PTR(o));
        if (r >= 0)
                r = worker_child_send(sock, v);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- daemon side ---- */

static const char *error_name_for_errno(int error) {
        switch (abs(error)) {
        case EEXIST:
                return BUS_ERROR_CHECKPOINT_EXISTS;
        case ESRCH:
                return BUS_ERROR_NO_SUCH_PROCESS;
        case ENOSPC:
        case EDQUOT:
                return BUS_ERROR_NO_SPACE;
        case ECHILD:
                return BUS_ERROR_CRIU_FAILED;
        case EOPNOTSUPP:
                return BUS_ERROR_GPU_NOT_SUPPORTED;
        case EBADMSG:
        case EFBIG:
                return BUS_ERROR_CHECKPOINT_CORRUPT;
        case EMEDIUMTYPE:
        case EPROTONOSUPPORT:
                return BUS_ERROR_UNSUPPORTED_FORMAT;
        case EACCES:
        case ELOOP:
                return BUS_ERROR_PATH_NOT_ALLOWED;
        case EPERM:
                return BUS_ERROR_NOT_PERMITTED;
        case ENOENT:
        case ENOTDIR:
                return SD_BUS_ERROR_FILE_NOT_FOUND;
        default:
                return SD_BUS_ERROR_FAILED;
        }
}

static void on_scope_started(Manager *m, int error, const char *message, void *userdata) {
        Operation *op = userdata;
        _cleanup_json_ JsonVariant *v = NULL;
        if (json_new_object(&v) < 0)
                return;
        if (error < 0)
                (void) json_object_set_string(v, "scope_error", message);
        else
                (void) json_object_set_boolean(v, "scope_ok", true);
        if (op->worker)
                (void) worker_send(op->worker, v);
}

static void operation_forget_staging(Operation *op);

/* The dump's checkpoint is complete on disk: recorded, with the staging names forgotten and
 * the job marked as about to halt, in one transaction, before CRIU stops the process. */
static int record_checkpoint(Operation *op, JsonVariant *v) {
        Manager *m = op->manager;
        const char *s;
        if ((s = json_string(json_object_get(v, "path"))) && !(op->result_path = strdup(s)))
                return -ENOMEM;
        if ((s = json_string(json_object_get(v, "checksum"))) && !(op->result_checksum = strdup(s)))
                return -ENOMEM;
        (void) json_get_unsigned(json_object_get(v, "size"), &op->result_size);
        (void) json_get_unsigned(json_object_get(v, "time_usec"), &op->result_time_usec);
        if (!op->result_path)
                return -EBADMSG;

        CheckpointRecord rec = {
                .id = op->name,
                .job = op->job ? op->job->id : NULL,
                .uid = op->caller.uid,
                .path = op->result_path,
                .time_usec = op->result_time_usec,
                .size = op->result_size,
                .compression = (char *) compression_to_string(op->dump_options.compression),
                .pid = op->pid,
                .metadata_checksum = op->result_checksum,
        };
        int r = jobstore_begin(m->store);
        if (r < 0)
                return r;
        r = jobstore_add_checkpoint(m->store, &rec);
        if (r >= 0) {
                operation_forget_staging(op);
                if (op->job && !op->dump_options.leave_running) {
                        op->job->halt_pending = true;
                        r = job_save(op->job);
                }
        }
        if (r >= 0)
                r = jobstore_commit(m->store);
        if (r < 0) {
                jobstore_rollback(m->store);
                if (op->job)
                        op->job->halt_pending = false;
                return r;
        }
        op->recorded = true;
        if (op->job)
                job_set_last_checkpoint(op->job, op->name, op->result_time_usec, op->result_size);
        return 0;
}

static int on_worker_message(Worker *w, JsonVariant *msg, void *userdata) {
        Operation *op = userdata;
        JsonVariant *v;
        if (!op)
                return 0;

        if ((v = json_object_get(msg, "progress"))) {
                uint64_t done = 0, total = 0;
                (void) json_get_unsigned(json_object_get(v, "done"), &done);
                (void) json_get_unsigned(json_object_get(v, "total"), &total);
                const char *phase = json_string(json_object_get(v, "phase"));
                manager_send_progress(op->manager, op->call, op->restore ? op->job_name : op->name,
                                      phase ?: "working", done, total);
        } else if ((v = json_object_get(msg, "scope"))) {
                size_t n = json_elements(v);
                _cleanup_free_ pid_t *pids = calloc(n ?: 1, sizeof(pid_t));
                if (!pids)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        uint64_t p = 0;
                        if (json_get_unsigned(json_array_get(v, i), &p) < 0 || p == 0 || p > INT32_MAX)
                                return -EBADMSG;
                        pids[i] = (pid_t) p;
                }
                if (!op->manager->bus) {
                        /* No systemd to ask: the job runs without a scope. */
                        on_scope_started(op->manager, 0, NULL, op);
                        return 0;
                }
                int r = scope_name_for_job(op->job_name, &op->unit);
                if (r >= 0) {
                        _cleanup_free_ char *desc = NULL;
                        if (asprintf(&desc, "cedana job %s", op->job_name) < 0)
                                return -ENOMEM;
                        r = scope_start(op->manager, op->unit, desc, pids, n, on_scope_started, op);
                }
                if (r < 0) {
                        _cleanup_free_ char *m = NULL;
                        (void) asprintf(&m, "Failed to create scope %s: %s.", strna(op->unit), strerror(-r));
                        on_scope_started(op->manager, r, m, op);
                }
        } else if ((v = json_object_get(msg, "committed"))) {
                int r = record_checkpoint(op, v);
                _cleanup_json_ JsonVariant *a = NULL;
                if (json_new_object(&a) < 0)
                        return -ENOMEM;
                if (r < 0) {
                        log_ctx_errno(LOG_ERR, r, LOG_CTX(.checkpoint = op->name), "Failed to record checkpoint %s: %m",
                                      op->name);
                        (void) json_object_set_string(a, "record_error",
                                                      "The checkpoint could not be recorded in cedanad's job store; "
                                                      "it was removed again and the process keeps running.");
                } else
                        (void) json_object_set_boolean(a, "recorded", true);
                (void) worker_send(op->worker, a);
        } else if ((v = json_object_get(msg, "error"))) {
                int64_t e = -EIO;
                (void) json_get_integer(json_object_get(v, "errno"), &e);
                op->error = (int) e;
                free(op->error_message);
                op->error_message = strdup(json_string(json_object_get(v, "message")) ?: "Unknown error.");
        } else if ((v = json_object_get(msg, "result"))) {
                uint64_t u = 0;
                if (json_get_unsigned(json_object_get(v, "pid"), &u) >= 0)
                        op->result_pid = (pid_t) u;
                (void) json_get_boolean(json_object_get(v, "attached"), &op->result_attached);
        }
        return 0;
}

static void operation_forget_staging(Operation *op) {
        if (!op->staging_name)
                return;
        (void) jobstore_remove_staging(op->manager->store, op->dir_path, op->staging_name);
        (void) jobstore_remove_staging(op->manager->store, op->dir_path, op->partial_name);
}

static int finish_dump(Operation *op) {
        Manager *m = op->manager;
        char what[128];
        if (op->job)
                snprintf(what, sizeof(what), "job %s", op->job->id);
        else
                snprintf(what, sizeof(what), "process %i", (int) op->pid);
        if (op->job) {
                op->job->halt_pending = false;
                if (!op->dump_options.leave_running)
                        job_set_state(op->job, JOB_HALTED, -1);
        }
        log_ctx(LOG_INFO,
                LOG_CTX(.message_id = MESSAGE_ID_CHECKPOINT_WRITTEN, .job = op->job ? op->job->id : NULL, .checkpoint = op->name, .pid = op->pid),
                "Checkpoint %s of %s written to %s (%" PRIu64 " bytes; worker peak RSS %" PRIu64 " KiB).", op->name,
                what, op->result_path, op->result_size, op->worker_max_rss_kib);
        manager_send_checkpoint_new(m, op->job ? op->job->id : "", op->name, op->result_path);
        return sd_bus_reply_method_return(op->call, "sst", op->name, op->result_path, op->result_size);
}

static int finish_restore(Operation *op) {
        Manager *m = op->manager;
        Job *j = op->job;
        bool created = !j;
        if (!j) {
                int r = job_new(m, op->job_name, &j);
                if (r < 0)
                        return r;
                j->uid = op->caller.uid;
                op->job = j;
                op->new_job = false;
        }
        j->pid = op->result_pid;
        (void) process_start_time(j->pid, &j->pid_start_time);
        free(j->unit);
        j->unit = TAKE_PTR(op->unit);
        j->exit_status = -1;
        j->state = JOB_UNKNOWN; /* so that set_state below saves and announces */
        int r = job_watch(j);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id), "Failed to watch job %s: %m", j->id);
        if (op->result_attached) {
                r = job_attach_take(j, &op->pipes);
                if (r < 0)
                        log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id), "Failed to attach to job %s: %m", j->id);
        } else
                j->attach = false;
        job_set_state(j, JOB_RUNNING, -1);
        if (created)
                job_announce(j);
        log_ctx(LOG_INFO,
                LOG_CTX(.message_id = MESSAGE_ID_JOB_RESTORED, .job = j->id, .unit = j->unit, .pid = j->pid),
                "Restored %s as job %s (PID %i) in %s.", strna(op->source_path), j->id, (int) j->pid,
                strna(j->unit));
        return sd_bus_reply_method_return(op->call, "su", j->id, (uint32_t) j->pid);
}

static void on_worker_exit(Worker *w, int status, void *userdata) {
        Operation *op = userdata;
        if (!op)
                return;
        op->worker = NULL;
        op->worker_max_rss_kib = w->max_rss_kib;
        Manager *m = op->manager;
        /* A recorded checkpoint is a done dump, whatever happened afterwards. */
        bool ok = (op->error == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                   (op->restore ? op->result_pid > 0 : op->result_path != NULL)) ||
                  (!op->restore && op->recorded);
        if (!ok && op->error == 0) {
                op->error = -EIO;
                free(op->error_message);
                op->error_message = NULL;
                (void) asprintf(&op->error_message, "The %s worker of cedanad died unexpectedly (%s %i).",
                                op->restore ? "restore" : "dump", WIFSIGNALED(status) ? "signal" : "status",
                                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }

        /* Forgetting the staging names, recording the checkpoint and the job's new state: one
         * transaction, so the store never holds half of it. */
        bool tx = jobstore_begin(m->store) >= 0;
        operation_forget_staging(op);
        int r;
        if (ok) {
                r = op->restore ? finish_restore(op) : finish_dump(op);
                if (op->criu_log_dir)
                        (void) rm_rf_at(m->log_dir_fd, op->criu_log_dir);
        } else {
                log_ctx(LOG_ERR,
                        LOG_CTX(.message_id = op->restore ? MESSAGE_ID_RESTORE_FAILED : MESSAGE_ID_DUMP_FAILED, .job = op->job ? op->job->id : op->job_name, .checkpoint = op->name, .pid = op->pid),
                        "%s", op->error_message);
                r = sd_bus_reply_method_errorf(op->call, error_name_for_errno(op->error), "%s", op->error_message);
        }
        if (tx && jobstore_commit(m->store) < 0)
                jobstore_rollback(m->store);
        /* Exits of a busy job were ignored: a job that still counts as running is watched anew,
         * which also notices at once if it died meanwhile. */
        if (op->job && op->job->busy == op) {
                op->job->busy = NULL;
                if (op->job->state == JOB_RUNNING)
                        (void) job_watch(op->job);
        }
        if (r < 0)
                log_debug_errno(r, "Failed to reply (the caller may be gone): %m");
        operation_free(op);
        manager_check_idle(m);
}

/* A directory for CRIU's log that the owner (CRIU's uid) can write, below log_dir/criu. */
static int operation_make_log_dir(Operation *op) {
        Manager *m = op->manager;
        if (mkdirat(m->log_dir_fd, "criu", 0755) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int criu_fd = openat(m->log_dir_fd, "criu", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (criu_fd < 0)
                return negative_errno();
        _cleanup_free_ char *prefix = NULL, *name = NULL;
        if (asprintf(&prefix, "%s-", op->restore ? op->job_name : op->name) < 0)
                return -ENOMEM;
        int r = mkdtemp_at(criu_fd, prefix, &name, &op->criu_log_fd);
        if (r < 0)
                return r;
        if (fchown(op->criu_log_fd, op->owner.uid, op->owner.gid) < 0)
                return negative_errno();
        if (asprintf(&op->criu_log_dir, "criu/%s", name) < 0)
                return -ENOMEM;
        return 0;
}

static int make_staging_names(Operation *op) {
        char suffix[9];
        int r = random_alnum(suffix, sizeof(suffix));
        if (r < 0)
                return r;
        if (asprintf(&op->staging_name, ".cedana-staging-%s-%s", op->name, suffix) < 0 ||
            asprintf(&op->partial_name, ".%s%s.partial-%s", op->name, compression_suffix(op->dump_options.compression),
                     suffix) < 0)
                return -ENOMEM;
        /* Recorded before anything is created: a crash at any later point is cleaned up at the
         * next start. */
        JobStore *s = op->manager->store;
        r = jobstore_begin(s);
        if (r >= 0)
                r = jobstore_add_staging(s, op->dir_path, op->staging_name, op->caller.uid);
        if (r >= 0)
                r = jobstore_add_staging(s, op->dir_path, op->partial_name, op->caller.uid);
        if (r >= 0)
                r = jobstore_commit(s);
        if (r < 0)
                jobstore_rollback(s);
        return r;
}

int operation_start(Operation *op, sd_bus_error *error) {
        Manager *m = op->manager;
        int r;
        (void) manager_criu_version(m); /* known in the worker, which cannot ask us */
        if (!op->restore) {
                r = make_staging_names(op);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to record the dump in the job store: %s",
                                                       strerror(-r));
        }
        r = operation_make_log_dir(op);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to create a log directory for CRIU in %s: %s",
                                               m->log_dir, strerror(-r));

        int keep[] = { op->pidfd, op->dir_fd, op->source_fd, op->log_fd, op->criu_log_fd, m->state_dir_fd,
                       op->pipes.job_stdin, op->pipes.job_stdout };
        int keep_valid[ELEMENTSOF(keep)];
        size_t n_keep = 0;
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                if (keep[i] >= 0)
                        keep_valid[n_keep++] = keep[i];

        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "%s %s", op->restore ? "restore" : "dump", op->restore ? op->job_name : op->name) < 0)
                return sd_bus_error_set_errno(error, -ENOMEM);
        r = worker_spawn(m, desc, keep_valid, n_keep, op->restore ? restore_worker : dump_worker, op,
                         on_worker_message, on_worker_exit, op, &op->worker);
        if (r < 0) {
                operation_forget_staging(op);
                return sd_bus_error_set_errnof(error, r, "Failed to start a worker: %s", strerror(-r));
        }
        /* The worker has its own copies of the job's ends now. */
        op->pipes.job_stdin = safe_close(op->pipes.job_stdin);
        op->pipes.job_stdout = safe_close(op->pipes.job_stdout);
        if (op->job)
                op->job->busy = op;
        return 0;
}
