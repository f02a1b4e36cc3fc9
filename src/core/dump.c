/* SPDX-License-Identifier: Apache-2.0 */
/* A dump from start to finish: staging beside the target, CRIU as the owner, and the commit
 * (digests, metadata, archive, fsync, record, publication, record) while CRIU still holds the
 * tasks frozen. Shared directories are hostile: everything is done through fds we hold. */

#include <dirent.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "archive-stream.h"
#include "archive.h"
#include "build-config.h"
#include "checkpoint.h"
#include "capture.h"
#include "collector.h"
#include "streamer.h"
#include "criu-explain.h"
#include "criu.h"
#include "fd-util.h"
#include "format-util.h"
#include "log.h"
#include "message.h"
#include "path-util.h"
#include "process.h"
#include "progress.h"
#include "strv.h"

#define CUDA_PLUGIN_PATHS "/usr/local/lib/criu/cuda_plugin.so", "/usr/lib/criu/cuda_plugin.so"
/* Room for cedana.json at the start of an archive, where a restore meets it before any image:
 * estimated from the tree (CRIU writes about eight images per process and one per thread, an
 * entry takes about 160 bytes), at most 256 KiB. A tree whose cedana.json outgrows it has its
 * archive written again with the metadata first. */
#define METADATA_RESERVE_MIN (8U * 1024U)
#define METADATA_RESERVE_MAX (256U * 1024U)

void dump_target_describe(pid_t pid, const char *container_id, bool capital, char buf[static DUMP_TARGET_MAX]) {
        if (container_id)
                snprintf(buf, DUMP_TARGET_MAX, "%s %s", capital ? "Container" : "container", container_id);
        else
                snprintf(buf, DUMP_TARGET_MAX, "%s %i", capital ? "Process" : "process", (int) pid);
}

void dump_result_done(DumpResult *r) {
        free(r->path);
        free(r->final_name);
        *r = (DumpResult) {};
}

static char *dir_display(int dir_fd) {
        char *p = NULL;
        if (fd_get_path(dir_fd, &p) < 0)
                return strdup("the checkpoint directory");
        return p;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void progress(const DumpRequest *req, const char *phase, uint64_t done, uint64_t total) {
        if (req->progress)
                req->progress(phase, done, total, req->userdata);
}

static bool cancelled(const DumpRequest *req) {
        return req->cancelled && req->cancelled(req->userdata);
}

static bool cuda_plugin_installed(void) {
        static const char *const paths[] = { CUDA_PLUGIN_PATHS };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], R_OK) == 0)
                        return true;
        return false;
}

/* The state a dump carries into CRIU's post-dump callback. */
typedef struct DumpContext {
        const DumpRequest *req;
        bool directory;
        int staging_fd;
        int partial_fd;         /* the archive being written, for compressed checkpoints */
        bool partial_named;     /* ... under partial_name, where the file system has no O_TMPFILE */
        size_t reserved;        /* ... with this much room for cedana.json at its start */
        uint64_t estimate;      /* bytes of images CRIU will write, about, from the tree's memory; 0: unknown */
        pid_t *tree;            /* the tree before CRIU runs, the root first: what the dump's watch watches */
        size_t n_tree;
        ArchiveStream *stream;  /* ... and its writer */
        Collector *collector;   /* takes images in while CRIU writes them (directories, runc) */
        Capture *capture;       /* or takes them from CRIU's stream into the archive */
        S3Upload *upload;       /* to a store: the archive's parts go up as they are written */
        bool published;
        bool recorded;          /* published() accepted it: from here on the dump has succeeded */
        _Atomic(const char *) phase; /* what the collector's bytes count towards */
        uint64_t commit_start_usec;
        DumpResult result;
        Outcome outcome; /* the first failure */
        char what[DUMP_TARGET_MAX], What[DUMP_TARGET_MAX]; /* "process 1234", "Process 1234" */
} DumpContext;

