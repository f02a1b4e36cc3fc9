/* SPDX-License-Identifier: Apache-2.0 */
/* Dump and restore, start to finish, as plain functions with no bus: staging, CRIU, metadata,
 * archives, verification, publication. cedanad runs them in a worker process; cedana restore
 * --no-server runs checkpoint_restore() itself.
 *
 * Both return 0, a positive CedanaError (a documented outcome) with one sentence in *reterr, or
 * a negative errno for unexpected failures (*reterr may say more). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus-error.h"
#include "compression.h"
#include "criu-stats.h"
#include "identity.h"
#include "metadata.h"
#include "options.h"
#include "containerd.h"
#include "runc.h"
#include "s3.h"

/* A restored tree, stopped until the caller lets it run (restored_tree_resume()). */
typedef struct RestoredTree {
        pid_t *pids;    /* every process, pids[0] the root */
        size_t n_pids;
        bool *resume;   /* per process: false for those that were stopped when dumped */
        const char *source_job; /* the dumped job's name, or NULL; valid in before_resume only */
} RestoredTree;

void restored_tree_done(RestoredTree *t);
/* SIGCONT to every process that is to run; SIGKILL to all. */
void restored_tree_resume(const RestoredTree *t);
void restored_tree_kill(const RestoredTree *t);

/* Called with a phase ("dumping", "compressing", "syncing", "recording"; "extracting",
 * "verifying", "restoring") and bytes done/total (total 0 when unknown). */
typedef void (*ProgressFunc)(const char *phase, uint64_t done, uint64_t total, void *userdata);
/* Whether the caller asked to stop; asked at the points where stopping leaves nothing behind.
 * May be called from another thread than the one that called the dump or restore. */
typedef bool (*CancelledFunc)(void *userdata);

#define DUMP_CANCELLED_MESSAGE "Cancelled; %s keeps running, nothing was written."
/* What a dump's messages call its target: "process 1234" or "container web". */
#define DUMP_TARGET_MAX 160
void dump_target_describe(pid_t pid, const char *container_id, bool capital, char buf[static DUMP_TARGET_MAX]);
#define RESTORE_CANCELLED_MESSAGE "Cancelled; nothing was restored and the checkpoint is unchanged."

/* What a dump wrote, as its record needs it. */
typedef struct DumpResult {
        char *path;              /* final path of the checkpoint (directory or archive) */
        char *final_name;        /* its name inside the directory */
        uint64_t size;           /* bytes on disk */
        uint64_t image_size;     /* bytes of CRIU images, before compression */
        uint64_t time_usec;      /* as recorded in the metadata */
        char digest[METADATA_DIGEST_SIZE]; /* of its cedana.json: what the record vouches for */
        dev_t dev;               /* of the directory or archive, before and after publication */
        ino_t ino;
        CheckpointStats stats;   /* CRIU's figures where it wrote them, and ours */
} DumpResult;

void dump_result_done(DumpResult *r);

