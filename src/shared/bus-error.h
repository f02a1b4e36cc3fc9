/* SPDX-License-Identifier: Apache-2.0 */
/* The named D-Bus errors of org.cedana.Checkpoint1, their errno equivalents, and the exit code
 * the cedana command returns for each, so the daemon and the CLI agree in one place. */
#pragma once

#include <systemd/sd-bus.h>

#define BUS_ERROR_PREFIX "org.cedana.Checkpoint1.Error."
#define BUS_ERROR_NO_SUCH_JOB BUS_ERROR_PREFIX "NoSuchJob"
#define BUS_ERROR_NO_SUCH_PROCESS BUS_ERROR_PREFIX "NoSuchProcess"
#define BUS_ERROR_NO_SUCH_CHECKPOINT BUS_ERROR_PREFIX "NoSuchCheckpoint"
#define BUS_ERROR_JOB_BUSY BUS_ERROR_PREFIX "JobBusy"
#define BUS_ERROR_JOB_RUNNING BUS_ERROR_PREFIX "JobRunning"
#define BUS_ERROR_JOB_EXISTS BUS_ERROR_PREFIX "JobExists"
#define BUS_ERROR_CHECKPOINT_EXISTS BUS_ERROR_PREFIX "CheckpointExists"
#define BUS_ERROR_CHECKPOINT_CORRUPT BUS_ERROR_PREFIX "CheckpointCorrupt"
#define BUS_ERROR_UNSUPPORTED_FORMAT BUS_ERROR_PREFIX "UnsupportedFormat"
#define BUS_ERROR_CRIU_FAILED BUS_ERROR_PREFIX "CRIUFailed"
#define BUS_ERROR_NO_SPACE BUS_ERROR_PREFIX "NoSpace"
#define BUS_ERROR_PATH_NOT_ALLOWED BUS_ERROR_PREFIX "PathNotAllowed"
#define BUS_ERROR_GPU_NOT_SUPPORTED BUS_ERROR_PREFIX "GPUNotSupported"
#define BUS_ERROR_NOT_PERMITTED BUS_ERROR_PREFIX "NotPermitted"

/* Exit codes of the cedana command; documented in cedana --help and the README. */
enum {
        CEDANA_EXIT_SUCCESS = 0,
        CEDANA_EXIT_FAILURE = 1,        /* anything not listed below */
        CEDANA_EXIT_USAGE = 2,          /* bad command line, or the daemon said InvalidArgs */
        CEDANA_EXIT_NO_DAEMON = 3,      /* cedanad is not installed or not reachable */
        CEDANA_EXIT_ACCESS_DENIED = 4,  /* polkit or the daemon refused */
        CEDANA_EXIT_NOT_FOUND = 5,      /* no such job, process, checkpoint or file */
        CEDANA_EXIT_BUSY = 6,           /* the job is busy or still running */
        CEDANA_EXIT_BAD_CHECKPOINT = 7, /* corrupt, truncated or of an unknown format */
        CEDANA_EXIT_CRIU = 8,           /* CRIU failed; the message names its log */
        CEDANA_EXIT_NO_SPACE = 9,
        CEDANA_EXIT_UNSUPPORTED = 10,   /* e.g. a GPU job without CRIU's CUDA plugin */
        CEDANA_EXIT_EXISTS = 11,        /* a checkpoint or job of that name exists */
};

/* The cedana errors with their errno values, for sd_bus_error_add_map(). */
extern const sd_bus_error_map cedana_bus_errors[];

/* The exit code for an error name (also the standard org.freedesktop.DBus ones). */
int bus_error_to_exit_code(const sd_bus_error *e);
