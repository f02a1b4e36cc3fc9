/* SPDX-License-Identifier: Apache-2.0 */
/* Dump and restore from start to finish: staging beside the target, CRIU as the owner, the
 * commit (metadata, archive, fsync, rename) while CRIU still holds the tasks frozen. */

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive-stream.h"
#include "archive.h"
#include "checkpoint.h"
#include "codec.h"
#include "collector.h"
#include "build-config.h"
#include "criu.h"
#include "fd-util.h"
#include "identity.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "path-util.h"
#include "process.h"
#include "strv.h"

#define CUDA_PLUGIN_PATHS "/usr/local/lib/criu/cuda_plugin.so", "/usr/lib/criu/cuda_plugin.so"

void dump_result_done(DumpResult *r) {
        free(r->path);
        free(r->metadata_checksum);
        *r = (DumpResult) {};
}

static int set_error(char **reterr, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **reterr, int r, const char *fmt, ...) {
        if (reterr && !*reterr) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(reterr, fmt, ap) < 0)
                        *reterr = NULL;
                va_end(ap);
        }
        return r;
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

static void progress(ProgressFunc f, void *userdata, const char *phase, uint64_t done, uint64_t total) {
        if (f)
                f(phase, done, total, userdata);
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
        int staging_fd;
        int partial_fd;         /* the archive being written, for compressed checkpoints */
        ArchiveStream *stream;  /* ... and its writer */
        Collector *collector;   /* takes images in while CRIU writes them */
        char *final_name;
        DumpResult result;
        char *error;
} DumpContext;

static int chown_tree(int dir_fd, uid_t uid, gid_t gid) {
        DIR *d;
        int r = opendir_at(dir_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && r == 0)
                        r = negative_errno();
        closedir(d);
        if (r == 0 && fchown(dir_fd, uid, gid) < 0)
                r = negative_errno();
        return r;
}

/* What the checkpoint is, without its files yet. */
static int metadata_for(const DumpRequest *req, CheckpointMetadata **ret) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        int r = metadata_new(&m);
        if (r < 0)
                return r;
        char host[256] = "";
        (void) gethostname(host, sizeof(host) - 1);
        m->format_version = METADATA_FORMAT_VERSION;
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
        if (req->options->external && !(m->options.external = strv_copy(req->options->external)))
                return -ENOMEM;
        if (req->options->attach_pipes && !(m->options.attach_pipes = strv_copy(req->options->attach_pipes)))
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

