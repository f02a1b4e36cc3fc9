/* SPDX-License-Identifier: Apache-2.0 */
/* cedana's documented outcomes, and one table that gives each its D-Bus error name and the exit
 * code the cedana command returns for it, so that the core, the daemon and the CLI agree. */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

/* Exit codes of the cedana command; documented in cedana --help and the README. */
enum {
        CEDANA_EXIT_SUCCESS = 0,
        CEDANA_EXIT_FAILURE = 1,        /* anything not listed below */
        CEDANA_EXIT_USAGE = 2,          /* bad command line, or the daemon said InvalidArgs */
        CEDANA_EXIT_NO_DAEMON = 3,      /* cedanad is not installed or not reachable */
        CEDANA_EXIT_ACCESS_DENIED = 4,  /* polkit or the daemon refused */
        CEDANA_EXIT_NOT_FOUND = 5,      /* no such job, process, checkpoint or file */
        CEDANA_EXIT_BUSY = 6,           /* the job is busy or still running */
        CEDANA_EXIT_BAD_CHECKPOINT = 7, /* corrupt, changed, truncated or of an unknown format */
        CEDANA_EXIT_CRIU = 8,           /* CRIU failed; the message says why */
        CEDANA_EXIT_NO_SPACE = 9,
        CEDANA_EXIT_UNSUPPORTED = 10,   /* e.g. a GPU job without CRIU's CUDA plugin */
        CEDANA_EXIT_EXISTS = 11,        /* a checkpoint or job of that name exists */
        CEDANA_EXIT_LIMITS = 12,        /* too many operations at once, or a request too large */
        CEDANA_EXIT_CONTAINER = 13,     /* no such container, or not in a state to be dumped */
        CEDANA_EXIT_WRONG_KIND = 14,    /* a container's checkpoint restored as a process, or vice versa */
        CEDANA_EXIT_RUNTIME = 15,       /* the container runtime (runc) failed; the message says why */
        CEDANA_EXIT_REMOTE = 16,        /* the object store (S3) failed or could not be reached */
        CEDANA_EXIT_CANCELLED = 130,    /* cancelled by Ctrl-C (128 + SIGINT, as shells report it) */
};

/* Documented outcomes: positive values, returned beside negative errnos (which stay unexpected
 * failures, reported as org.freedesktop.DBus.Error.Failed). Functions that return them say so. */
typedef enum CedanaError {
        CEDANA_E_INVALID_ARGS = 1,   /* the request itself is malformed */
        CEDANA_E_ACCESS_DENIED,      /* polkit said no */
        CEDANA_E_PATH_NOT_ALLOWED,   /* a place the caller may not use, or a symlink */
        CEDANA_E_NOT_PERMITTED,      /* PID 1, cedanad itself, kernel threads, others' containers */
        CEDANA_E_PRIVILEGE,          /* a restored task would hold more than its owner may */
        CEDANA_E_NO_SUCH_FILE,
        CEDANA_E_NO_SUCH_PROCESS,
        CEDANA_E_PROCESS_EXITED,     /* exited while it was being dumped */
        CEDANA_E_NO_SUCH_JOB,
        CEDANA_E_NO_SUCH_CHECKPOINT,
        CEDANA_E_JOB_BUSY,           /* another dump or restore of it is in progress */
        CEDANA_E_JOB_RUNNING,        /* it runs, and the request needs it not to */
        CEDANA_E_CHECKPOINT_CORRUPT, /* damaged, truncated, or not what its metadata says */
        CEDANA_E_CHECKPOINT_CHANGED, /* not the bytes its record vouches for */
        CEDANA_E_NOT_A_CHECKPOINT,   /* no cedana.json, or not one of our formats */
        CEDANA_E_FORMAT_TOO_NEW,     /* written by a newer cedana */
        CEDANA_E_CRIU_FAILED,
        CEDANA_E_NO_SPACE,
        CEDANA_E_GPU,                /* holds a GPU and CRIU's CUDA plugin is missing */
        CEDANA_E_NOT_SUPPORTED,
        CEDANA_E_EXISTS,             /* the name is taken */
        CEDANA_E_LIMITS,             /* too many operations in flight, or a request too large */
        CEDANA_E_CANCELLED,          /* the caller cancelled it; nothing of it is left */
        CEDANA_E_NO_SUCH_OPERATION,  /* nothing of that name in flight (or not the caller's) */
        CEDANA_E_NO_SUCH_CONTAINER,  /* the runtime knows no container of that id */
        CEDANA_E_CONTAINER_STATE,    /* paused, stopped or only created: not running */
        CEDANA_E_WRONG_KIND,         /* a checkpoint of another kind than the restore asked for */
        CEDANA_E_RUNTIME_FAILED,     /* runc failed */
        CEDANA_E_REMOTE,             /* the object store failed or could not be reached */
        _CEDANA_E_MAX,
} CedanaError;

