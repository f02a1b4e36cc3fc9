/* SPDX-License-Identifier: Apache-2.0 */
/* A restore from start to finish: the content verified as it is read, CRIU as the owner, and
 * the restored tree checked thread by thread while CRIU still holds it: killed on any mismatch,
 * otherwise kept stopped by us (not by trusting CRIU) until the caller has recorded it. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "archive-index.h"
#include "archive.h"
#include "checkpoint.h"
#include "codec.h"
#include "criu.h"
#include "fd-util.h"
#include "log.h"
#include "images.h"
#include "message.h"
#include "path-util.h"
#include "process.h"
#include "progress.h"
#include "streamer.h"
#include "tty-util.h"
#include "verifier.h"

void restored_tree_done(RestoredTree *t) {
        free(t->pids);
        free(t->resume);
        *t = (RestoredTree) {};
}

static void signal_tree(const RestoredTree *t, int sig, bool only_resumable) {
        for (size_t i = 0; i < t->n_pids; i++)
                if (!only_resumable || t->resume[i])
                        (void) kill(t->pids[i], sig);
}

void restored_tree_resume(const RestoredTree *t) {
        signal_tree(t, SIGCONT, true);
}

void restored_tree_kill(const RestoredTree *t) {
        signal_tree(t, SIGKILL, false);
}

static void progress(const RestoreRequest *req, const char *phase) {
        if (req->progress)
                req->progress(phase, 0, 0, req->userdata);
}

static bool cancelled(const RestoreRequest *req) {
        return req->cancelled && req->cancelled(req->userdata);
}

typedef struct ExtractProgress {
        const RestoreRequest *req;
        uint64_t total;
} ExtractProgress;

/* Bytes of the archive read: the restore's progress, and where a cancel stops the extraction. */
static int on_read(uint64_t in_bytes, void *userdata) {
        ExtractProgress *p = userdata;
        if (p->req->progress)
                p->req->progress("extracting", in_bytes, MAX(p->total, in_bytes), p->req->userdata);
        return cancelled(p->req) ? -ECANCELED : 0;
}

int checkpoint_detect_format(int fd, Compression *ret, char **reterr) {
        int r = codec_detect(fd, ret);
        if (r == -ENODATA)
                return message_set(reterr, CEDANA_E_NOT_A_CHECKPOINT, "The file is empty; it is not a checkpoint.");
        if (r == -EMEDIUMTYPE || r == -EBADFD)
                return message_set(reterr, CEDANA_E_NOT_A_CHECKPOINT,
                                   "This is not a cedana checkpoint: neither a checkpoint directory nor a tar, gzip, "
                                   "lz4, zlib or zstd archive.");
        if (r == -EACCES || r == -EPERM)
                return message_set(reterr, CEDANA_E_ACCESS_DENIED, "You may not read this checkpoint.");
        return r;
}

int checkpoint_content_outcome(int r) {
        switch (r) {
        case -EBADMSG:
        case -EFBIG:
                return CEDANA_E_CHECKPOINT_CORRUPT;
        case -ESTALE:
                return CEDANA_E_CHECKPOINT_CHANGED;
        case -EMEDIUMTYPE:
        case -ENOENT:
        case -ENODATA:
        case -EBADFD:
                return CEDANA_E_NOT_A_CHECKPOINT;
        case -EPROTONOSUPPORT:
                return CEDANA_E_FORMAT_TOO_NEW;
        case -ENOSPC:
        case -EDQUOT:
                return CEDANA_E_NO_SPACE;
        case -ENOLINK: /* an archive read from a store that failed */
                return CEDANA_E_REMOTE;
        default:
                return r;
        }
}