/* What the checkpoint is, without its files yet. */
static int metadata_for(const DumpRequest *req, CheckpointMetadata **ret) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        int r = metadata_new(&m);
        if (r < 0)
                return r;
        char host[256] = "";
        (void) gethostname(host, sizeof(host) - 1);
        m->pid = req->pid;
        m->uid = req->caller.uid;
        m->time_usec = now_usec();
        m->options.compression = req->options->compression;
        m->options.leave_running = req->options->leave_running;
        m->options.tcp_established = req->options->tcp_established;
        m->options.file_locks = req->options->file_locks;
        m->options.shell_job = req->options->shell_job;
        m->options.link_remap = req->options->link_remap;
        if (!(m->id = strdup(req->name)) || !(m->type = strdup(req->type)) || !(m->hostname = strdup(host)) ||
            !(m->cedana_version = strdup(PACKAGE_VERSION)) ||
            !(m->criu_version = strdup(req->criu_version ?: "unknown")) ||
            (req->job && !(m->job = strdup(req->job))))
                return -ENOMEM;
        if (req->containerd) {
                CheckpointContainer *k = &m->container;
                const ContainerdContainer *cc = req->containerd_container;
                if (!(k->runtime = strdup("containerd")) || !(k->id = strdup(cc->id)) ||
                    !(k->namespace = strdup(req->containerd->namespace)) || !(k->image = strdup(cc->image)) ||
                    !(k->snapshotter = strdup(cc->snapshotter)) || !(k->parent = strdup(cc->snapshot_parent)))
                        return -ENOMEM;
        } else if (req->runc) {
                CheckpointContainer *k = &m->container;
                if (!(k->runtime = strdup("runc")) || !(k->id = strdup(req->container->id)) ||
                    !(k->root = strdup(req->runc->root ?: RUNC_DEFAULT_ROOT)) ||
                    !(k->bundle = strdup(req->container->bundle)))
                        return -ENOMEM;
        }
        /* The tree is frozen: this is the command line it had when it was dumped. */
        (void) process_cmdline(req->pid, &m->command);
        if (req->options->external && !(m->options.external = strv_copy(req->options->external)))
                return -ENOMEM;
        if (req->options->attach_pipes && !(m->options.attach_pipes = strv_copy(req->options->attach_pipes)))
                return -ENOMEM;
        if (req->options->attach_tty && !(m->options.attach_tty = strdup(req->options->attach_tty)))
                return -ENOMEM;
        if (req->options->job_log && !(m->options.job_log = strdup(req->options->job_log)))
                return -ENOMEM;
        if (req->options->attach_tty_modes && !(m->options.attach_tty_modes = strdup(req->options->attach_tty_modes)))
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

/* Every image file in staging, hashed now: the way back when the collector could not follow
 * CRIU (an image changed after it was read). */
static int scan_images(int staging_fd, CheckpointMetadata *m) {
        DIR *d;
        int r = opendir_at(staging_fd, &d);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = malloc(1 << 20);
        _cleanup_(sha256_freep) Sha256 *sha = NULL;
        if (!buf || sha256_new(&sha) < 0) {
                closedir(d);
                return -ENOMEM;
        }
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (de->d_name[0] == '.' || streq(de->d_name, METADATA_FILENAME))
                        continue;
                _cleanup_close_ int fd = openat(staging_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = negative_errno();
                        break;
                }
                if (!S_ISREG(st.st_mode)) {
                        r = -EBADMSG;
                        break;
                }
                uint64_t size = 0;
                ssize_t k;
                while ((k = read(fd, buf, 1 << 20)) > 0 && r >= 0) {
                        r = sha256_update(sha, buf, (size_t) k);
                        size += (uint64_t) k;
                }
                if (k < 0)
                        r = negative_errno();
                char hex[SHA256_HEX_SIZE];
                if (r >= 0)
                        r = sha256_final_hex(sha, hex);
                if (r >= 0)
                        r = metadata_add_file(m, de->d_name, size, hex);
        }
        closedir(d);
        return r;
}

/* CRIU wrote the images as the owner; a directory checkpoint belongs to the caller. Only files
 * we can vouch for are chowned, by fd: regular, one link (never another name someone linked in),
 * owned by the owner. Anything else the owner put into staging is taken out. */