static int metadata_text(const CheckpointMetadata *m, char **ret_text, char **ret_checksum) {
        _cleanup_json_ JsonVariant *v = NULL;
        int r = metadata_to_json(m, &v);
        if (r < 0)
                return r;
        const char *checksum = json_string(json_object_get(v, "checksum"));
        if (checksum && !(*ret_checksum = strdup(checksum)))
                return -ENOMEM;
        return json_format(v, JSON_FORMAT_PRETTY, ret_text);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Everything but cedana.json, which goes first so a reader meets the metadata before images. */
static int list_archive_names(int dir_fd, char ***ret) {
        DIR *d;
        int r = opendir_at(dir_fd, &d);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **names = NULL;
        r = strv_extend(&names, METADATA_FILENAME);
        struct dirent *de;
        while (r >= 0 && (de = readdir(d)))
                if (de->d_name[0] != '.' && !streq(de->d_name, METADATA_FILENAME))
                        r = strv_extend(&names, de->d_name);
        closedir(d);
        if (r < 0)
                return r;
        size_t n = strv_length(names);
        qsort(names + 1, n - 1, sizeof(char *), strcmp_ptr);
        *ret = TAKE_PTR(names);
        return 0;
}

/* The images are in already: the metadata goes last, then the archive is complete. */
static int finish_stream(DumpContext *c, const char *text) {
        int r = archive_stream_add(c->stream, METADATA_FILENAME, text, strlen(text));
        if (r >= 0)
                r = archive_stream_finish(c->stream);
        return r;
}

/* The slow way, when the collector could not follow CRIU: the whole archive again, from the
 * staging directory, with the metadata first. */
static int rewrite_archive(DumpContext *c, const CheckpointMetadata *m) {
        const DumpRequest *req = c->req;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *err = NULL;
        c->stream = archive_stream_free(c->stream);
        int r = metadata_write(m, c->staging_fd);
        if (r >= 0)
                r = list_archive_names(c->staging_fd, &names);
        if (r >= 0 && (ftruncate(c->partial_fd, 0) < 0 || lseek(c->partial_fd, 0, SEEK_SET) < 0))
                r = negative_errno();
        if (r >= 0)
                r = archive_write_dir(c->staging_fd, names, c->partial_fd, req->options->compression, req->threads,
                                      NULL, &err);
        if (r < 0 && err && r != -ENOSPC)
                (void) set_error(&c->error, r, "%s", err);
        return r;
}

static int sync_directory_checkpoint(DumpContext *c, const CheckpointMetadata *m) {
        const DumpRequest *req = c->req;
        /* CRIU wrote the images as the owner; the checkpoint belongs to the caller. Each file is
         * fsynced, not the file system: that could wait for anybody's writes. */
        int r = chown_tree(c->staging_fd, req->caller.uid, req->caller.gid);
        for (size_t i = 0; r >= 0 && i < m->n_files; i++)
                r = fsync_at(c->staging_fd, m->files[i].name);
        if (r >= 0)
                r = fsync_at(c->staging_fd, METADATA_FILENAME);
        if (r >= 0 && renameat2(req->dir_fd, req->staging_name, req->dir_fd, c->final_name, RENAME_NOREPLACE) < 0)
                r = negative_errno();
        c->result.size = m->size;
        return r;
}

static int sync_archive(DumpContext *c) {
        const DumpRequest *req = c->req;
        struct stat st;
        if (fsync(c->partial_fd) < 0 || fstat(c->partial_fd, &st) < 0)
                return negative_errno();
        if (renameat2(req->dir_fd, req->partial_name, req->dir_fd, c->final_name, RENAME_NOREPLACE) < 0)
                return negative_errno();
        c->result.size = (uint64_t) st.st_size;
        return 0;
}

static int commit(DumpContext *c) {
        const DumpRequest *req = c->req;
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_free_ char *text = NULL;
        bool directory = req->options->compression == COMPRESSION_NONE;

        progress(req->progress, req->userdata, "checksumming", 0, 0);
        int r = metadata_for(req, &m);
        if (r < 0)
                return r;
        /* A directory is checksummed now; an archive's images were checksummed as they went in,
         * unless one changed after it was read, and then the archive is written again. */
        bool scan = directory;
        if (!directory) {
                r = collector_finish(c->collector, m);
                if (r == -EAGAIN) {
                        log_debug("CRIU changed an image after it was read; the archive is written again.");
                        scan = true;
                        metadata_free(m);
                        m = NULL;
                        r = metadata_for(req, &m);
                }
        }
        if (r >= 0 && scan)
                r = metadata_scan_dir(m, c->staging_fd);
        if (r >= 0)
                r = metadata_text(m, &text, &c->result.metadata_checksum);
        if (r < 0)
                return r;
        c->result.image_size = m->size;
        c->result.time_usec = m->time_usec;

        progress(req->progress, req->userdata, directory ? "syncing" : "compressing", 0, m->size);
        if (directory)
                r = metadata_write(m, c->staging_fd);
        else
                r = scan ? rewrite_archive(c, m) : finish_stream(c, text);
        if (r >= 0)
                r = directory ? sync_directory_checkpoint(c, m) : sync_archive(c);
        if (r >= 0)
                r = fsync_directory_of(req->dir_fd);
        return r;
}

static int post_dump(void *userdata) {
        DumpContext *c = userdata;
        const DumpRequest *req = c->req;
        int r;

        /* CRIU froze whatever had req->pid when it started; if our pidfd's process is gone, the
         * pid was recycled (or the process exited) and this is not the process we were asked for. */
        if (!pidfd_is_alive(req->pidfd))
                return set_error(&c->error, -ESRCH,
                                 "Process %i exited while it was being dumped; no checkpoint was written.",
                                 (int) req->pid);

        /* The commit is done with root's file system rights: the staging directory and the
         * archive were opened as the caller already, and the rename stays within dir. */
        r = identity_reset_fs();
        if (r >= 0)
                r = commit(c);
        /* Dead while we wrote: whatever it did last is not in the checkpoint, so there is none. */
        if (r >= 0 && !pidfd_is_alive(req->pidfd)) {
                (void) rm_rf_at(req->dir_fd, c->final_name);
                r = -ESRCH;
        }
        if (r == -ESRCH)
                return set_error(&c->error, -ESRCH,
                                 "Process %i exited while it was being dumped; no checkpoint was written.",
                                 (int) req->pid);
        if (r < 0) {
                _cleanup_free_ char *dir = dir_display(req->dir_fd);
                if (r == -ENOSPC || r == -EDQUOT)
                        return set_error(&c->error, -ENOSPC,
                                         "No space left in %s while writing checkpoint %s; the process keeps running.",
                                         dir, c->final_name);
                if (r == -EEXIST)
                        return set_error(&c->error, -EEXIST,
                                         "A checkpoint named %s appeared in %s during the dump; choose another --name.",
                                         c->final_name, dir);
                return set_error(&c->error, r, "Failed to write checkpoint %s in %s: %s.", c->final_name, dir,
                                 strerror(-r));
        }
        /* Committed: what is left in staging is garbage. */
        if (req->options->compression != COMPRESSION_NONE)
                (void) rm_rf_at(req->dir_fd, req->staging_name);
        _cleanup_free_ char *dir = NULL;
        r = fd_get_path(req->dir_fd, &dir);
        if (r < 0)
                return r;
        c->result.path = path_join(dir, c->final_name);
        if (!c->result.path)
                return -ENOMEM;
        /* Recorded before CRIU stops the process: a crash after this point loses nothing. */
        if (req->committed) {
                progress(req->progress, req->userdata, "recording", 0, 0);
                r = req->committed(&c->result, req->userdata, &c->error);
                if (r < 0) {
                        (void) rm_rf_at(req->dir_fd, c->final_name);
                        return r;
                }
        }
        return 0;
}

static int refuse_gpu(const DumpRequest *req, char **reterr) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = process_tree(req->pid, &pids, &n);
        if (r < 0)
                return r == -ESRCH ? set_error(reterr, r, "Process %i does not exist.", (int) req->pid) : r;
        r = process_tree_uses_gpu(pids, n);
        if (r > 0 && !cuda_plugin_installed())
                return set_error(reterr, -EOPNOTSUPP,
                                 "Process %i uses an NVIDIA GPU; dumping it needs CRIU's CUDA plugin "
                                 "(cuda_plugin.so in /usr/lib/criu), which is not installed.",
                                 (int) req->pid);
        return 0;
}