#define BUS_ERROR_PREFIX "org.cedana.Checkpoint1.Error."
#define BUS_ERROR_NO_SUCH_JOB BUS_ERROR_PREFIX "NoSuchJob"
#define BUS_ERROR_NO_SUCH_PROCESS BUS_ERROR_PREFIX "NoSuchProcess"
#define BUS_ERROR_PROCESS_EXITED BUS_ERROR_PREFIX "ProcessExited"
#define BUS_ERROR_NO_SUCH_CHECKPOINT BUS_ERROR_PREFIX "NoSuchCheckpoint"
#define BUS_ERROR_JOB_BUSY BUS_ERROR_PREFIX "JobBusy"
#define BUS_ERROR_JOB_RUNNING BUS_ERROR_PREFIX "JobRunning"
#define BUS_ERROR_NAME_TAKEN BUS_ERROR_PREFIX "NameTaken"
#define BUS_ERROR_CHECKPOINT_CORRUPT BUS_ERROR_PREFIX "CheckpointCorrupt"
#define BUS_ERROR_CHECKPOINT_CHANGED BUS_ERROR_PREFIX "CheckpointChanged"
#define BUS_ERROR_UNSUPPORTED_FORMAT BUS_ERROR_PREFIX "UnsupportedFormat"
#define BUS_ERROR_FORMAT_TOO_NEW BUS_ERROR_PREFIX "FormatTooNew"
#define BUS_ERROR_CRIU_FAILED BUS_ERROR_PREFIX "CRIUFailed"
#define BUS_ERROR_NO_SPACE BUS_ERROR_PREFIX "NoSpace"
#define BUS_ERROR_PATH_NOT_ALLOWED BUS_ERROR_PREFIX "PathNotAllowed"
#define BUS_ERROR_GPU_NOT_SUPPORTED BUS_ERROR_PREFIX "GPUNotSupported"
#define BUS_ERROR_NOT_PERMITTED BUS_ERROR_PREFIX "NotPermitted"
#define BUS_ERROR_PRIVILEGE BUS_ERROR_PREFIX "PrivilegeRefused"
#define BUS_ERROR_CANCELLED BUS_ERROR_PREFIX "Cancelled"
#define BUS_ERROR_NO_SUCH_OPERATION BUS_ERROR_PREFIX "NoSuchOperation"
#define BUS_ERROR_NO_SUCH_CONTAINER BUS_ERROR_PREFIX "NoSuchContainer"
#define BUS_ERROR_CONTAINER_STATE BUS_ERROR_PREFIX "ContainerNotRunning"
#define BUS_ERROR_WRONG_KIND BUS_ERROR_PREFIX "WrongCheckpointKind"
#define BUS_ERROR_RUNTIME_FAILED BUS_ERROR_PREFIX "RuntimeFailed"
#define BUS_ERROR_REMOTE_FAILED BUS_ERROR_PREFIX "RemoteFailed"
#define BUS_ERROR_LIMITS_EXCEEDED "org.freedesktop.DBus.Error.LimitsExceeded"

/* The bus error name of an outcome (NULL for anything else). */
const char *cedana_error_to_bus_name(CedanaError e);
/* The exit code of an outcome, and of an error name (ours and the standard ones). */
int cedana_error_to_exit_code(CedanaError e);
int bus_error_to_exit_code(const sd_bus_error *e);
/* For sd_bus_error_add_map(): ours, with errno values for sd_bus_error_get_errno(). */
extern const sd_bus_error_map cedana_bus_errors[];

/* Sets *error from r: an outcome gets its name, a negative errno Failed; message is the one
 * sentence the user reads (NULL: strerror for errnos). Returns a negative value for handlers. */
int bus_error_set(sd_bus_error *error, int r, const char *message);
int bus_error_setf(sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