static int hand_over_images(DumpContext *c, const CheckpointMetadata *m) {
        const DumpRequest *req = c->req;
        if (req->owner.uid == req->caller.uid)
                return 0;
        /* First the directory: from now on the owner cannot add to it. */
        if (fchown(c->staging_fd, req->caller.uid, req->caller.gid) < 0)
                return negative_errno();
        DIR *d;
        int r = opendir_at(c->staging_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (!metadata_find_file(m, de->d_name)) {
                        (void) unlinkat(c->staging_fd, de->d_name, 0);
                        continue;
                }
                _cleanup_close_ int fd = openat(c->staging_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        r = negative_errno();
                else if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != req->owner.uid)
                        r = -EPERM;
                else if (fchown(fd, req->caller.uid, req->caller.gid) < 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

static int sync_directory(DumpContext *c, const CheckpointMetadata *m) {
        int r = hand_over_images(c, m);
        /* Each file is fsynced, not the file system: that could wait for anybody's writes. */
        for (size_t i = 0; r >= 0 && i < m->n_files; i++)
                r = fsync_at(c->staging_fd, m->files[i].name);
        /* The caller's, like the images: written as the caller. */
        if (r >= 0)
                r = identity_set_fs(&c->req->caller);
        if (r >= 0) {
                r = metadata_write(m, c->staging_fd, c->result.digest);
                (void) identity_reset_fs();
        }
        c->result.size = m->size;
        return r;
}

/* The slow way, when the collector could not follow CRIU or cedana.json outgrew its room: the
 * whole archive again, from the staging directory, with the metadata first. */
static int rewrite_archive(DumpContext *c, const char *text, size_t n) {
        const DumpRequest *req = c->req;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *err = NULL;
        c->stream = archive_stream_free(c->stream);
        int r = write_file_atomic_at(c->staging_fd, METADATA_FILENAME, text, n, 0600);
        if (r >= 0)
                r = strv_extend(&names, METADATA_FILENAME);
        DIR *d;
        if (r >= 0)
                r = opendir_at(c->staging_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d)))
                if (de->d_name[0] != '.' && !streq(de->d_name, METADATA_FILENAME))
                        r = strv_extend(&names, de->d_name);
        closedir(d);
        if (r >= 0 && (ftruncate(c->partial_fd, 0) < 0 || lseek(c->partial_fd, 0, SEEK_SET) < 0))
                r = negative_errno();
        if (r >= 0)
                r = archive_write_dir(c->staging_fd, names, c->partial_fd, req->options->compression, req->threads,
                                      NULL, &err);
        if (r < 0 && err)
                log_debug("Rewriting the archive failed: %s", err);
        return r;
}

static int record_offset(const char *name, uint64_t offset, const uint64_t *frames, size_t n_frames,
                         void *userdata) {
        int r = metadata_set_file_offset(userdata, name, offset);
        /* Page images, the big ones, with their frames: a restore decodes them on every core. */
        if (r >= 0 && streamer_takes(name) && n_frames > 2)
                r = metadata_set_file_frames(userdata, name, frames, n_frames);
        return r;
}

static int sync_archive(DumpContext *c, CheckpointMetadata *m, bool rewrite) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        /* Where each entry starts, so that a restore can stream the entries in CRIU's order. */
        int r = rewrite ? 0 : archive_stream_index(c->stream, record_offset, m);
        if (r >= 0)
                r = metadata_format(m, &text, &n, c->result.digest);
        if (r >= 0 && !rewrite && n > c->reserved) {
                /* Without the frames, then (a restore decodes on one core). */
                metadata_drop_frames(m);
                text = mfree(text);
                r = metadata_format(m, &text, &n, c->result.digest);
        }
        if (r >= 0 && !rewrite && n > c->reserved) {
                /* libarchive's archive has other offsets, and none a reader can start at. */
                rewrite = true;
                for (size_t i = 0; i < m->n_files; i++)
                        m->files[i].at = METADATA_NO_OFFSET;
                text = mfree(text);
                r = metadata_format(m, &text, &n, c->result.digest);
        }
        if (r < 0)
                return r;
        /* Rewritten, the parts sent so far are not its bytes any more. */
        if (rewrite)
                c->upload = s3_upload_free(c->upload);
        if (!rewrite)
                r = archive_stream_fill(c->stream, text, n);
        if (!rewrite && r >= 0)
                r = archive_stream_finish(c->stream);
        if (rewrite)
                r = rewrite_archive(c, text, n);
        struct stat st;
        if (r >= 0 && (fsync(c->partial_fd) < 0 || fstat(c->partial_fd, &st) < 0))
                r = negative_errno();
        if (r >= 0)
                c->result.size = (uint64_t) st.st_size;
        return r;
}

/* Everything that makes the checkpoint complete and durable, before it has its final name. */
static int write_checkpoint(DumpContext *c) {
        const DumpRequest *req = c->req;
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        int r = metadata_for(req, &m);
        if (r < 0)
                return r;
        bool rewrite = false;
        r = c->capture ? capture_finish(c->capture, m) : collector_finish(c->collector, m);
        if (r == -EAGAIN) {
                log_debug("CRIU changed an image after it was read; its digests are computed again.");
                rewrite = true;
                metadata_free(m);
                m = NULL;
                r = metadata_for(req, &m);
                if (r >= 0)
                        r = scan_images(c->staging_fd, m);
        }
        if (r < 0)
                return r;
        c->result.image_size = m->size;
        c->result.time_usec = m->time_usec;

        /* The images went into the archive as they came; what is left is its end and fsync. */
        progress(req, c->directory ? "syncing" : "compressing", 0, 0);
        r = c->directory ? sync_directory(c, m) : sync_archive(c, m, rewrite);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(c->directory ? c->staging_fd : c->partial_fd, &st) < 0)
                return negative_errno();
        /* An object has no inode: its record is bound by the digest alone. */
        c->result.dev = c->req->s3 ? 0 : st.st_dev;
        c->result.ino = c->req->s3 ? 0 : st.st_ino;
        return 0;
}

/* Under its final name, never replacing anything, and only what we wrote: an O_TMPFILE is
 * linked (nothing else can be), a named one renamed and then checked by inode. As the caller,
 * so that the kernel decides whether the caller may still write there. */
