/* SPDX-License-Identifier: Apache-2.0 */
/* Dump and restore, start to finish, as plain functions with no bus: staging, CRIU, metadata,
 * archives, atomic commit. cedanad runs them in a worker process; cedana restore --no-server
 * runs checkpoint_restore() itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compression.h"
#include "options.h"

#include "identity.h"

/* Called with a phase ("dumping", "checksumming", "compressing" or "syncing"; "extracting",
 * "verifying", "restoring") and bytes
 * done/total (total 0 when unknown). */
typedef void (*ProgressFunc)(const char *phase, uint64_t done, uint64_t total, void *userdata);

struct DumpResult;

typedef struct DumpRequest {
        const char *type; /* "process" or "job" */
        const char *job;  /* the job's name for type "job", else NULL */
        pid_t pid;        /* root of the tree to dump */
        int pidfd;        /* of pid: a dump of a recycled pid is refused */
        Identity caller;  /* checkpoint files are created as, and owned by, the caller */
        Identity owner;   /* the target's owner: CRIU runs as this uid (unprivileged unless 0) */
        int dir_fd;       /* the directory the checkpoint goes into */
        const char *name; /* checkpoint name; the file is name + compression_suffix() */
        /* Names chosen (and recorded) by the caller before the dump, so that a crash leaves
         * nothing that is not cleaned up at the next start: the staging directory and the
         * temporary archive, both inside dir_fd. */
        const char *staging_name;
        const char *partial_name;
        const DumpOptions *options;
        const char *criu_binary;
        const char *criu_version; /* of criu_binary, recorded in the metadata; NULL: unknown */
        int criu_log_level;
        int log_dir_fd;       /* CRIU writes its log (log_name) here; the caller keeps or removes it */
        const char *log_name;
        unsigned threads;     /* compression threads, 0 = all CPUs */
        /* Runs once the checkpoint is complete on disk, before CRIU stops (or releases) the
         * process: the caller records it. < 0 deletes the checkpoint again and fails the dump,
         * and the process keeps running. */
        int (*committed)(const struct DumpResult *result, void *userdata, char **reterr);
        ProgressFunc progress;
        void *userdata;
} DumpRequest;

typedef struct DumpResult {
        char *path;              /* final path of the checkpoint (directory or archive) */
        uint64_t size;           /* bytes on disk */
        uint64_t image_size;     /* bytes of CRIU images, before compression */
        uint64_t time_usec;      /* as recorded in the metadata */
        char *metadata_checksum; /* cedana.json's "checksum": recognises this checkpoint later */
} DumpResult;

void dump_result_done(DumpResult *r);

/* Dumps req->pid. The images are committed (metadata written, archive complete, fsynced,
 * renamed into place) while CRIU still holds the tasks frozen; only then does CRIU kill them
 * (or let them run with leave_running). On any failure the tasks keep running, nothing named
 * like a checkpoint is left behind, and *reterr says what went wrong in one sentence.
 * Errors: -EEXIST the name is taken; -ESRCH the process is gone or was recycled; -ENOSPC;
 * -ECHILD CRIU failed (the message has CRIU's last error line and the kept log's path);
 * -EOPNOTSUPP the process holds a GPU; other -errno. */
int checkpoint_dump(const DumpRequest *req, DumpResult *ret, char **reterr);

typedef struct RestoreRequest {
        int source_fd;   /* a checkpoint directory, or an archive file */
        Identity caller; /* staging is created as the caller */
        Identity owner;  /* CRIU runs as this uid: unprivileged unless 0 */
        const RestoreOptions *options;
        /* An empty directory, writable by owner, that archives are extracted into; the caller
         * creates and removes it. */
        int staging_fd;
        const char *criu_binary;
        int criu_log_level;
        int log_dir_fd; /* CRIU writes its log (log_name) here; the caller keeps or removes it */
        const char *log_name;
        uint64_t max_archive_bytes;
        /* For a checkpoint of an attached job (its metadata lists attach_pipes): what the
         * restored job gets as stdin and as stdout/stderr; -EBADF when not offered, and then such
         * a checkpoint is refused. */
        int attach_stdin_fd;
        int attach_stdout_fd;
        bool *ret_attached; /* set to whether the checkpoint used the attach fds */
        /* Runs while the restored tree is complete but still stopped: pids are every task of the
         * tree, pids[0] its root. Return < 0 to kill the tree and fail the restore. */
        int (*before_resume)(const pid_t *pids, size_t n_pids, void *userdata, char **reterr);
        ProgressFunc progress;
        void *userdata;
} RestoreRequest;

/* Verifies the checkpoint (format, metadata, every file's checksum) before CRIU runs, restores
 * it with CRIU as req->owner, checks that no restored task has more privilege than req->owner
 * (uids, gids, capabilities) while the tree is stopped, calls before_resume, and lets it run.
 * The restored root is orphaned when CRIU exits: the caller must be a subreaper
 * (PR_SET_CHILD_SUBREAPER) to get it as its child. *ret_pid: the root's pid.
 * Errors: -EBADMSG corrupt/truncated (message names the file); -EMEDIUMTYPE not a checkpoint;
 * -EPROTONOSUPPORT a newer checkpoint format; -ECHILD CRIU failed; -EPERM a restored task
 * would have more privilege than the owner. */
int checkpoint_restore(const RestoreRequest *req, pid_t *ret_pid, char **reterr);
