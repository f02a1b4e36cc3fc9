/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's half of a dump: opens the caller's directory as the caller, runs the dump and
 * asks the daemon to record each step of the commit before it takes the next. */

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-error.h"
#include "checkpoint.h"
#include "criu.h"
#include "criu-log.h"
#include "dump-operation-internal.h"
#include "fd-util.h"
#include "manager.h"
#include "message.h"
#include "operation.h"
#include "paused.h"
#include "path-util.h"
#include "remote.h"
#include "s3.h"

typedef struct DumpWorker {
        int sock;
        Operation *op;
} DumpWorker;

static void send_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        DumpWorker *w = userdata;
        worker_child_send_progress(w->sock, phase, done, total);
}

static bool is_cancelled(void *userdata) {
        DumpWorker *w = userdata;
        return worker_child_cancelled(w->sock);
}

/* Tells the daemon a step of the commit and waits until it has recorded it. */
static int ask_record(DumpWorker *w, WorkerMessageType type, const DumpResult *res, char **reterr) {
        _cleanup_free_ WorkerMessage *m = calloc(1, sizeof(WorkerMessage));
        if (!m)
                return -ENOMEM;
        m->type = type;
        snprintf(m->commit.final_name, sizeof(m->commit.final_name), "%s", res->final_name);
        m->commit.size = res->size;
        m->commit.image_size = res->image_size;
        m->commit.time_usec = res->time_usec;
        m->commit.dev = (uint64_t) res->dev;
        m->commit.ino = (uint64_t) res->ino;
        snprintf(m->commit.digest, sizeof(m->commit.digest), "%s", res->digest);
        int r = worker_child_send(w->sock, m);
        if (r < 0)
                return r;
        return worker_child_wait_reply(w->sock, reterr);
}

static int on_synced(const DumpResult *res, void *userdata, char **reterr) {
        return ask_record(userdata, WM_SYNCED, res, reterr);
}

static int on_published(const DumpResult *res, void *userdata, char **reterr) {
        return ask_record(userdata, WM_PUBLISHED, res, reterr);
}

/* The directory, as the caller: the caller must be allowed to write there, not cedanad. */
/* The caller's own default directory (Directory= with %u or %U), made on first use: its parents
 * root's (0755), only ever made or passed where nobody else can change them, and the directory
 * itself the caller's, private (0700). */
static int make_user_dir(const char *path, const Identity *owner) {
        _cleanup_close_ int fd = open_nofollow("/", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                bool last = !save || !*save;
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (!stat_only_root_writes(&st))
                        return -EPERM;
                mode_t mode = last ? 0700 : 0755;
                bool made = mkdirat(fd, c, mode) >= 0;
                if (!made && errno != EEXIST)
                        return negative_errno();
                int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return negative_errno();
                /* Whatever cedanad's umask: users must reach their own directory. */
                if (made && fchmod(next, mode) < 0) {
                        safe_close(next);
                        return negative_errno();
                }
                safe_close(fd);
                fd = next;
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* Ours, just made (or half made before a crash): the caller's now. */
        if (st.st_uid == 0 && owner->uid != 0 && fchown(fd, owner->uid, owner->gid) < 0)
                return negative_errno();
        return 0;
}

static int open_dir(const DumpOperation *d, int *ret_fd, char **reterr) {
        int fd;
        if (d->spec.dir_fd >= 0)
                fd = RET_NERRNO(fcntl(d->spec.dir_fd, F_DUPFD_CLOEXEC, 3));
        else {
                if (d->spec.dir_per_user) {
                        int r = make_user_dir(d->spec.dir_path, &d->spec.caller);
                        if (r == -EPERM)
                                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED,
                                                   "Cannot make your checkpoint directory %s: a directory above it "
                                                   "is not root's alone. Give --dir, or ask the administrator to "
                                                   "fix [Checkpoint] Directory=.", d->spec.dir_path);
                        if (r < 0)
                                return message_set(reterr, r, "Cannot make your checkpoint directory %s: %s.",
                                                   d->spec.dir_path, strerror(-r));
                }
                int r = identity_set_fs(&d->spec.caller);
                if (r < 0)
                        return r;
                fd = open_nofollow(d->spec.dir_path, O_RDONLY | O_DIRECTORY, 0);
                (void) identity_reset_fs();
        }
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        const char *p = d->spec.dir_path;
        switch (fd) {
        case -ENOENT:
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "The directory %s does not exist.", p);
        case -ELOOP:
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED,
                                   "The directory %s is, or passes through, a symbolic link; give the real path.", p);
        case -EACCES:
        case -EPERM:
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED, "You cannot access the directory %s.", p);
        case -ENOTDIR:
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "%s is not a directory.", p);
        default:
                return message_set(reterr, fd, "Cannot open the directory %s: %s.", p, strerror(-fd));
        }
}