typedef struct DumpRequest {
        const char *type; /* "process", "job", "runc" or "containerd" */
        const char *job;  /* the job's name for type "job", else NULL */
        pid_t pid;        /* root of the tree to dump */
        int pidfd;        /* of pid: a dump of a recycled pid is refused */
        Identity caller;  /* checkpoint files are created as, and owned by, the caller */
        Identity owner;   /* the target's owner: CRIU runs as this uid (unprivileged unless 0) */
        int dir_fd;       /* the directory the checkpoint goes into, opened as the caller */
        const char *name; /* checkpoint name; the file is name + compression_suffix() */
        /* Names chosen (and recorded) by the caller before the dump, so that a crash leaves
         * nothing that is not cleaned up at the next start: the staging directory CRIU writes
         * into, and the archive being written where the file system has no O_TMPFILE. */
        const char *staging_name;
        const char *partial_name;
        const DumpOptions *options;
        /* Type "runc": the runtime that runs the container, and what it said of it (pid is
         * its init); runc drives CRIU, and knows the container afterwards. NULL otherwise. */
        const Runc *runc;
        const RuncState *container;
        /* Type "containerd": containerd and what it said of the container (container->pid is
         * its task's init, container->id its id); its shim's runc drives CRIU. NULL otherwise. */
        const Containerd *containerd;
        const ContainerdContainer *containerd_container;
        /* An s3:// checkpoint: dir_fd is cedanad's own scratch directory (written as root), and
         * the archive is uploaded as s3_bucket/s3_key while the tree is still frozen, instead of
         * published there; DumpResult.path is the s3:// URL. NULL for local checkpoints. */
        const S3Config *s3;
        const char *s3_bucket;
        const char *s3_key;
        const char *criu_binary;
        const char *criu_version; /* of criu_binary, recorded in the metadata; NULL: unknown */
        int criu_log_level;
        int log_dir_fd;       /* CRIU writes its log (log_name) here; the caller keeps or removes it */
        const char *log_name;
        unsigned threads;     /* compression threads, 0 = all CPUs */
        /* The checkpoint is complete and durable, not yet under its final name: the caller
         * records that (digest, inode), so that after a crash from here on the next start can
         * tell it from anything else at that name. Then published() once it is: the caller
         * records it complete. Only then does CRIU stop (or release) the process. < 0 from
         * either deletes what was written and fails the dump; the process keeps running. */
        int (*synced)(const DumpResult *result, void *userdata, char **reterr);
        int (*published)(const DumpResult *result, void *userdata, char **reterr);
        ProgressFunc progress;
        /* Asked while CRIU writes and while the checkpoint is committed, up to publication: a
         * cancelled dump ends as CANCELLED, the tasks running, nothing written. */
        CancelledFunc cancelled;
        void *userdata;
} DumpRequest;

/* Dumps req->pid. The images are committed (metadata written, archive complete, fsynced,
 * published under their final name) while CRIU still holds the tasks frozen; only then does CRIU
 * kill them (or let them run with leave_running). On any failure the tasks keep running and
 * nothing named like a checkpoint is left behind.
 * A container is checkpointed by its runtime instead, whose CRIU has the commit made the same
 * way (cedana-criu-hook), before the container is deleted (or, with leave_running, runs on).
 * Outcomes: EXISTS, PATH_NOT_ALLOWED, NO_SUCH_PROCESS, PROCESS_EXITED, NO_SPACE, CRIU_FAILED,
 * GPU, CANCELLED, RUNTIME_FAILED. */
int checkpoint_dump(const DumpRequest *req, DumpResult *ret, char **reterr);

/* What a restored job's stdio is connected to, when it was an attached job. */
typedef enum AttachKind {
        ATTACH_NONE,
        ATTACH_PIPES, /* attach_stdin_fd and attach_stdout_fd */
        ATTACH_TTY,   /* attach_tty_fd */
} AttachKind;

typedef struct ArchiveSource ArchiveSource;