static int publish(DumpContext *c) {
        const DumpRequest *req = c->req;
        const char *final = c->result.final_name;
        int r = identity_set_fs(&req->caller);
        if (r < 0)
                return r;
        if (!c->directory && !c->partial_named) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%i", c->partial_fd);
                r = RET_NERRNO(linkat(AT_FDCWD, proc, req->dir_fd, final, AT_SYMLINK_FOLLOW));
        } else {
                const char *from = c->directory ? req->staging_name : req->partial_name;
                r = RET_NERRNO(renameat2(req->dir_fd, from, req->dir_fd, final, RENAME_NOREPLACE));
                struct stat st;
                if (r >= 0 && fstatat(req->dir_fd, final, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = negative_errno();
                if (r >= 0 && (st.st_dev != c->result.dev || st.st_ino != c->result.ino)) {
                        /* Someone swapped the name while we wrote: what we just renamed is theirs.
                         * It goes back; nothing of it is published or recorded. */
                        (void) renameat2(req->dir_fd, final, req->dir_fd, from, RENAME_NOREPLACE);
                        r = -EXDEV;
                }
        }
        if (r >= 0)
                c->published = true;
        (void) identity_reset_fs();
        if (r >= 0)
                r = fsync_directory_of(req->dir_fd);
        return r;
}

static void on_uploaded(uint64_t done, uint64_t total, void *userdata) {
        DumpContext *c = userdata;
        progress(c->req, "uploading", done, total);
}

static bool upload_cancelled(void *userdata) {
        DumpContext *c = userdata;
        return cancelled(c->req);
}

/* An object's only metadata: whose checkpoint it is (the digest a record binds it to is inside). */
#define OBJECT_OWNER_MAX 32
static char *object_owner(const DumpRequest *req, char buf[static OBJECT_OWNER_MAX]) {
        snprintf(buf, OBJECT_OWNER_MAX, "cedana-uid=%u", (unsigned) req->caller.uid);
        return buf;
}

/* The complete archive as its object: what the upload that began with the dump has not sent yet
 * (its first part, cedana.json's, at least), or all of it when that had to stop. A failed upload
 * leaves no object and no upload behind. */
static int upload(DumpContext *c, char **reterr) {
        const DumpRequest *req = c->req;
        progress(req, "uploading", 0, c->result.size);
        int r = c->upload ? s3_upload_finish(c->upload, c->result.size, on_uploaded, upload_cancelled, c, reterr)
                          : -ESTALE;
        if (r == -ESTALE) {
                char uid[OBJECT_OWNER_MAX];
                r = s3_upload_fd(req->s3, req->s3_bucket, req->s3_key, c->partial_fd, c->result.size,
                                 (char *[]) { object_owner(req, uid), NULL }, on_uploaded, upload_cancelled, c, reterr);
        }
        if (r == -ECANCELED) {
                *reterr = mfree(*reterr);
                return r;
        }
        if (r == 0)
                c->published = true;
        return r;
}

static int commit_failed(DumpContext *c, int r) {
        const DumpRequest *req = c->req;
        _cleanup_free_ char *dir = dir_display(req->dir_fd);
        if (r == -ECANCELED)
                return outcome_set(&c->outcome, CEDANA_E_CANCELLED, DUMP_CANCELLED_MESSAGE, c->what);
        if (r == -ENOSPC || r == -EDQUOT)
                return outcome_set(&c->outcome, CEDANA_E_NO_SPACE,
                                 "No space left in %s while writing checkpoint %s; %s keeps running.", dir,
                                 c->result.final_name, c->what);
        if (r == -EEXIST)
                return outcome_set(&c->outcome, CEDANA_E_EXISTS,
                                 "A checkpoint named %s appeared in %s during the dump; choose another --name.",
                                 c->result.final_name, dir);
        if (r == -EXDEV || r == -EPERM)
                return outcome_set(&c->outcome, CEDANA_E_PATH_NOT_ALLOWED,
                                 "Someone else changed cedana's files in %s during the dump; nothing was written. "
                                 "Dump into a directory only you can write to.", dir);
        if (r == -EACCES)
                return outcome_set(&c->outcome, CEDANA_E_PATH_NOT_ALLOWED, "You can no longer write to %s; choose another --dir.",
                                 dir);
        return outcome_set(&c->outcome, r, "Failed to write checkpoint %s in %s: %s.", c->result.final_name, dir, strerror(-r));
}

static int post_dump(void *userdata) {
        DumpContext *c = userdata;
        const DumpRequest *req = c->req;
        char *err = NULL;

        /* CRIU froze whatever had req->pid when it started; if our pidfd's process is gone, the
         * pid was recycled (or the process exited) and this is not the process we were asked for. */
        if (!pidfd_is_alive(req->pidfd))
                return outcome_set(&c->outcome, CEDANA_E_PROCESS_EXITED,
                                 "%s exited while it was being dumped; no checkpoint was written.", c->What);

        c->commit_start_usec = now_monotonic_usec();
        if (cancelled(req))
                return commit_failed(c, -ECANCELED);
        /* Written with root's file system rights: staging and the archive were opened as the
         * caller already; publication is done as the caller again. */
        int r = identity_reset_fs();
        if (r >= 0) {
                atomic_store(&c->phase, "checksumming");
                progress(req, "checksumming", 0, 0);
                r = write_checkpoint(c);
        }
        if (r >= 0 && cancelled(req))
                r = -ECANCELED;
        if (r < 0)
                return commit_failed(c, r);

        progress(req, "recording", 0, 0);
        if (req->synced && (r = req->synced(&c->result, req->userdata, &err)) != 0)
                goto refused;
        /* The last point a cancel is taken here; the daemon refuses to record one after it. */
        if (cancelled(req))
                return commit_failed(c, -ECANCELED);
        if (req->s3) {
                r = upload(c, &err);
                if (r > 0)
                        goto refused;
        } else
                r = publish(c);
        if (r < 0)
                return commit_failed(c, r);
        /* Dead while we wrote: whatever it did last is not in the checkpoint, so there is none. */
        if (!pidfd_is_alive(req->pidfd))
                return outcome_set(&c->outcome, CEDANA_E_PROCESS_EXITED,
                                 "%s exited while it was being dumped; no checkpoint was written.", c->What);
        if (req->published && (r = req->published(&c->result, req->userdata, &err)) != 0)
                goto refused;
        c->recorded = true;
        c->result.stats.commit_usec = now_monotonic_usec() - c->commit_start_usec;
        return 0;

refused:
        if (!err)
                outcome_set(&c->outcome, r, "The checkpoint could not be recorded; %s keeps running.", c->what);
        else
                outcome_set(&c->outcome, r, "%s", err);
        free(err);
        return -1;
}

/* Room for cedana.json: its size grows with the number of image files, eight or so per process
 * and one per thread, and with the memory: a page image's frames, one per 2 MiB, a line each. */
static size_t metadata_reserve(const pid_t *pids, size_t n, uint64_t memory) {
        size_t files = 16;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%i/task", (int) pids[i]);
                DIR *d = opendir(path);
                files += 8;
                for (struct dirent *de; d && (de = readdir(d));)
                        files += de->d_name[0] != '.';
                if (d)
                        closedir(d);
        }
        size_t bytes = 1024 + 190 * files + (size_t) MIN(memory / (2 << 20) * 24, (uint64_t) METADATA_RESERVE_MAX);
        bytes = (bytes + 4095) / 4096 * 4096;
        return MIN(MAX(bytes, (size_t) METADATA_RESERVE_MIN), (size_t) METADATA_RESERVE_MAX);
}