/* Staging directory and (for archives) the archive, created as the caller, and the collector. */
static int prepare(DumpContext *c, char **reterr) {
        const DumpRequest *req = c->req;
        _cleanup_free_ char *dir = dir_display(req->dir_fd);
        struct stat st;

        /* As the caller from here: the kernel decides whether the caller may write to dir. */
        int r = identity_set_fs(&req->caller);
        if (r < 0)
                return r;
        if (fstatat(req->dir_fd, c->final_name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                return set_error(reterr, -EEXIST, "A checkpoint named %s already exists in %s; choose another --name.",
                                 c->final_name, dir);
        if (mkdirat(req->dir_fd, req->staging_name, 0700) < 0) {
                r = negative_errno();
                if (r == -EACCES || r == -EPERM || r == -EROFS)
                        return set_error(reterr, -EACCES, "You cannot write to %s; choose another --dir.", dir);
                if (r == -ENOSPC || r == -EDQUOT)
                        return set_error(reterr, -ENOSPC, "No space left in %s; the process keeps running.", dir);
                return r;
        }
        c->staging_fd = openat(req->dir_fd, req->staging_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->staging_fd < 0)
                return negative_errno();
        if (req->options->compression != COMPRESSION_NONE) {
                c->partial_fd = openat(req->dir_fd, req->partial_name,
                                       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (c->partial_fd < 0)
                        return negative_errno();
                r = archive_stream_new(c->partial_fd, req->options->compression, req->threads, &c->stream);
                if (r < 0)
                        return r;
        }
        /* CRIU runs as the process's owner and must be able to write the images. */
        if (req->owner.uid != req->caller.uid) {
                r = identity_reset_fs();
                if (r >= 0 && fchown(c->staging_fd, req->owner.uid, req->owner.gid) < 0)
                        r = negative_errno();
                if (r < 0)
                        return r;
        }
        /* Archives are written while CRIU dumps. A directory checkpoint is checksummed afterwards,
         * on two cores: following CRIU would only slow small dumps down (measured ~15 ms). */
        return c->stream ? collector_start(c->staging_fd, c->stream, &c->collector) : 0;
}

int checkpoint_dump(const DumpRequest *req, DumpResult *ret, char **reterr) {
        Compression comp = req->options->compression;
        _cleanup_free_ char *dir = dir_display(req->dir_fd), *log_dir = dir_display(req->log_dir_fd);
        _cleanup_free_ char *log_path = path_join(log_dir ?: "", req->log_name), *criu_error = NULL;
        DumpContext c = { .req = req, .staging_fd = -EBADF, .partial_fd = -EBADF };
        int r;

        if (comp < 0 || comp >= _COMPRESSION_MAX)
                return -EINVAL;
        if (asprintf(&c.final_name, "%s%s", req->name, compression_suffix(comp)) < 0)
                return -ENOMEM;

        r = refuse_gpu(req, reterr);
        if (r >= 0)
                r = prepare(&c, reterr);
        if (r < 0)
                goto finish;

        CriuParams p = {
                .binary = req->criu_binary,
                .owner = &req->owner,
                .pid = req->pid,
                .images_dir_fd = c.staging_fd,
                .work_dir_fd = req->log_dir_fd,
                .log_name = req->log_name,
                .log_level = req->criu_log_level,
                .tcp_established = req->options->tcp_established,
                .shell_job = req->options->shell_job,
                .file_locks = req->options->file_locks,
                .link_remap = req->options->link_remap,
                .leave_running = req->options->leave_running,
                .external = req->options->external,
                .post_dump = post_dump,
                .userdata = &c,
        };
        progress(req->progress, req->userdata, "dumping", 0, 0);
        r = criu_run_dump(&p, log_path ?: req->log_name, &criu_error);
        if (r < 0) {
                if (c.error) {
                        *reterr = TAKE_PTR(c.error);
                } else if (!pidfd_is_alive(req->pidfd)) {
                        r = set_error(reterr, -ESRCH, "Process %i exited while it was being dumped; no checkpoint was written.",
                                      (int) req->pid);
                } else if (criu_error && strstr(criu_error, "No space left on device")) {
                        r = set_error(reterr, -ENOSPC, "No space left in %s for checkpoint %s; the process keeps running.",
                                      dir, c.final_name);
                } else if (reterr)
                        *reterr = TAKE_PTR(criu_error);
                goto finish;
        }
        *ret = c.result;
        c.result = (DumpResult) {};
        r = 0;

finish:
        collector_free(c.collector);
        archive_stream_free(c.stream);
        safe_close(c.partial_fd);
        if (r < 0) {
                /* Nothing that looks like a checkpoint stays behind. */
                (void) identity_reset_fs();
                (void) rm_rf_at(req->dir_fd, req->staging_name);
                (void) unlinkat(req->dir_fd, req->partial_name, 0);
        }
        (void) identity_reset_fs();
        safe_close(c.staging_fd);
        free(c.final_name);
        free(c.error);
        dump_result_done(&c.result);
        return r;
}

/* The state a restore carries into CRIU's callbacks. */
typedef struct RestoreContext {
        const RestoreRequest *req;
        char *error;
} RestoreContext;

static int pre_resume(pid_t root, void *userdata) {
        RestoreContext *c = userdata;
        const RestoreRequest *req = c->req;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (root <= 0)
                return set_error(&c->error, -ESRCH, "CRIU did not report the restored process.");
        int r = process_tree(root, &pids, &n);
        if (r < 0)
                return set_error(&c->error, r, "Failed to list the restored processes: %s.", strerror(-r));

        /* CRIU restores whatever credentials the images ask for, up to its own: check them while
         * the tasks cannot run yet. Root may restore anything. */
        if (req->owner.uid != 0) {
                pid_t bad = 0;
                r = process_tree_check_privilege(pids, n, &req->owner, &bad);
                if (r == -EPERM)
                        return set_error(&c->error, -EPERM,
                                         "The checkpoint would restore process %i with other credentials or "
                                         "capabilities than yours; refused.", (int) bad);
                if (r < 0)
                        return r;
        }
        if (req->before_resume) {
                r = req->before_resume(pids, n, req->userdata, &c->error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_images(const RestoreRequest *req, CheckpointMetadata **ret_meta, int *ret_fd, char **reterr) {
        Compression format;
        int r = codec_detect(req->source_fd, &format);
        if (r == -ENODATA)
                return set_error(reterr, -EMEDIUMTYPE, "The file is empty; it is not a checkpoint.");
        if (r == -EMEDIUMTYPE || r == -EBADFD)
                return set_error(reterr, -EMEDIUMTYPE,
                                 "This is not a cedana checkpoint: neither a checkpoint directory nor a tar, gzip, "
                                 "lz4, zlib or zstd archive.");
        if (r < 0)
                return r;

        _cleanup_close_ int images_fd = -EBADF;
        _cleanup_(archive_file_list_freep) ArchiveFileList *extracted = NULL;
        if (format == COMPRESSION_NONE) {
                images_fd = fcntl(req->source_fd, F_DUPFD_CLOEXEC, 3);
                if (images_fd < 0)
                        return negative_errno();
        } else {
                /* Extracted as the owner, so CRIU (running as the owner) can read the images. */
                r = identity_set_fs(&req->owner);
                if (r < 0)
                        return r;
                images_fd = fcntl(req->staging_fd, F_DUPFD_CLOEXEC, 3);
                if (images_fd < 0)
                        return negative_errno();
                progress(req->progress, req->userdata, "extracting", 0, 0);
                if (lseek(req->source_fd, 0, SEEK_SET) < 0)
                        return negative_errno();
                ArchiveLimits limits = ARCHIVE_LIMITS_DEFAULT;
                if (req->max_archive_bytes > 0)
                        limits.max_bytes = limits.max_entry_bytes = req->max_archive_bytes;
                _cleanup_free_ char *err = NULL;
                r = archive_extract(req->source_fd, images_fd, &limits, NULL, &extracted, &err);
                (void) identity_reset_fs();
                if (r == -EFBIG)
                        return set_error(reterr, -EFBIG, "%s", err ?: "The archive is larger than [Restore] MaxArchiveSize= allows.");
                if (r == -ENOSPC)
                        return set_error(reterr, -ENOSPC, "No space left to extract the checkpoint.");
                if (r < 0)
                        return set_error(reterr, r == -EMEDIUMTYPE ? r : -EBADMSG, "%s",
                                         err ?: "The checkpoint archive cannot be read.");
        }

        progress(req->progress, req->userdata, "verifying", 0, 0);
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_free_ char *err = NULL;
        r = metadata_read(images_fd, &m, &err);
        if (r == -ENOENT)
                return set_error(reterr, -EMEDIUMTYPE, "%s", err ?: "This is not a cedana checkpoint (no cedana.json).");
        if (r < 0)
                return set_error(reterr, r, "%s", err ?: "The checkpoint's metadata cannot be read.");
        /* An archive's files were checksummed as they were extracted. */
        r = extracted ? metadata_verify_extracted(m, extracted, &err) : metadata_verify(m, images_fd, &err);
        if (r < 0)
                return set_error(reterr, r, "%s", err ?: "The checkpoint does not match its metadata.");

        *ret_meta = TAKE_PTR(m);
        *ret_fd = TAKE_FD(images_fd);
        return 0;
}

int checkpoint_restore(const RestoreRequest *req, pid_t *ret_pid, char **reterr) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_close_ int images_fd = -EBADF;
        _cleanup_free_ char *log_dir = dir_display(req->log_dir_fd);
        _cleanup_free_ char *log_path = path_join(log_dir ?: "", req->log_name), *criu_error = NULL;
        RestoreContext c = { .req = req };
        pid_t pid = 0;

        int r = open_images(req, &m, &images_fd, reterr);
        if (r < 0)
                goto finish;
        int attach_fds[2] = { req->attach_stdin_fd, req->attach_stdout_fd };
        if (m->options.attach_pipes && (attach_fds[0] < 0 || attach_fds[1] < 0)) {
                r = set_error(reterr, -EINVAL,
                              "This is a checkpoint of an attached job, whose terminal was cedanad's: restore it "
                              "with --attach, or with 'cedana restore job'.");
                goto finish;
        }
        if (req->ret_attached)
                *req->ret_attached = m->options.attach_pipes != NULL;

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
                .external = NULL,
                .inherit_fds = attach_fds,
                .inherit_keys = m->options.attach_pipes,
                .n_inherit = m->options.attach_pipes ? 2 : 0,
                .pre_resume = pre_resume,
                .userdata = &c,
        };
        progress(req->progress, req->userdata, "restoring", 0, 0);
        r = criu_run_restore(&p, log_path ?: req->log_name, &pid, &criu_error);
        if (r < 0) {
                if (reterr && !*reterr)
                        *reterr = c.error ? TAKE_PTR(c.error) : TAKE_PTR(criu_error);
                goto finish;
        }
        *ret_pid = pid;
        r = 0;

finish:
        (void) identity_reset_fs();
        free(c.error);
        return r;
}
