/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's half of a restore: opens the checkpoint as the job's owner (checking it is still
 * the file its record names), runs the restore, and hands the daemon the tree to put into its
 * scope while it is held stopped. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "archive-index.h"
#include "build-config.h"
#include "bus-error.h"
#include "checkpoint.h"
#include "codec.h"
#include "criu.h"
#include "criu-log.h"
#include "fd-util.h"
#include "manager.h"
#include "message.h"
#include "operation.h"
#include "path-util.h"
#include "remote.h"
#include "restore-operation-internal.h"
#include "s3.h"

typedef struct RestoreWorker {
        int sock;
        Operation *op;
        RestoreOperation *r;
        const AttachKind *attached; /* known before the tree exists */
} RestoreWorker;

static void send_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        RestoreWorker *w = userdata;
        worker_child_send_progress(w->sock, phase, done, total);
}

static bool is_cancelled(void *userdata) {
        RestoreWorker *w = userdata;
        return worker_child_cancelled(w->sock);
}

/* The tree is verified and held: the daemon puts it into its scope and records it. */
static int send_tree(const RestoredTree *tree, void *userdata, char **reterr) {
        RestoreWorker *w = userdata;
        if (tree->n_pids > WM_TREE_MAX)
                return message_set(reterr, CEDANA_E_LIMITS, "The checkpoint restores %zu processes; cedana takes at "
                                   "most %u.", tree->n_pids, (unsigned) WM_TREE_MAX);
        _cleanup_free_ WorkerMessage *m = calloc(1, sizeof(WorkerMessage));
        if (!m)
                return -ENOMEM;
        m->type = WM_TREE;
        if (tree->source_job && job_name_is_valid(tree->source_job))
                snprintf(m->tree.source_job, sizeof(m->tree.source_job), "%s", tree->source_job);
        m->tree.attached = (uint32_t) *w->attached;
        m->tree.n = (uint32_t) tree->n_pids;
        for (size_t i = 0; i < tree->n_pids; i++)
                m->tree.entries[i] = (WmTreeEntry) { .pid = tree->pids[i], .resume = tree->resume[i] };
        int r = worker_child_send(w->sock, m);
        if (r < 0)
                return r;
        return worker_child_wait_reply(w->sock, reterr);
}

static void on_downloaded(uint64_t done, uint64_t total, void *userdata) {
        send_progress("downloading", done, total, userdata);
}

/* What is fetched of an object first: its format and cedana.json (at most 256 KiB, stored as it is
 * at the archive's start), and then some. */
#define REMOTE_HEAD_SIZE ((uint64_t) 512 * 1024)

/* A checkpoint in an object store, and what reading it needs. */
typedef struct Remote {
        S3Config s3;
        char *bucket, *key, *etag;
        ArchiveSource source; /* when it is restored as it streams */
} Remote;

static void remote_done(Remote *r) {
        s3_config_done(&r->s3);
        free(r->bucket);
        free(r->key);
        free(r->etag);
}

/* Whether the object's beginning (in fd) is an archive cedana wrote with the place of every entry,
 * within the size allowed, which can be restored as it streams from the store. */
static bool streamable(int fd, uint64_t max_bytes) {
        Compression format;
        return codec_detect(fd, &format) >= 0 && format != COMPRESSION_NONE &&
               archive_streamable_metadata(fd, format, max_bytes, NULL, NULL) > 0;
}

/* An object: restored as it streams when cedana wrote it (*ret_fd then holds its beginning, where
 * its format and cedana.json are, and rm->source says where the rest is); anything else is
 * downloaded into a file only this worker has (an O_TMPFILE in the staging directory, gone with
 * the worker) and then read like any archive. Either way verified as it is read. */
