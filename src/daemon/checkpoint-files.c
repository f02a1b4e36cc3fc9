/* SPDX-License-Identifier: Apache-2.0 */
/* Deleting checkpoints' files and reconciling interrupted dumps, in a worker; the records are
 * changed by the daemon as each one is reported done. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "bus-error.h"
#include "checkpoint-files.h"
#include "dump-operation.h"
#include "fd-util.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "message.h"
#include "operation.h"
#include "path-util.h"
#include "remote.h"
#include "strv.h"

typedef struct FilesWork {
        FilesMode mode;
        Identity as;
        CheckpointRecord *records;
        size_t n;
        FilesDone done;
        void *done_userdata;
        int error;
        char *message;
        char **removed;
} FilesWork;

/* ---- worker side ---- */

/* The directory a record's path is in, opened without following symlinks, and the name. */
static int open_parent(const char *path, int *ret_fd, const char **ret_name) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || slash[1] == 0)
                return -EINVAL;
        *ret_name = path + (slash - dir) + 1;
        if (slash == dir)
                slash[1] = 0;
        else
                *slash = 0;
        int fd = open_nofollow(dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

/* What open_parent() says when a record's directory is no longer there: removed, or replaced by
 * a file or a symlink (cedana never writes through one), so nothing of the record is left there. */
static bool directory_gone(int r) {
        return r == -ENOENT || r == -ENOTDIR || r == -ELOOP;
}

/* Removes name below dir_fd if it is something an interrupted dump of c's made: owned by the
 * checkpoint's owner or by the dumped process's owner. Anything else there is somebody else's. */
static int remove_leftover(const CheckpointRecord *c, int dir_fd, const char *name) {
        struct stat st;
        if (!name)
                return 0;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (st.st_uid != c->uid && st.st_uid != c->process_uid)
                return 0;
        int r = rm_rf_at(dir_fd, name);
        if (r >= 0)
                log_info("Removed %s of an interrupted dump in the directory of %s.", name, c->path);
        return r;
}

/* An upload is complete only once recorded so: its local files were in a scratch directory the
 * start removes anyway, and the parts it had sent are aborted. (An object completed just before
 * a crash stays, unrecorded.) */
static RecordAction reconcile_object(Manager *m, const CheckpointRecord *c, char **reterr) {
        _cleanup_(s3_config_done) S3Config s3 = {};
        _cleanup_free_ char *bucket = NULL, *key = NULL;
        int r = manager_s3_config(m, &s3, reterr);
        if (r == 0 && s3_url_parse(c->path, &bucket, &key) == 0)
                r = s3_abort_uploads(&s3, bucket, key, reterr);
        if (r != 0)
                log_warning("Could not look for unfinished uploads of %s: %s", c->path, strna(*reterr));
        *reterr = mfree(*reterr);
        return RECORD_FORGET;
}

static RecordAction reconcile_files(const CheckpointRecord *c, char **reterr) {
        _cleanup_close_ int dir_fd = -EBADF;
        const char *final;
        int r = open_parent(c->path, &dir_fd, &final);
        if (directory_gone(r))
                return RECORD_FORGET;
        if (r < 0) {
                message_set(reterr, r, "Cannot open the directory of %s: %s.", c->path, strerror(-r));
                return RECORD_KEEP;
        }
        RecordAction action = RECORD_FORGET;
        struct stat st;
        /* Synced and published before cedanad died: complete, exactly as recorded. */
        if (c->state == CHECKPOINT_SYNCED && c->ino != 0 && fstatat(dir_fd, final, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
            (uint64_t) st.st_dev == c->dev && (uint64_t) st.st_ino == c->ino)
                action = RECORD_COMPLETE;
        r = remove_leftover(c, dir_fd, c->staging_name);
        if (r >= 0)
                r = remove_leftover(c, dir_fd, c->partial_name);
        if (r < 0) {
                message_set(reterr, r, "Cannot remove what an interrupted dump left in the directory of %s: %s.",
                            c->path, strerror(-r));
                return RECORD_KEEP;
        }
        return action;
}

/* As `as`, so that only what the caller could delete itself is deleted, and only while the path
 * still is what was recorded: a file swapped in since is somebody else's, and stays. */
static RecordAction delete_files(const CheckpointRecord *c, const Identity *as, char **reterr) {
        int r = identity_set_fs(as);
        if (r < 0) {
                message_set(reterr, r, "Failed to act as user %u: %s.", (unsigned) as->uid, strerror(-r));
                return RECORD_KEEP;
        }
        _cleanup_close_ int dir_fd = -EBADF;
        const char *final;
        RecordAction action = RECORD_FORGET;
        struct stat st;
        r = open_parent(c->path, &dir_fd, &final);
        if (r >= 0 && fstatat(dir_fd, final, &st, AT_SYMLINK_NOFOLLOW) < 0)
                r = negative_errno();
        if (directory_gone(r))
                r = 0; /* gone already: only the record is left to forget */
        else if (r >= 0 && c->ino != 0 && ((uint64_t) st.st_dev != c->dev || (uint64_t) st.st_ino != c->ino))
                log_notice("Not deleting %s: it is no longer the checkpoint cedana wrote there.", c->path);
        else if (r >= 0)
                r = rm_rf_at(dir_fd, final);
        if (r == -EACCES || r == -EPERM) {
                message_set(reterr, CEDANA_E_ACCESS_DENIED, "You cannot delete %s.", c->path);
                action = RECORD_KEEP;
        } else if (r < 0) {
                message_set(reterr, r, "Failed to delete %s: %s.", c->path, strerror(-r));
                action = RECORD_KEEP;
        }
        (void) identity_reset_fs();
        return action;
}

/* The object, as root: the record is the caller's (the daemon checked), the credentials cedanad's. */
static RecordAction delete_object(Manager *m, const CheckpointRecord *c, char **reterr) {
        _cleanup_(s3_config_done) S3Config s3 = {};
        _cleanup_free_ char *bucket = NULL, *key = NULL;
        int r = manager_s3_config(m, &s3, reterr);
        if (r == 0 && s3_url_parse(c->path, &bucket, &key) < 0)
                r = message_set(reterr, CEDANA_E_INVALID_ARGS, "%s is not an s3:// URL cedana can use.", c->path);
        if (r == 0)
                r = s3_delete(&s3, bucket, key, reterr);
        if (r == CEDANA_E_NO_SUCH_FILE) {
                /* Gone already: only the record is left to forget. */
                *reterr = mfree(*reterr);
                r = 0;
        }
        return r == 0 ? RECORD_FORGET : RECORD_KEEP;
}

static int files_worker(int sock, void *userdata) {
        Operation *op = userdata;
        FilesWork *w = op->userdata;
        _cleanup_free_ WorkerMessage *msg = calloc(1, sizeof(WorkerMessage));
        if (!msg)
                return EXIT_FAILURE;
        for (size_t i = 0; i < w->n; i++) {
                const CheckpointRecord *c = &w->records[i];
                _cleanup_free_ char *err = NULL;
                bool remote = s3_url_is(c->path);
                RecordAction a = w->mode != FILES_DELETE ? (remote ? reconcile_object(op->manager, c, &err)
                                                                   : reconcile_files(c, &err))
                                 : remote ? delete_object(op->manager, c, &err)
                                          : delete_files(c, &w->as, &err);
                *msg = (WorkerMessage) { .type = WM_RECORD_DONE };
                msg->record.uid = c->uid;
                snprintf(msg->record.id, sizeof(msg->record.id), "%s", c->id);
                msg->record.action = a;
                msg->record.code = a == RECORD_KEEP ? CEDANA_E_ACCESS_DENIED : 0;
                snprintf(msg->record.message, sizeof(msg->record.message), "%s", strempty(err));
                if (worker_child_send(sock, msg) < 0)
                        return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* ---- daemon side ---- */

static const char *const record_status_table[_RECORD_STATUS_MAX] = {
        [RECORD_STATUS_OK] = "ok",
        [RECORD_STATUS_MISSING] = "missing",
        [RECORD_STATUS_CHANGED] = "changed",
        [RECORD_STATUS_UNKNOWN] = "unknown",
        [RECORD_STATUS_REMOTE] = "remote",
};

const char *record_status_to_string(RecordStatus s) {
        return s >= 0 && s < _RECORD_STATUS_MAX ? record_status_table[s] : NULL;
}

RecordStatus checkpoint_record_status(const CheckpointRecord *c) {
        if (s3_url_is(c->path))
                return RECORD_STATUS_REMOTE;
        struct statx sx;
        if (statx(AT_FDCWD, c->path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_INO, &sx) < 0)
                return errno == ENOENT || errno == ENOTDIR ? RECORD_STATUS_MISSING : RECORD_STATUS_UNKNOWN;
        if (c->ino != 0 && (sx.stx_ino != c->ino || makedev(sx.stx_dev_major, sx.stx_dev_minor) != c->dev))
                return RECORD_STATUS_CHANGED;
        return RECORD_STATUS_OK;
}

static const CheckpointRecord *find_record(FilesWork *w, uid_t uid, const char *id) {
        for (size_t i = 0; i < w->n; i++)
                if (w->records[i].uid == uid && streq(w->records[i].id, id))
                        return &w->records[i];
        return NULL;
}

static int apply(Manager *m, const CheckpointRecord *c, RecordAction a) {
        int r = 0;
        if (a == RECORD_FORGET) {
                r = jobstore_delete_checkpoint(m->store, c->uid, c->id);
                if (r >= 0 && c->state == CHECKPOINT_COMPLETE)
                        log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_CHECKPOINT_REMOVED, .job = c->job, .checkpoint = c->id),
                                "Deleted checkpoint %s (%s).", c->id, c->path);
        } else if (a == RECORD_COMPLETE) {
                CheckpointRecord done = *c;
                done.state = CHECKPOINT_COMPLETE;
                done.staging_name = done.partial_name = NULL;
                r = jobstore_update_checkpoint(m->store, &done);
                if (r >= 0)
                        log_ctx(LOG_NOTICE, LOG_CTX(.job = c->job, .checkpoint = c->id),
                                "Checkpoint %s (%s) was complete when its dump was interrupted; it is recorded now.",
                                c->id, c->path);
        }
        Job *j = c->job ? manager_get_job(m, c->job_uid, c->job) : NULL;
        if (j)
                job_refresh_last_checkpoint(j);
        return r;
}

static int files_on_message(Operation *op, const WorkerMessage *msg) {
        FilesWork *w = op->userdata;
        if (msg->type != WM_RECORD_DONE)
                return -EBADMSG;
        const CheckpointRecord *c = find_record(w, msg->record.uid, msg->record.id);
        if (!c)
                return -EBADMSG;
        int r = apply(op->manager, c, (RecordAction) msg->record.action);
        if (r >= 0 && msg->record.action == RECORD_FORGET)
                (void) strv_extend(&w->removed, c->id);
        if (msg->record.action == RECORD_KEEP || r < 0) {
                if (!w->message) {
                        w->error = msg->record.action == RECORD_KEEP ? msg->record.code : r;
                        w->message = strdup(msg->record.action == RECORD_KEEP ? msg->record.message
                                                                               : "Failed to update the job store.");
                }
                log_ctx(LOG_WARNING, LOG_CTX(.checkpoint = c->id), "Checkpoint %s: %s", c->id,
                        msg->record.action == RECORD_KEEP ? msg->record.message : strerror(-r));
        }
        return 0;
}

static void files_on_exit(Operation *op, int status, const WorkerUsage *usage) {
        FilesWork *w = op->userdata;
        if (w->error == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                w->error = -EIO;
                w->message = strdup("The worker deleting the files died unexpectedly.");
        }
        int r = w->done ? w->done(op, w->error, w->message, w->removed, w->done_userdata) : 0;
        if (r <= 0 && op->call && w->error != 0) {
                operation_fail(op, w->error, w->message);
                return;
        }
        if (r <= 0 && op->call)
                (void) sd_bus_reply_method_return(op->call, NULL);
        operation_free(op);
}

static void files_free(Operation *op) {
        FilesWork *w = op->userdata;
        if (!w)
                return;
        identity_done(&w->as);
        checkpoint_records_free(w->records, w->n);
        free(w->message);
        strv_free(w->removed);
        free(w);
}

int checkpoint_files_start(Manager *m, FilesMode mode, sd_bus_message *call, const Identity *as,
                           CheckpointRecord *records, size_t n, FilesDone done, void *done_userdata,
                           sd_bus_error *error) {
        _cleanup_(operation_freep) Operation *op = NULL;
        int r = operation_new(m, mode == FILES_DELETE ? OPERATION_DELETE : OPERATION_RECONCILE, call,
                              as ? as->uid : 0, error, &op);
        if (r < 0) {
                checkpoint_records_free(records, n);
                return r;
        }
        FilesWork *w = calloc(1, sizeof(FilesWork));
        if (!w) {
                checkpoint_records_free(records, n);
                return -ENOMEM;
        }
        *w = (FilesWork) { .mode = mode, .records = records, .n = n, .done = done, .done_userdata = done_userdata };
        op->userdata = w;
        op->on_free = files_free;
        op->on_message = files_on_message;
        op->on_exit = files_on_exit;
        if (as && (r = identity_copy(as, &w->as)) < 0)
                return r;
        r = operation_spawn(op, mode == FILES_DELETE ? "delete checkpoints" : "reconcile checkpoints", NULL, 0,
                            files_worker);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to start a worker: %s", strerror(-r));
        TAKE_PTR(op);
        return 1;
}

int checkpoint_files_reconcile_all(Manager *m) {
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = { .incomplete = true };
        int r = jobstore_list_checkpoints(m->store, &f, &list, &n);
        if (r < 0)
                return r;
        /* Records some operation still works on are its own business. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool busy = false;
                LIST_FOREACH(operations, op, m->operations)
                        busy = busy || (op->kind == OPERATION_DUMP && dump_operation_owns(op, list[i].uid, list[i].id));
                if (busy)
                        checkpoint_record_done(&list[i]);
                else
                        list[k++] = list[i];
        }
        if (k == 0) {
                free(list);
                return 0;
        }
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        r = checkpoint_files_start(m, FILES_RECONCILE, NULL, NULL, list, k, NULL, NULL, &error);
        return r < 0 ? r : 0;
}