/* An upload's archive is written into cedanad's own scratch directory first (removed by the next
 * start should this worker not live to remove it); the object store's settings and key. */
static int open_remote(Manager *m, const DumpOperation *d, S3Config *s3, char **bucket, char **key, char **scratch,
                       int *ret_fd, char **reterr) {
        int r = manager_s3_config(m, s3, reterr);
        if (r != 0)
                return r;
        r = s3_url_parse(d->record.path, bucket, key);
        if (r < 0)
                return message_set(reterr, CEDANA_E_INVALID_ARGS, "%s is not an s3:// URL cedana can use.",
                                   d->record.path);
        r = mkdtemp_at(m->state_dir_fd, "staging-", scratch, ret_fd);
        if (r < 0)
                return message_set(reterr, r, "Cannot make a scratch directory for the upload: %s.", strerror(-r));
        return 0;
}

int dump_worker(int sock, void *userdata) {
        Operation *op = userdata;
        DumpOperation *d = op->userdata;
        Manager *m = op->manager;
        DumpWorker w = { .sock = sock, .op = op };
        _cleanup_free_ char *err = NULL, *bucket = NULL, *key = NULL, *scratch = NULL;
        _cleanup_(s3_config_done) S3Config s3 = {};
        bool remote = s3_url_is(d->spec.dir_path);

        _cleanup_close_ int dir_fd = -EBADF;
        int r = remote ? open_remote(m, d, &s3, &bucket, &key, &scratch, &dir_fd, &err) : open_dir(d, &dir_fd, &err);
        if (r == 0 && !remote) {
                const char *reason = NULL;
                if (checkpoint_dir_check(dir_fd, &reason) < 0)
                        r = message_set(&err, CEDANA_E_PATH_NOT_ALLOWED,
                                        "Checkpoints cannot be written to %s (%s); choose another --dir.",
                                        d->spec.dir_path, strna(reason));
        }
        if (r == 0) {
                Runc rc = { .binary = m->config.runc_binary, .root = d->spec.runc_root, .criu = m->config.criu_binary };
                Containerd cd = {
                        .address = m->config.containerd_address,
                        .namespace = d->spec.containerd_namespace,
                };
                bool containerd = d->spec.containerd.id, container = d->spec.container.id && !containerd;
                DumpRequest req = {
                        .type = containerd ? "containerd" : container ? "runc" : d->spec.job ? "job" : "process",
                        .job = d->spec.job ? d->spec.job->id : NULL,
                        .pid = d->spec.pid,
                        .pidfd = d->spec.pidfd,
                        .caller = d->spec.caller,
                        .owner = d->spec.owner,
                        .dir_fd = dir_fd,
                        .name = d->record.id,
                        .staging_name = d->record.staging_name,
                        .partial_name = d->record.partial_name,
                        .options = &d->spec.options,
                        .runc = container ? &rc : NULL,
                        .container = container || containerd ? &d->spec.container : NULL,
                        .containerd = containerd ? &cd : NULL,
                        .containerd_container = containerd ? &d->spec.containerd : NULL,
                        .s3 = remote ? &s3 : NULL,
                        .s3_bucket = bucket,
                        .s3_key = key,
                        .criu_binary = m->config.criu_binary,
                        .criu_version = m->criu_version,
                        .criu_log_level = m->config.criu_log_level,
                        .log_dir_fd = d->log_fd,
                        .log_name = "dump.log",
                        .synced = on_synced,
                        .published = on_published,
                        .progress = send_progress,
                        .cancelled = is_cancelled,
                        .userdata = &w,
                };
                DumpResult res = {};
                /* Recorded before containerd pauses it, forgotten once the dump let go of it. */
                if (containerd) {
                        r = paused_record(m, cd.address, cd.namespace, d->spec.container.id);
                        if (r < 0)
                                r = message_set(&err, r, "Cannot record the pause of container %s: %s.",
                                                d->spec.container.id, strerror(-r));
                }
                if (r == 0)
                        r = checkpoint_dump(&req, &res, &err);
                if (containerd)
                        paused_forget(m, cd.namespace, d->spec.container.id);
                if (r == 0) {
                        WorkerMessage msg = { .type = WM_STATS, .stats = res.stats };
                        (void) worker_child_send(sock, &msg);
                }
                dump_result_done(&res);
                if (d->spec.log_fd >= 0)
                        criu_log_copy(d->log_fd, "dump.log", d->spec.log_fd);
        }
        if (scratch)
                (void) rm_rf_at(m->state_dir_fd, scratch);
        if (r != 0) {
                /* CRIU's log stays for the caller to read; the message says where. */
                (void) worker_child_send_status(sock, WM_FAILED, r, err ?: strerror(r < 0 ? -r : EIO));
                return EXIT_FAILURE;
        }
        criu_log_dir_remove(m, d->log_path);
        return EXIT_SUCCESS;
}