static int remote_source(RestoreWorker *w, Remote *rm, int *ret_fd, char **reterr) {
        RestoreOperation *r = w->r;
        Manager *m = w->op->manager;
        int k = manager_s3_config(m, &rm->s3, reterr);
        if (k != 0)
                return k;
        if (s3_url_parse(r->spec.source_path, &rm->bucket, &rm->key) < 0)
                return message_set(reterr, CEDANA_E_INVALID_ARGS, "%s is not an s3:// URL cedana can use.",
                                   r->spec.source_path);
        _cleanup_close_ int head = memfd_create("cedana-object-head", MFD_CLOEXEC);
        if (head < 0)
                return negative_errno();
        k = s3_download_range_fd(&rm->s3, rm->bucket, rm->key, 0, REMOTE_HEAD_SIZE, NULL, head, &rm->etag, reterr);
        if (k != 0)
                return k;
        /* runc's CRIU, a service, cannot stream: a container's checkpoint is downloaded. */
        if (!r->spec.container && streamable(head, m->config.max_restore_bytes)) {
                rm->source = (ArchiveSource) { .fd = -EBADF, .s3 = &rm->s3, .bucket = rm->bucket, .key = rm->key,
                                               .etag = rm->etag };
                *ret_fd = TAKE_FD(head);
                return 0;
        }
        _cleanup_close_ int fd = openat(r->staging_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return message_set(reterr, negative_errno(), "Cannot make a file to download %s into: %m.",
                                   r->spec.source_path);
        k = s3_download_fd(&rm->s3, rm->bucket, rm->key, fd, m->config.max_restore_bytes, on_downloaded, w, reterr);
        if (k != 0)
                return k;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The checkpoint, as its owner: a path the owner cannot read is not restored for it. A recorded
 * one must still be the file that was published. */
static int open_source(const RestoreOperation *r, int *ret_fd, char **reterr) {
        const RestoreSpec *s = &r->spec;
        _cleanup_close_ int fd = -EBADF;
        if (s->source_fd >= 0)
                fd = RET_NERRNO(fcntl(s->source_fd, F_DUPFD_CLOEXEC, 3));
        else {
                int k = identity_set_fs(&s->owner);
                if (k < 0)
                        return k;
                fd = open_nofollow(s->source_path, O_RDONLY | O_NONBLOCK, 0);
                (void) identity_reset_fs();
        }
        const char *p = strna(s->source_path);
        switch (fd) {
        case -ENOENT:
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "The checkpoint %s does not exist.", p);
        case -ELOOP:
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED,
                                   "The checkpoint %s is, or passes through, a symbolic link; give the real path.", p);
        case -EACCES:
        case -EPERM:
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED, "You cannot access the checkpoint %s.", p);
        }
        if (fd < 0)
                return message_set(reterr, fd, "Cannot open the checkpoint %s: %s.", p, strerror(-fd));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (s->expected_ino != 0 && ((uint64_t) st.st_dev != s->expected_dev || (uint64_t) st.st_ino != s->expected_ino))
                return message_set(reterr, CEDANA_E_CHECKPOINT_CHANGED,
                                   "The checkpoint %s changed since it was written: it is not the file cedana "
                                   "recorded there; refused.", p);
        if (s->require_owned_file && st.st_uid != s->owner.uid)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CHANGED,
                                   "The checkpoint %s is no longer owned by the user who made it; refused.", p);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int restore_worker(int sock, void *userdata) {
        Operation *op = userdata;
        RestoreOperation *r = op->userdata;
        Manager *m = op->manager;
        AttachKind attached = ATTACH_NONE;
        RestoreWorker w = { .sock = sock, .op = op, .r = r, .attached = &attached };
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int source_fd = -EBADF;
        RestoredTree tree = {};
        CheckpointStats stats = {};
        bool job_log_used = false;
        _cleanup_free_ char *container_id = NULL;
        Runc rc = { .binary = m->config.runc_binary, .root = r->spec.runc_root, .criu = m->config.criu_binary };
        Containerd cd = {
                .address = m->config.containerd_address,
                .namespace = r->spec.containerd_namespace,
                .criu_config = CRIU_RUNC_CONFIG,
                .criu_config_keep = CRIU_RUNC_KEEP_CONFIG,
        };

        _cleanup_(remote_done) Remote remote = {};
        int k = r->spec.source_fd < 0 && s3_url_is(r->spec.source_path) ? remote_source(&w, &remote, &source_fd, &err)
                                                                          : open_source(r, &source_fd, &err);
        if (k == 0) {
                RestoreRequest req = {
                        .source_fd = source_fd,
                        .remote = remote.source.s3 ? &remote.source : NULL,
                        .expected_digest = r->spec.expected_digest,
                        .owner = r->spec.owner,
                        .options = &r->spec.options,
                        .staging_fd = r->staging_fd,
                        .criu_binary = m->config.criu_binary,
                        .criu_log_level = m->config.criu_log_level,
                        .log_dir_fd = r->log_fd,
                        .log_name = "restore.log",
                        .max_archive_bytes = m->config.max_restore_bytes,
                        .timeout_sec = m->config.restore_timeout_sec,
                        .attach_stdin_fd = r->pipes.job_stdin,
                        .attach_stdout_fd = r->pipes.job_stdout,
                        .attach_tty_fd = r->pty.job_stdin,
                        .ret_attached = &attached,
                        .job_log_fd = r->job_log_fd,
                        .ret_job_log_used = &job_log_used,
                        .runc = r->spec.container && !r->spec.containerd ? &rc : NULL,
                        .containerd = r->spec.containerd ? &cd : NULL,
                        .container_id = r->spec.container_id,
                        .container_bundle = r->spec.container_bundle,
                        .ret_container_id = &container_id,
                        .before_resume = send_tree,
                        .progress = send_progress,
                        .cancelled = is_cancelled,
                        .ret_stats = &stats,
                        .userdata = &w,
                };
                k = checkpoint_restore(&req, &tree, &err);
        }
        if (r->spec.log_fd >= 0)
                criu_log_copy(r->log_fd, "restore.log", r->spec.log_fd);
        if (k != 0)
                (void) worker_child_send_status(sock, WM_FAILED, k, err ?: strerror(k < 0 ? -k : EIO));
        else {
                WorkerMessage st = { .type = WM_STATS, .stats = stats };
                (void) worker_child_send(sock, &st);
                WorkerMessage msg = { .type = WM_RESTORED };
                msg.restored.pid = tree.pids[0];
                msg.restored.attached = attached;
                msg.restored.job_log_used = job_log_used;
                struct rusage self, children;
                if (getrusage(RUSAGE_SELF, &self) >= 0 && getrusage(RUSAGE_CHILDREN, &children) >= 0) {
                        msg.restored.usage = worker_usage(&self);
                        msg.restored.usage.cpu_usec += worker_usage(&children).cpu_usec;
                }
                snprintf(msg.restored.container_id, sizeof(msg.restored.container_id), "%s", strempty(container_id));
                (void) worker_child_send(sock, &msg);
        }
        /* The daemon continues the tree; what is left here is cleaning up. */
        restored_tree_done(&tree);
        (void) rm_rf_at(m->state_dir_fd, r->staging_name);
        if (k == 0)
                criu_log_dir_remove(m, r->log_path);
        return k == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