/* What is known before anything is written: the tree is there, has no GPU CRIU cannot dump, and
 * an uncompressed checkpoint of it fits (a compressed one's size is anybody's guess: a full disk
 * is found out while writing, and costs nothing but the attempt). */
static int check_tree(DumpContext *c, char **reterr) {
        const DumpRequest *req = c->req;
        int r = process_tree(req->pid, &c->tree, &c->n_tree);
        pid_t *pids = c->tree;
        size_t n = c->n_tree;
        if (r == -ESRCH)
                return message_set(reterr, CEDANA_E_NO_SUCH_PROCESS, "Process %i does not exist.", (int) req->pid);
        if (r < 0)
                return r;
        if (process_tree_uses_gpu(pids, n) > 0 && !cuda_plugin_installed())
                return message_set(reterr, CEDANA_E_GPU,
                                   "Process %i uses an NVIDIA GPU; dumping it needs CRIU's CUDA plugin "
                                   "(cuda_plugin.so in /usr/lib/criu), which is not installed.",
                                   (int) req->pid);
        struct statvfs sv;
        c->estimate = process_tree_dump_estimate(pids, n);
        c->reserved = metadata_reserve(pids, n, c->estimate);
        if (c->estimate == 0 || fstatvfs(req->dir_fd, &sv) < 0)
                return 0; /* no estimate: the dump finds out */
        uint64_t free_bytes = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (req->options->compression <= COMPRESSION_TAR && c->estimate > free_bytes) {
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
                _cleanup_free_ char *dir = dir_display(req->dir_fd);
                return message_set(reterr, CEDANA_E_NO_SPACE, "No space left in %s for a checkpoint of %s: "
                                   "it needs about %s, %s are free. Free some space, choose another --dir or "
                                   "a --compression; it keeps running.", dir, c->what,
                                   format_bytes(a, sizeof(a), c->estimate), format_bytes(b, sizeof(b), free_bytes));
        }
        return 0;
}