typedef struct RestoreRequest {
        int source_fd;   /* a checkpoint directory, or an archive file */
        /* An object cedana wrote, restored as it streams from the store: source_fd then holds its
         * beginning only (where its format and cedana.json are). NULL for local checkpoints. */
        const ArchiveSource *remote;
        /* "sha256:<hex>" of the cedana.json a job-store record vouches for; NULL when none does */
        const char *expected_digest;
        Identity owner;  /* CRIU runs as this uid (unprivileged unless 0); the tree may hold no more */
        const RestoreOptions *options;
        /* An empty directory, writable by owner, that archives are extracted into; the caller
         * creates and removes it. */
        int staging_fd;
        const char *criu_binary;
        int criu_log_level;
        int log_dir_fd; /* CRIU writes its log (log_name) here; the caller keeps or removes it */
        const char *log_name;
        uint64_t max_archive_bytes;
        unsigned timeout_sec; /* CRIU is stopped after this long (0: never) */
        /* For a checkpoint of an attached job (its metadata lists attach_pipes): what the
         * restored job gets as stdin and as stdout/stderr; -EBADF when not offered, and then such
         * a checkpoint is refused. */
        int attach_stdin_fd;
        int attach_stdout_fd;
        /* For a checkpoint of a job attached through a pty (options.attach_tty): the slave of
         * a new pty, the restored job's terminal; -EBADF when not offered (then refused). */
        int attach_tty_fd;
        AttachKind *ret_attached; /* set to which of the attach fds the checkpoint used */
        /* Restoring a container: the runtime that is to run it, and its id and bundle (NULL:
         * the ones recorded at the dump); *ret_container_id the id it got. NULL for processes:
         * each kind of checkpoint is restored only as what it is. */
        const Runc *runc;
        const Containerd *containerd;
        const char *container_id;
        const char *container_bundle;
        char **ret_container_id;
        /* For a checkpoint of a job with its own log (options.job_log): the file the restored
         * job writes to instead; -EBADF: CRIU reopens the recorded path. */
        int job_log_fd;
        bool *ret_job_log_used; /* set to whether job_log_fd was handed to the job */
        /* Runs once the restored tree is verified and will stay stopped: the caller puts it into
         * its scope and records it. < 0 kills the tree and fails the restore. */
        int (*before_resume)(const RestoredTree *tree, void *userdata, char **reterr);
        ProgressFunc progress;
        /* Asked while the checkpoint is read and until the tree is handed to before_resume: a
         * cancelled restore ends as CANCELLED, anything restored killed before it ran. */
        CancelledFunc cancelled;
        CheckpointStats *ret_stats; /* filled in on success, if given */
        void *userdata;
} RestoreRequest;

/* Verifies the checkpoint (its record's digest when given, metadata, every file's SHA-256) as it
 * is read and before CRIU runs, restores it with CRIU as req->owner, and, while CRIU still holds
 * the tree, checks every thread of every task against what req->owner may hold: on any mismatch
 * the whole tree is killed before it ran a single instruction. Otherwise the tree is left
 * stopped in *ret, for the caller to record and resume. The restored root is orphaned when CRIU
 * exits: the caller must be a subreaper (PR_SET_CHILD_SUBREAPER) to get it as its child.
 * A container is verified the same way and restored by its runtime, running once this returns
 * (only root restores containers); *ret has its init alone.
 * Outcomes: CHECKPOINT_CORRUPT, CHECKPOINT_CHANGED, NOT_A_CHECKPOINT, FORMAT_TOO_NEW, NO_SPACE,
 * CRIU_FAILED, PRIVILEGE, INVALID_ARGS (an attached job's checkpoint without attach fds),
 * CANCELLED, WRONG_KIND; for containers also EXISTS, NO_SUCH_FILE (bundle), RUNTIME_FAILED. */
int checkpoint_restore(const RestoreRequest *req, RestoredTree *ret, char **reterr);

/* What reading a checkpoint's content failed with, as an outcome: -EBADMSG and -EFBIG are
 * CHECKPOINT_CORRUPT, -ESTALE CHECKPOINT_CHANGED, -EMEDIUMTYPE, -ENOENT, -ENODATA and -EBADFD
 * NOT_A_CHECKPOINT, -EPROTONOSUPPORT FORMAT_TOO_NEW, -ENOSPC and -EDQUOT NO_SPACE, -ENOLINK (the
 * object store failed while the archive streamed from it) REMOTE; other errnos unchanged. */
int checkpoint_content_outcome(int r);

/* What a checkpoint is stored as, from its content (codec_detect()): a directory or an archive
 * format. Outcomes NOT_A_CHECKPOINT (empty, or none of our formats) and ACCESS_DENIED, each with
 * a sentence; other errnos unchanged. */
int checkpoint_detect_format(int fd, Compression *ret, char **reterr);
