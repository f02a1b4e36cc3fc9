/* SPDX-License-Identifier: Apache-2.0 */
/* What a user can ask of a dump or a restore: the D-Bus options and the CLI flags both land
 * here, and the checkpoint metadata records the dump options used. */
#pragma once

#include <stdbool.h>

#include "compression.h"

typedef struct DumpOptions {
        char *dir;  /* where the checkpoint goes (a path; the daemon prefers dir_fd) */
        char *name; /* checkpoint name; NULL: dump-<type>-<job or pid>-<unix time> */
        Compression compression;
        bool leave_running;
        bool tcp_established;
        bool file_locks;
        bool shell_job;
        bool link_remap;
        char **external; /* CRIU --external resources, e.g. "unix[12345]" */
        /* An attached job's stdin and stdout pipes ("pipe:[inode]"), which the daemon holds:
         * a restore must hand the restored job new pipes in their place. NULL otherwise. */
        char **attach_pipes;
        /* An attached job's terminal, the pty slave whose master the daemon holds, as CRIU names
         * it ("tty[rdev:dev]"): dumped as external, a restore hands the job a new slave in its
         * place. NULL otherwise. */
        char *attach_tty;
        char *attach_tty_modes; /* its modes at the dump, `stty -g` style; NULL when unknown */
        /* A job's own log, its stdout and stderr, as CRIU names it (the path without its leading
         * '/'): a restore may hand the job another file in its place. NULL otherwise. */
        char *job_log;
} DumpOptions;

typedef struct RestoreOptions {
        bool tcp_established;
        bool shell_job;
        char *log;      /* where the restored process's log goes (CLI side; daemon: job log) */
        char *pid_file; /* written with the restored root pid */
} RestoreOptions;

void dump_options_done(DumpOptions *o);
void restore_options_done(RestoreOptions *o);