/* The archive, where only we can ever name it: an O_TMPFILE, linked into place when complete. */
static int open_partial(DumpContext *c) {
        const DumpRequest *req = c->req;
        c->partial_fd = openat(req->dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (c->partial_fd >= 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                return negative_errno();
        c->partial_fd = openat(req->dir_fd, req->partial_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (c->partial_fd < 0)
                return negative_errno();
        c->partial_named = true;
        return 0;
}

static int prepare_failed(const DumpRequest *req, int r, char **reterr) {
        _cleanup_free_ char *dir = dir_display(req->dir_fd);
        if (r == -EACCES || r == -EPERM || r == -EROFS)
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED, "You cannot write to %s; choose another --dir.",
                                   dir);
        if (r == -ENOSPC || r == -EDQUOT)
                return message_set(reterr, CEDANA_E_NO_SPACE, "No space left in %s; nothing was dumped.", dir);
        if (r == -EXDEV)
                return message_set(reterr, CEDANA_E_PATH_NOT_ALLOWED,
                                   "Someone else changed cedana's files in %s during the dump; nothing was written. "
                                   "Dump into a directory only you can write to.", dir);
        return message_set(reterr, r, "Failed to prepare the checkpoint in %s: %s.", dir, strerror(-r));
}

/* Bytes of images taken in: the dump's progress, and where a cancel stops the collector (CRIU
 * cannot be stopped while it writes; the commit refuses once it is done). */
static int on_collected(uint64_t bytes, void *userdata) {
        DumpContext *c = userdata;
        progress(c->req, atomic_load(&c->phase), bytes, MAX(c->estimate, bytes));
        /* From the thread that writes the archive. */
        if (c->upload)
                s3_upload_settle(c->upload, archive_stream_settled(c->stream));
        return cancelled(c->req) ? -ECANCELED : 0;
}

/* A container's runtime runs CRIU (runc, as a service, which cannot stream); cedana only sees the
 * images it writes. */
static bool runtime_runs_criu(const DumpRequest *req) {
        return req->runc || req->containerd;
}

/* Staging directory and (for archives) the archive, created as the caller, and the collector. */
static int prepare(DumpContext *c, char **reterr) {
        const DumpRequest *req = c->req;
        struct stat st;

        /* As the caller from here: the kernel decides whether the caller may write to dir. An
         * upload's local files are cedanad's own, in its scratch directory. */
        uid_t files_uid = req->s3 ? 0 : req->caller.uid;
        int r = req->s3 ? identity_reset_fs() : identity_set_fs(&req->caller);
        if (r < 0)
                return r;
        if (req->s3) {
                /* Never over another object; and a store that cannot be reached, or refuses the
                 * credentials, is found out before anything is frozen. */
                uint64_t size;
                r = s3_head(req->s3, req->s3_bucket, req->s3_key, &size, NULL, NULL, reterr);
                if (r == 0)
                        return message_set(reterr, CEDANA_E_EXISTS, "An object %s exists already; choose another "
                                           "--name.", c->result.path);
                if (r != CEDANA_E_NO_SUCH_FILE || strstr(strempty(*reterr), "bucket"))
                        return r;
                *reterr = mfree(*reterr);
        } else if (fstatat(req->dir_fd, c->result.final_name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                _cleanup_free_ char *dir = dir_display(req->dir_fd);
                return message_set(reterr, CEDANA_E_EXISTS, "A checkpoint named %s already exists in %s; choose "
                                   "another --name.", c->result.final_name, dir);
        }
        if (mkdirat(req->dir_fd, req->staging_name, 0700) < 0)
                return prepare_failed(req, negative_errno(), reterr);
        c->staging_fd = openat(req->dir_fd, req->staging_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->staging_fd < 0)
                return prepare_failed(req, negative_errno(), reterr);
        /* The one we made, not one swapped in under its name. */
        if (fstat(c->staging_fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != files_uid || (st.st_mode & 07777) != 0700)
                return prepare_failed(req, -EXDEV, reterr);
        if (!c->directory) {
                r = open_partial(c);
                if (r >= 0)
                        r = archive_stream_new(c->partial_fd, req->options->compression, req->threads, &c->stream);
                if (r >= 0)
                        r = archive_stream_reserve(c->stream, METADATA_FILENAME, c->reserved);
                if (r < 0)
                        return prepare_failed(req, r, reterr);
                if (req->s3) {
                        char uid[OBJECT_OWNER_MAX];
                        r = s3_upload_start(req->s3, req->s3_bucket, req->s3_key, c->partial_fd,
                                            (char *[]) { object_owner(req, uid), NULL }, &c->upload, reterr);
                        if (r != 0)
                                return r;
                }
        }
        /* CRIU runs as the process's owner and must be able to write the images. */
        if (req->owner.uid != files_uid) {
                r = identity_reset_fs();
                if (r >= 0 && fchown(c->staging_fd, req->owner.uid, req->owner.gid) < 0)
                        r = negative_errno();
                if (r < 0)
                        return r;
        }
        atomic_store(&c->phase, "dumping");
        /* Images are hashed (and for archives compressed) while CRIU writes them: into an archive
         * straight from CRIU's stream, unless runc runs CRIU (as a service, which cannot stream). */
        if (!c->directory && !runtime_runs_criu(req))
                return capture_start(c->staging_fd, req->owner.uid, req->owner.gid, c->stream, on_collected, c,
                                     &c->capture);
        return collector_start(c->staging_fd, c->stream, on_collected, c, &c->collector);
}

/* Whether name below dir_fd is the file fd refers to. */
static bool name_is_fd(int dir_fd, const char *name, int fd) {
        struct stat a, b;
        return fd >= 0 && fstat(fd, &a) >= 0 && fstatat(dir_fd, name, &b, AT_SYMLINK_NOFOLLOW) >= 0 &&
               a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Nothing that looks like a checkpoint stays behind: what we made is removed by the names we
 * gave it, and only while those names still are what we made. */
static void undo(DumpContext *c) {
        const DumpRequest *req = c->req;
        (void) identity_reset_fs();
        int published_fd = c->directory ? c->staging_fd : c->partial_fd;
        if (c->published && req->s3) {
                /* Uploaded, then not recorded: the object goes again. */
                _cleanup_free_ char *err = NULL;
                if (s3_delete(req->s3, req->s3_bucket, req->s3_key, &err) != 0)
                        log_warning("Could not delete %s again after its dump failed: %s", c->result.path, strna(err));
        } else if (c->published && name_is_fd(req->dir_fd, c->result.final_name, published_fd))
                (void) rm_rf_at(req->dir_fd, c->result.final_name);
        if (name_is_fd(req->dir_fd, req->staging_name, c->staging_fd))
                (void) rm_rf_at(req->dir_fd, req->staging_name);
        if (c->partial_named && name_is_fd(req->dir_fd, req->partial_name, c->partial_fd))
                (void) unlinkat(req->dir_fd, req->partial_name, 0);
}

/* CRIU (or runc) failed on its own: explained by what we know for certain, else by its last
 * error. */
static int criu_failed(DumpContext *c, int outcome, const char *error, char **reterr) {
        const DumpRequest *req = c->req;
        if (!pidfd_is_alive(req->pidfd))
                return message_set(reterr, CEDANA_E_PROCESS_EXITED,
                                   "%s exited while it was being dumped; no checkpoint was written.", c->What);
        struct statvfs sv;
        if (c->staging_fd >= 0 && fstatvfs(c->staging_fd, &sv) >= 0 &&
            (uint64_t) sv.f_bavail * sv.f_frsize < (UINT64_C(1) << 20)) {
                _cleanup_free_ char *dir = dir_display(req->dir_fd);
                char a[FORMAT_BYTES_MAX];
                if (c->estimate == 0)
                        return message_set(reterr, CEDANA_E_NO_SPACE, "No space left in %s for checkpoint %s; %s "
                                           "keeps running.", dir, c->result.final_name, c->what);
                return message_set(reterr, CEDANA_E_NO_SPACE, "No space left in %s for checkpoint %s (the memory is "
                                   "about %s before compression); %s keeps running.", dir, c->result.final_name,
                                   format_bytes(a, sizeof(a), c->estimate), c->what);
        }
        if (outcome == CEDANA_E_CRIU_FAILED || !runtime_runs_criu(req))
                return message_set(reterr, CEDANA_E_CRIU_FAILED, "%s", error ?: "CRIU failed to dump the process.");
        /* runc's words, and CRIU's last error where CRIU is what failed: in our words where we know
         * what it means. */
        _cleanup_free_ char *criu = criu_log_last_error(req->log_dir_fd, req->log_name);
        if (!criu)
                return message_set(reterr, outcome, "%s", strna(error));
        _cleanup_free_ char *dir = dir_display(req->log_dir_fd), *explained = criu_explain(criu);
        if (explained)
                return message_set(reterr, CEDANA_E_CRIU_FAILED, "%s %s keeps running (CRIU's log: %s/%s).",
                                   explained, c->What, strna(dir), req->log_name);
        return message_set(reterr, CEDANA_E_CRIU_FAILED, "CRIU failed to checkpoint %s: %s (log: %s/%s); it keeps "
                           "running.", c->what, criu, strna(dir), req->log_name);
}

int checkpoint_dump(const DumpRequest *req, DumpResult *ret, char **reterr) {
        Compression comp = req->options->compression;
        _cleanup_free_ char *log_dir = dir_display(req->log_dir_fd);
        _cleanup_free_ char *log_path = path_join(log_dir ?: "", req->log_name), *criu_error = NULL;
        DumpContext c = {
                .req = req,
                .directory = comp == COMPRESSION_NONE,
                .staging_fd = -EBADF,
                .partial_fd = -EBADF,
        };
        const char *container = req->container ? req->container->id : NULL;
        dump_target_describe(req->pid, container, false, c.what);
        dump_target_describe(req->pid, container, true, c.What);
        int r;

        if (comp < 0 || comp >= _COMPRESSION_MAX)
                return -EINVAL;
        _cleanup_free_ char *dir = dir_display(req->dir_fd);
        if (asprintf(&c.result.final_name, "%s%s", req->name, compression_suffix(comp)) < 0)
                return -ENOMEM;
        if (req->s3 ? asprintf(&c.result.path, "s3://%s/%s", req->s3_bucket, req->s3_key) < 0
                    : !(c.result.path = path_join(dir, c.result.final_name)))
                return -ENOMEM;

        /* An attached job's terminal is a pty whose master cedanad holds, outside the tree: CRIU
         * dumps it as external, and a restore hands the job a new one. */
        _cleanup_strv_free_ char **external = strv_copy(req->options->external);
        if ((req->options->external && !external) ||
            (req->options->attach_tty && strv_extend(&external, req->options->attach_tty) < 0))
                return -ENOMEM;

        r = check_tree(&c, reterr);
        if (r == 0)
                r = prepare(&c, reterr);
        if (r != 0)
                goto finish;

        CriuParams p = {
                .binary = req->criu_binary,
                .owner = &req->owner,
                .pid = req->pid,
                .target_pidfd = req->pidfd,
                .tree = c.tree,
                .n_tree = c.n_tree,
                .images_dir_fd = c.staging_fd,
                .work_dir_fd = req->log_dir_fd,
                .log_name = req->log_name,
                .log_level = req->criu_log_level,
                .tcp_established = req->options->tcp_established,
                .shell_job = req->options->shell_job,
                .file_locks = req->options->file_locks,
                .link_remap = req->options->link_remap,
                .leave_running = req->options->leave_running,
                .external = external,
                .stream = c.capture != NULL,
                .post_dump = post_dump,
                .userdata = &c,
        };
        RuncDump rd = {
                .id = req->container ? req->container->id : NULL,
                .images_dir_fd = c.staging_fd,
                .work_dir_fd = req->log_dir_fd,
                .options = req->options,
                .tree = c.tree,
                .n_tree = c.n_tree,
                .init_pidfd = req->pidfd,
                .commit = post_dump,
                .userdata = &c,
        };
        ContainerdDump cd = {
                .container = req->containerd_container,
                .images_dir_fd = c.staging_fd,
                .work_dir_fd = req->log_dir_fd,
                .options = req->options,
                .commit = post_dump,
                .userdata = &c,
        };
        progress(req, "dumping", 0, c.estimate);
        uint64_t criu_start = now_monotonic_usec();
        r = req->containerd ? containerd_dump(req->containerd, &cd, &criu_error)
            : req->runc     ? runc_dump(req->runc, &rd, &criu_error)
                            : criu_run_dump(&p, log_path ?: req->log_name, &criu_error);
        uint64_t criu_end = now_monotonic_usec();
        /* A recorded checkpoint is a done dump, whatever CRIU did afterwards. */
        if (c.recorded)
                r = 0;
        else if (c.outcome.code != 0) {
                r = message_set(reterr, c.outcome.code, "%s", strna(c.outcome.message));
                goto finish;
        } else if (r != 0) {
                r = criu_failed(&c, r > 0 ? r : CEDANA_E_CRIU_FAILED, criu_error, reterr);
                goto finish;
        }
        /* CRIU wrote its figures after it let go of the tasks, into its working directory: the
         * log directory. */
        CheckpointStats *st = &c.result.stats;
        if (criu_stats_read(req->log_dir_fd, CRIU_STATS_DUMP, &st->criu) < 0)
                st->criu = (CriuStats) {};
        st->image_bytes = c.result.image_size;
        st->stored_bytes = c.result.size;
        st->criu_usec = criu_end - criu_start;
        /* The published checkpoint is in the caller's hands now; staging is what is left of it. */
        if (!c.directory && name_is_fd(req->dir_fd, req->staging_name, c.staging_fd))
                (void) rm_rf_at(req->dir_fd, req->staging_name);
        *ret = c.result;
        c.result = (DumpResult) {};
        r = 0;

finish:
        collector_free(c.collector);
        capture_free(c.capture);
        s3_upload_free(c.upload);
        free(c.tree);
        archive_stream_free(c.stream);
        if (r != 0)
                undo(&c);
        (void) identity_reset_fs();
        safe_close(c.partial_fd);
        safe_close(c.staging_fd);
        outcome_done(&c.outcome);
        dump_result_done(&c.result);
        return r;
}
