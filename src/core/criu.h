/* SPDX-License-Identifier: Apache-2.0 */
/* Running CRIU: spawns `criu swrk` with exactly the credentials it should have (the target's
 * owner; unprivileged mode unless root), drives it through libcriu, and turns a failure into
 * one sentence with CRIU's last error line and its log's path. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "options.h"

#define CRIU_INHERIT_MAX 8

typedef struct CriuParams {
        const char *binary;
        const Identity *owner; /* CRIU's uid/gid/groups; uid 0 runs it privileged */
        pid_t pid;             /* dump: the tree's root */
        int target_pidfd;      /* dump: the root's pidfd; CRIU is stopped if the dump is lost */
        const pid_t *tree;     /* dump: the tree before CRIU runs, pid first */
        size_t n_tree;
        int images_dir_fd;
        int work_dir_fd;       /* CRIU's log goes here */
        const char *log_name;
        int log_level;
        /* Options that must be the same at dump and restore. */
        bool tcp_established;
        bool shell_job;
        bool file_locks;
        bool link_remap;   /* dump only */
        bool leave_running; /* dump only */
        char *const *external;
        /* restore: fds CRIU gives the restored tasks in place of the resources named by the
         * keys (CRIU's --inherit-fd), e.g. new pipes for "pipe:[1234]" */
        const int *inherit_fds;
        char *const *inherit_keys;
        size_t n_inherit;
        /* dump: called once the images are complete while the tasks are still frozen; a
         * negative return makes CRIU let the tasks run and fail the dump. */
        int (*post_dump)(void *userdata);
        /* restore: called with the root pid once the tree exists, and again right before the
         * tasks resume (creds restored, still stopped); negative aborts. */
        int (*pre_resume)(pid_t root, void *userdata);
        void *userdata;
        /* The images go to (dump) or come from (restore) a streamer listening in the images
         * directory: the command-line criu with --stream, which its RPC service cannot do. */
        bool stream;
        /* restore: CRIU (and with it the half-restored tree) is killed after this many seconds;
         * 0 for never. CRIU 4.2 waits forever when a task dies inside its restorer. */
        unsigned timeout_sec;
} CriuParams;

/* Returns 0, or -ECHILD with *reterr "CRIU failed to dump process 1234: <CRIU's last error>
 * (log: PATH)" (log_path is how the caller names the log file), or a callback's error. */
int criu_run_dump(const CriuParams *p, const char *log_path, char **reterr);
/* Restores the images; the restored root is reparented to the nearest subreaper when CRIU
 * exits. *ret_pid: the restored root. */
int criu_run_restore(const CriuParams *p, const char *log_path, pid_t *ret_pid, char **reterr);
/* "4.2.1" of the given binary, asked over RPC (no images involved). */
int criu_query_version(const char *binary, char **ret);
/* The last meaningful "Error (...)" line of a CRIU log, without its prefix; NULL if none. */
char *criu_log_last_error(int dir_fd, const char *log_name);
/* Appends CRIU's log to to_fd, a caller's regular file on a local file system (checked when it
 * was given), so that the copy cannot block for long. Best effort. */
void criu_log_copy(int dir_fd, const char *log_name, int to_fd);