static int extract(const RestoreRequest *req, Verifier *v, char **reterr) {
        ArchiveLimits limits = ARCHIVE_LIMITS_DEFAULT;
        if (req->max_archive_bytes > 0)
                limits.max_bytes = limits.max_entry_bytes = req->max_archive_bytes;
        struct stat st;
        ExtractProgress p = { .req = req, .total = fstat(req->source_fd, &st) >= 0 ? (uint64_t) st.st_size : 0 };
        limits.on_read = on_read;
        limits.userdata = &p;
        int r = archive_extract(req->source_fd, req->staging_fd, &limits, v, NULL, reterr);
        if (r == -EAGAIN) {
                /* Repacked by hand, with cedana.json somewhere else: found first, so that every
                 * entry is still bounded by what it declares. */
                _cleanup_free_ char *text = NULL;
                size_t n;
                r = archive_read_metadata(req->source_fd, &limits, &text, &n, reterr);
                if (r >= 0)
                        r = verifier_metadata(v, text, n, reterr);
                if (r >= 0)
                        r = archive_extract(req->source_fd, req->staging_fd, &limits, v, NULL, reterr);
        }
        if (r == -ENOSPC || r == -EDQUOT) {
                free(*reterr);
                *reterr = NULL;
                return message_set(reterr, CEDANA_E_NO_SPACE, "No space left to extract the checkpoint.");
        }
        if (r < 0 && cancelled(req)) {
                free(*reterr);
                *reterr = NULL;
                return message_set(reterr, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
        }
        return r;
}

static ArchiveSource source_of(const RestoreRequest *req) {
        return req->remote ? *req->remote : (ArchiveSource) { .fd = req->source_fd };
}

/* One image of an indexed archive into the images directory, checked as it is written. */
static int extract_entry(const RestoreRequest *req, const ArchiveSource *src, Verifier *v, Compression format,
                         const CheckpointFile *f, char **reterr) {
        _cleanup_(entry_reader_freep) EntryReader *e = NULL;
        int r = entry_reader_open(src, format, verifier_get_metadata(v), f, &e, reterr);
        uint64_t max;
        if (r >= 0)
                r = verifier_begin(v, f->name, &max, reterr);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(req->staging_fd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                        0600);
        if (fd < 0)
                return negative_errno();
        uint8_t buf[64 * 1024];
        for (;;) {
                ssize_t k = entry_reader_read(e, buf, sizeof(buf));
                if (k == -ENOLINK)
                        return message_set(reterr, -ENOLINK, "%s", strna(entry_reader_error(e)));
                if (k < 0)
                        return message_set(reterr, (int) k, "The checkpoint archive is corrupt: %s.",
                                           strna(entry_reader_error(e)));
                if (k == 0)
                        break;
                r = verifier_data(v, buf, (size_t) k);
                if (r >= 0)
                        r = loop_write(fd, buf, (size_t) k);
                if (r < 0)
                        return r;
        }
        return verifier_end(v, reterr);
}

/* An archive cedana wrote with every entry's place in cedana.json is restored in place: the
 * images that steer CRIU are extracted and verified now, the page images stream from the archive
 * into CRIU later (streamer.h). 1 when so prepared; 0, with nothing done, for an archive that
 * cannot be (written by an earlier cedana, repacked by hand, beyond the size limit): it is
 * extracted whole. */
static int prepare_stream(const RestoreRequest *req, const ArchiveSource *src, Verifier *v, Compression format,
                          char **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        int r = archive_streamable_metadata(req->source_fd, format, req->max_archive_bytes, &text, &n);
        if (r <= 0)
                return r;
        r = verifier_metadata(v, text, n, reterr);
        if (r < 0)
                return r;
        const CheckpointMetadata *m = verifier_get_metadata(v);
        /* Only the entries listed are read; what the archive has after them is checked here. */
        r = archive_check_end(src, format, m, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_files; i++) {
                if (streamer_takes(m->files[i].name))
                        continue;
                if (cancelled(req))
                        return message_set(reterr, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
                r = extract_entry(req, src, v, format, &m->files[i], reterr);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* A checkpoint directory restored as it streams: the images that steer CRIU are copied into the
 * staging directory and verified on the way, the page images go from the directory to CRIU later
 * (streamer.h), hashed as they pass. 1 when so prepared; 0 for a directory of the first format,
 * whose files have no SHA-256 to check in the stream: it is verified whole and read in place. */
/* A directory's page images, opened, by index in its metadata's files (-EBADF for the others). */
typedef struct PageFds {
        int *fds;
        size_t n;
} PageFds;

static void page_fds_done(PageFds *p) {
        for (size_t i = 0; p->fds && i < p->n; i++)
                safe_close(p->fds[i]);
        p->fds = mfree(p->fds);
        p->n = 0;
}

static int prepare_stream_dir(const RestoreRequest *req, Verifier *v, PageFds *ret, char **reterr) {
        int r = verifier_dir_metadata(v, req->source_fd, reterr);
        if (r < 0)
                return r;
        const CheckpointMetadata *m = verifier_get_metadata(v);
        if (m->format_version < 2)
                return 0;
        _cleanup_(page_fds_done) PageFds p = { .fds = malloc(MAX(m->n_files, (size_t) 1) * sizeof(int)),
                                               .n = m->n_files };
        if (!p.fds)
                return -ENOMEM;
        for (size_t i = 0; i < p.n; i++)
                p.fds[i] = -EBADF;
        for (size_t i = 0; i < m->n_files; i++) {
                const char *name = m->files[i].name;
                if (cancelled(req))
                        return message_set(reterr, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
                if (!streamer_takes(name)) {
                        r = verifier_copy_file(v, req->source_fd, name, req->staging_fd, reterr);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Opened now, as the owner like every other file of theirs; read by the streamer. */
                int fd = open_regular_at(req->source_fd, name);
                if (fd == -ENOENT || fd == -EBADMSG)
                        return message_set(reterr, -EBADMSG, "Checkpoint file %s is %s.", name,
                                           fd == -ENOENT ? "missing" : "not a regular file");
                if (fd < 0)
                        return message_set(reterr, fd, "Failed to open checkpoint file %s: %s.", name, strerror(-fd));
                p.fds[i] = fd;
        }
        *ret = p;
        p = (PageFds) {};
        return 1;
}

/* A container's runtime restores it; its CRIU (run by runc as a service) cannot stream. */
static bool restores_container(const RestoreRequest *req) {
        return req->runc || req->containerd;
}

/* The images, verified, in a directory CRIU can read: the checkpoint directory itself (a runc
 * checkpoint, or one of the first format), or the staging directory the images are extracted or
 * copied into as the owner (so CRIU, as the owner, can read it). *ret_streamed: the page images
 * are to stream into CRIU from the archive (or directory) in format *ret_format. */
static int open_images(const RestoreRequest *req, Verifier *v, int *ret_fd, bool *ret_streamed,
                       Compression *ret_format, PageFds *ret_page_fds, char **reterr) {
        Compression format;
        int r = checkpoint_detect_format(req->source_fd, &format, reterr);
        if (r != 0)
                return r;

        progress(req, format == COMPRESSION_NONE ? "verifying" : "extracting");
        _cleanup_close_ int images_fd = -EBADF;
        bool streamed = false;
        if (format == COMPRESSION_NONE) {
                /* runc's CRIU runs as a service, which cannot stream. */
                if (!restores_container(req)) {
                        r = identity_set_fs(&req->owner);
                        if (r < 0)
                                return r;
                        r = prepare_stream_dir(req, v, ret_page_fds, reterr);
                        (void) identity_reset_fs();
                        streamed = r > 0;
                }
                images_fd = fcntl(streamed ? req->staging_fd : req->source_fd, F_DUPFD_CLOEXEC, 3);
                if (images_fd < 0)
                        return negative_errno();
                if (r == 0)
                        r = verifier_check_dir(v, images_fd, reterr);
        } else {
                r = identity_set_fs(&req->owner);
                if (r < 0)
                        return r;
                images_fd = fcntl(req->staging_fd, F_DUPFD_CLOEXEC, 3);
                if (images_fd < 0)
                        return negative_errno();
                /* runc's CRIU runs as a service, which cannot stream. */
                ArchiveSource src = source_of(req);
                r = restores_container(req) ? 0 : prepare_stream(req, &src, v, format, reterr);
                streamed = r > 0;
                if (r == 0 && req->remote)
                        r = message_set(reterr, CEDANA_E_NOT_A_CHECKPOINT, "The object is not a checkpoint cedana "
                                        "can restore as it streams.");
                if (r == 0)
                        r = extract(req, v, reterr);
                (void) identity_reset_fs();
        }
        if (r < 0)
                return checkpoint_content_outcome(r);
        if (r > 0 && !streamed)
                return r;
        log_debug("Restoring %s: %s.", format == COMPRESSION_NONE ? "a checkpoint directory" : "an archive",
                 streamed ? "the page images stream from it to CRIU" :
                 format == COMPRESSION_NONE ? "CRIU reads the images in place" :
                            "extracted whole, as it has no index of its entries (an earlier cedana's, or repacked)");
        *ret_streamed = streamed;
        *ret_format = format;
        *ret_fd = TAKE_FD(images_fd);
        return 0;
}

/* The state a restore carries into CRIU's callback. */
typedef struct RestoreContext {
        const RestoreRequest *req;
        Streamer *streamer; /* the page images' source, when streamed */
        RestoredTree tree; /* once CRIU has built it */
        const char *source_job; /* the metadata's, for before_resume */
        Outcome outcome; /* the first failure */
} RestoreContext;

/* Signals pending for a process that CRIU stopped because it was stopped when dumped. */
static bool stopped_when_dumped(pid_t pid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        _cleanup_free_ char *text = NULL;
        if (read_full_file_at(AT_FDCWD, path, 1 << 16, &text, NULL) < 0)
                return false;
        static const int stops[] = { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };
        const char *fields[] = { "\nShdPnd:", "\nSigPnd:" };
        for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
                const char *v = strstr(text, fields[f]);
                uint64_t mask = v ? strtoull(v + strlen(fields[f]), NULL, 16) : 0;
                for (size_t i = 0; i < ELEMENTSOF(stops); i++)
                        if (mask & (UINT64_C(1) << (stops[i] - 1)))
                                return true;
        }
        return false;
}

/* CRIU's pre-resume: every task exists with its final credentials and is held by CRIU (ptrace,
 * at its last system call): nothing of the checkpoint's code has run yet. */
static int check_before_resume(RestoreContext *c, pid_t root) {
        const RestoreRequest *req = c->req;
        if (cancelled(req))
                return outcome_set(&c->outcome, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
        /* CRIU has read the page images: every byte of them passed its digest, or nothing of the
         * tree runs. */
        _cleanup_free_ char *corrupt = NULL;
        int r = c->streamer ? streamer_verify(c->streamer, &corrupt) : 0;
        if (r == -EBADMSG || r == -ENOLINK)
                return outcome_set(&c->outcome, checkpoint_content_outcome(r),
                                   "%s The restored processes were killed before they ran.", strna(corrupt));
        if (r < 0)
                return outcome_set(&c->outcome, r, "Failed to read the checkpoint's page images: %s.", strerror(-r));
        r = process_tree(root, &c->tree.pids, &c->tree.n_pids);
        if (r < 0)
                return outcome_set(&c->outcome, r, "Failed to list the restored processes: %s.", strerror(-r));
        c->tree.resume = calloc(c->tree.n_pids, sizeof(bool));
        if (!c->tree.resume)
                return outcome_set(&c->outcome, -ENOMEM, "Out of memory.");

        _cleanup_free_ char *what = NULL;
        pid_t bad = 0;
        r = process_tree_verify(c->tree.pids, c->tree.n_pids, &req->owner, &bad, &what);
        if (r == -EPERM)
                return outcome_set(&c->outcome, CEDANA_E_PRIVILEGE,
                                    "The checkpoint would restore process %i with %s, more than user %u may hold; "
                                    "it was killed before it ran.", (int) bad, strna(what), (unsigned) req->owner.uid);
        if (r < 0)
                return outcome_set(&c->outcome, r, "Failed to check the restored processes: %s.", strerror(-r));

        /* Held from here by a SIGSTOP that is pending when CRIU lets go: each task stops before
         * its first instruction, until the caller has recorded the tree and continues it. */
        for (size_t i = 0; i < c->tree.n_pids; i++) {
                c->tree.resume[i] = !stopped_when_dumped(c->tree.pids[i]);
                if (kill(c->tree.pids[i], SIGSTOP) < 0)
                        return outcome_set(&c->outcome, negative_errno(), "Failed to hold restored process %i: %m.",
                                            (int) c->tree.pids[i]);
        }
        if (req->before_resume) {
                char *err = NULL;
                c->tree.source_job = c->source_job;
                r = req->before_resume(&c->tree, req->userdata, &err);
                c->tree.source_job = NULL;
                if (r != 0) {
                        outcome_set(&c->outcome, r, "%s", err ?: "The restored job could not be set up.");
                        free(err);
                        return -1;
                }
        }
        return 0;
}

static int pre_resume(pid_t root, void *userdata) {
        RestoreContext *c = userdata;
        if (root <= 0)
                return outcome_set(&c->outcome, -ESRCH, "CRIU did not report the restored process.");
        int r = check_before_resume(c, root);
        if (r < 0) {
                /* CRIU 4.2 lets the tasks go even when this callback fails: a SIGKILL pending
                 * now ends each of them before its first instruction. */
                (void) kill(root, SIGKILL);
                restored_tree_kill(&c->tree);
        }
        return r;
}

/* After CRIU: every process still there, stopped, and what it may be. A second look, while
 * nothing of it has been allowed to run. */
static int check_after(RestoreContext *c, char **reterr) {
        _cleanup_free_ pid_t *now = NULL;
        size_t n = 0;
        int r = process_tree(c->tree.pids[0], &now, &n);
        if (r >= 0 && n != c->tree.n_pids)
                r = -ECHILD;
        _cleanup_free_ char *what = NULL;
        pid_t bad = 0;
        if (r >= 0)
                r = process_tree_verify(c->tree.pids, c->tree.n_pids, &c->req->owner, &bad, &what);
        if (r == -EPERM)
                return message_set(reterr, CEDANA_E_PRIVILEGE,
                                   "The checkpoint would restore process %i with %s, more than user %u may hold; "
                                   "it was killed before it ran.", (int) bad, strna(what), (unsigned) c->req->owner.uid);
        if (r < 0)
                return message_set(reterr, CEDANA_E_CRIU_FAILED,
                                   "The restored processes changed before they were allowed to run; they were killed.");
        return 0;
}

static void fill_stats(const RestoreRequest *req, const CheckpointMetadata *m, uint64_t prepare_usec,
                       uint64_t criu_usec) {
        CheckpointStats *st = req->ret_stats;
        if (!st)
                return;
        *st = (CheckpointStats) { .image_bytes = m->size, .prepare_usec = prepare_usec, .criu_usec = criu_usec };
        /* CRIU wrote its figures into its working directory (the log directory) once it let go
         * of the tree. */
        (void) criu_stats_read(req->log_dir_fd, CRIU_STATS_RESTORE, &st->criu);
        struct stat sst;
        st->stored_bytes = fstat(req->source_fd, &sst) >= 0 && S_ISREG(sst.st_mode) ? (uint64_t) sst.st_size : m->size;
}

/* Each kind of checkpoint is restored as what it is: a container by its runtime, which then
 * knows it; a process tree by CRIU into a job. */
static int check_kind(const RestoreRequest *req, const CheckpointMetadata *m, char **reterr) {
        const char *asked = req->containerd ? "containerd" : req->runc ? "runc" : NULL;
        const char *runtime = m->container.runtime;
        if (asked && !runtime)
                return message_set(reterr, CEDANA_E_WRONG_KIND, "This is a checkpoint of %s %s, not of a container; "
                                   "restore it with 'cedana restore %s'.", m->job ? "job" : "process",
                                   m->job ?: "", m->job ? "job" : "process --path PATH");
        if (runtime && !streq_ptr(asked, runtime))
                return message_set(reterr, CEDANA_E_WRONG_KIND, "This is a checkpoint of %s container %s; restore it "
                                   "with 'cedana restore %s --path PATH'.", runtime, m->container.id, runtime);
        return 0;
}

/* Whether fd (and, for a directory, every file in it) only root can have written. */
static bool written_by_root(int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !stat_only_root_writes(&st))
                return false;
        if (!S_ISDIR(st.st_mode))
                return true;
        DIR *d;
        if (opendir_at(fd, &d) < 0)
                return false;
        bool ok = true;
        struct dirent *de;
        while (ok && (de = readdir(d)))
                ok = streq(de->d_name, ".") || streq(de->d_name, "..") ||
                     (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && stat_only_root_writes(&st));
        closedir(d);
        return ok;
}

/* containerd's record of the container in a checkpoint (its OCI spec: hooks, mounts,
 * capabilities) is acted on with root's powers. So it is taken only from a checkpoint a record
 * vouches for, one cedanad wrote to the object store, or files only root could have written. */
static int check_containerd_source(const RestoreRequest *req, char **reterr) {
        if (req->expected_digest || req->remote || written_by_root(req->source_fd))
                return 0;
        return message_set(reterr, CEDANA_E_NOT_PERMITTED, "This containerd checkpoint is not one cedanad recorded, "
                           "and not only root could have written it; its container's OCI spec would run with root's "
                           "powers. If you trust it, copy it as root into a directory only root can write, and "
                           "restore that copy.");
}

/* A container's checkpoint, verified: its runtime restores it, running; only root's. */
static int restore_container(const RestoreRequest *req, const CheckpointMetadata *m, int images_fd, RestoredTree *ret,
                             char **reterr) {
        if (req->owner.uid != 0)
                return message_set(reterr, CEDANA_E_NOT_PERMITTED, "Containers are root's; only root restores them.");
        const char *id = req->container_id ?: m->container.id;
        pid_t pid = 0;
        int r;
        if (req->containerd) {
                r = check_containerd_source(req, reterr);
                if (r != 0)
                        return r;
                /* Into the namespace asked for, else the one it was dumped from. */
                Containerd cd = *req->containerd;
                cd.namespace = cd.namespace ?: m->container.namespace;
                ContainerdRestore cr = {
                        .id = id,
                        .snapshot_parent = m->container.parent,
                        .images_dir_fd = images_fd,
                        .work_dir_fd = req->log_dir_fd,
                        .tcp_established = m->options.tcp_established || req->options->tcp_established,
                        .file_locks = m->options.file_locks,
                };
                r = containerd_restore(&cd, &cr, &pid, reterr);
        } else {
                RuncRestore rr = {
                        .id = id,
                        .bundle = req->container_bundle ?: m->container.bundle,
                        .images_dir_fd = images_fd,
                        .work_dir_fd = req->log_dir_fd,
                        .tcp_established = m->options.tcp_established || req->options->tcp_established,
                        .file_locks = m->options.file_locks,
                        .timeout_sec = req->timeout_sec,
                };
                r = runc_restore(req->runc, &rr, &pid, reterr);
        }
        if (r != 0) {
                _cleanup_free_ char *criu = criu_log_last_error(req->log_dir_fd, req->log_name);
                if (r == CEDANA_E_RUNTIME_FAILED && criu) {
                        free(*reterr);
                        *reterr = NULL;
                        r = message_set(reterr, CEDANA_E_CRIU_FAILED, "CRIU failed to restore container %s: %s.", id, criu);
                }
                return r;
        }
        ret->pids = calloc(1, sizeof(pid_t));
        ret->resume = calloc(1, sizeof(bool));
        if (!ret->pids || !ret->resume || (req->ret_container_id && !(*req->ret_container_id = strdup(id))))
                return -ENOMEM;
        ret->pids[0] = pid;
        ret->n_pids = 1;
        return 0;
}

int checkpoint_restore(const RestoreRequest *req, RestoredTree *ret, char **reterr) {
        _cleanup_(verifier_freep) Verifier *v = NULL;
        /* Outlives the streamer that reads them. */
        _cleanup_(page_fds_done) PageFds page_fds = {};
        _cleanup_(streamer_freep) Streamer *streamer = NULL;
        _cleanup_close_ int images_fd = -EBADF;
        Compression format = COMPRESSION_NONE;
        bool streamed = false;
        _cleanup_free_ char *log_dir = NULL, *log_path = NULL, *criu_error = NULL, *forged = NULL;
        RestoreContext c = { .req = req };

        if (fd_get_path(req->log_dir_fd, &log_dir) >= 0)
                log_path = path_join(log_dir, req->log_name);
        uint64_t start = now_monotonic_usec();
        int r = verifier_new(req->expected_digest, &v);
        if (r == 0)
                r = open_images(req, v, &images_fd, &streamed, &format, &page_fds, reterr);
        if (r == 0 && cancelled(req))
                r = message_set(reterr, CEDANA_E_CANCELLED, RESTORE_CANCELLED_MESSAGE);
        if (r != 0)
                goto finish;
        const CheckpointMetadata *m = verifier_get_metadata(v);
        c.source_job = m->job;
        r = check_kind(req, m, reterr);
        if (r != 0)
                goto finish;
        if (restores_container(req)) {
                progress(req, "restoring");
                uint64_t criu_start = now_monotonic_usec();
                r = restore_container(req, m, images_fd, &c.tree, reterr);
                if (r == 0) {
                        fill_stats(req, m, criu_start - start, now_monotonic_usec() - criu_start);
                        *ret = c.tree;
                        c.tree = (RestoredTree) {};
                }
                goto finish;
        }
        /* What the images ask for, before CRIU acts on it: an unprivileged CRIU cannot grant more
         * and would stop half-way; the restored tasks are checked again anyway. */
        r = images_check_creds(images_fd, m, &req->owner, &forged);
        if (r == -EPERM) {
                r = message_set(reterr, CEDANA_E_PRIVILEGE, "The checkpoint would restore %s, more than user %u may "
                                "hold; refused before anything of it ran.", forged, (unsigned) req->owner.uid);
                goto finish;
        }
        if (r < 0) {
                r = message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "%s", strna(forged));
                goto finish;
        }

        int attach_fds[2] = { req->attach_stdin_fd, req->attach_stdout_fd };
        if (m->options.attach_pipes && (attach_fds[0] < 0 || attach_fds[1] < 0)) {
                r = message_set(reterr, CEDANA_E_INVALID_ARGS,
                                "This is a checkpoint of an attached job, whose terminal was cedanad's: restore it "
                                "with --attach, or with 'cedana restore job'.");
                goto finish;
        }
        if (m->options.attach_tty && req->attach_tty_fd < 0) {
                r = message_set(reterr, CEDANA_E_INVALID_ARGS,
                                "This is a checkpoint of an attached job, whose terminal was cedanad's: restore it "
                                "with --attach, or with 'cedana restore job'.");
                goto finish;
        }
        if (req->ret_attached)
                *req->ret_attached = m->options.attach_pipes ? ATTACH_PIPES :
                                     m->options.attach_tty   ? ATTACH_TTY :
                                                               ATTACH_NONE;
        /* CRIU hands these fds to the tasks in place of the resources the keys name. */
        int inherit_fds[4];
        char *inherit_keys[5] = {};
        size_t n_inherit = 0;
        if (m->options.attach_pipes)
                for (size_t i = 0; i < 2; i++) {
                        inherit_fds[n_inherit] = attach_fds[i];
                        inherit_keys[n_inherit++] = m->options.attach_pipes[i];
                }
        if (m->options.attach_tty) {
                /* CRIU does not restore an external terminal's modes: the job gets its own back. */
                if (m->options.attach_tty_modes && tty_modes_set(req->attach_tty_fd, m->options.attach_tty_modes) < 0)
                        log_debug("Could not set the restored job's terminal modes; it starts with the defaults.");
                inherit_fds[n_inherit] = req->attach_tty_fd;
                inherit_keys[n_inherit++] = m->options.attach_tty;
        }
        bool job_log_used = m->options.job_log && req->job_log_fd >= 0;
        if (job_log_used) {
                inherit_fds[n_inherit] = req->job_log_fd;
                inherit_keys[n_inherit++] = m->options.job_log;
        }
        if (req->ret_job_log_used)
                *req->ret_job_log_used = job_log_used;

        CriuParams p = {
                .binary = req->criu_binary,
                .owner = &req->owner,
                .images_dir_fd = images_fd,
                .work_dir_fd = req->log_dir_fd,
                .log_name = req->log_name,
                .log_level = req->criu_log_level,
                /* What the dump needed, the restore needs too. */
                .tcp_established = m->options.tcp_established || req->options->tcp_established,
                .shell_job = m->options.shell_job || req->options->shell_job,
                .file_locks = m->options.file_locks,
                .inherit_fds = inherit_fds,
                .inherit_keys = inherit_keys,
                .n_inherit = n_inherit,
                .pre_resume = pre_resume,
                .userdata = &c,
                .timeout_sec = req->timeout_sec,
        };
        if (streamed) {
                StreamerParams sp = { .images_dir_fd = images_fd, .uid = req->owner.uid, .gid = req->owner.gid,
                                      .source = source_of(req), .format = format, .metadata = m,
                                      .page_fds = page_fds.fds };
                r = streamer_start(&sp, &streamer);
                if (r < 0)
                        goto finish;
                c.streamer = streamer;
                p.stream = true;
        }
        progress(req, "restoring");
        pid_t root = 0;
        uint64_t criu_start = now_monotonic_usec();
        r = criu_run_restore(&p, log_path ?: req->log_name, &root, &criu_error);
        uint64_t criu_end = now_monotonic_usec();
        if (c.outcome.code != 0 && r != -ETIME) {
                restored_tree_kill(&c.tree);
                r = message_set(reterr, c.outcome.code, "%s", strna(c.outcome.message));
                goto finish;
        }
        if (r < 0 || c.tree.n_pids == 0 || c.tree.pids[0] != root) {
                restored_tree_kill(&c.tree);
                /* A corrupt page image is the cause to name, whatever CRIU stumbled on first. */
                _cleanup_free_ char *corrupt = NULL;
                int k = streamer ? streamer_verify(streamer, &corrupt) : 0;
                if (k == -EBADMSG || k == -ENOLINK)
                        r = message_set(reterr, checkpoint_content_outcome(k), "%s", strna(corrupt));
                else
                        r = message_set(reterr, CEDANA_E_CRIU_FAILED, "%s",
                                        criu_error ?: "CRIU failed to restore the checkpoint.");
                goto finish;
        }
        r = check_after(&c, reterr);
        if (r != 0) {
                restored_tree_kill(&c.tree);
                goto finish;
        }
        fill_stats(req, m, criu_start - start, criu_end - criu_start);
        if (req->ret_stats)
                req->ret_stats->streamed_bytes = streamer_bytes(streamer);
        *ret = c.tree;
        c.tree = (RestoredTree) {};

finish:
        (void) identity_reset_fs();
        restored_tree_done(&c.tree);
        outcome_done(&c.outcome);
        return r;
}
