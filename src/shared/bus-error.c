/* SPDX-License-Identifier: Apache-2.0 */
/* The one table: outcome, D-Bus error name, errno equivalent and exit code. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "bus-error.h"

typedef struct ErrorInfo {
        const char *name;
        int errno_value; /* for sd_bus_error_get_errno() on either side */
        int exit_code;
} ErrorInfo;

static const ErrorInfo table[_CEDANA_E_MAX] = {
        [CEDANA_E_INVALID_ARGS] = { SD_BUS_ERROR_INVALID_ARGS, EINVAL, CEDANA_EXIT_USAGE },
        [CEDANA_E_ACCESS_DENIED] = { SD_BUS_ERROR_ACCESS_DENIED, EACCES, CEDANA_EXIT_ACCESS_DENIED },
        [CEDANA_E_PATH_NOT_ALLOWED] = { BUS_ERROR_PATH_NOT_ALLOWED, EPERM, CEDANA_EXIT_ACCESS_DENIED },
        [CEDANA_E_NOT_PERMITTED] = { BUS_ERROR_NOT_PERMITTED, EPERM, CEDANA_EXIT_ACCESS_DENIED },
        [CEDANA_E_PRIVILEGE] = { BUS_ERROR_PRIVILEGE, EPERM, CEDANA_EXIT_ACCESS_DENIED },
        [CEDANA_E_NO_SUCH_FILE] = { SD_BUS_ERROR_FILE_NOT_FOUND, ENOENT, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_NO_SUCH_PROCESS] = { BUS_ERROR_NO_SUCH_PROCESS, ESRCH, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_PROCESS_EXITED] = { BUS_ERROR_PROCESS_EXITED, ESRCH, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_NO_SUCH_JOB] = { BUS_ERROR_NO_SUCH_JOB, ENXIO, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_NO_SUCH_CHECKPOINT] = { BUS_ERROR_NO_SUCH_CHECKPOINT, ENOENT, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_JOB_BUSY] = { BUS_ERROR_JOB_BUSY, EBUSY, CEDANA_EXIT_BUSY },
        [CEDANA_E_JOB_RUNNING] = { BUS_ERROR_JOB_RUNNING, EBUSY, CEDANA_EXIT_BUSY },
        [CEDANA_E_CHECKPOINT_CORRUPT] = { BUS_ERROR_CHECKPOINT_CORRUPT, EBADMSG, CEDANA_EXIT_BAD_CHECKPOINT },
        [CEDANA_E_CHECKPOINT_CHANGED] = { BUS_ERROR_CHECKPOINT_CHANGED, ESTALE, CEDANA_EXIT_BAD_CHECKPOINT },
        [CEDANA_E_NOT_A_CHECKPOINT] = { BUS_ERROR_UNSUPPORTED_FORMAT, EMEDIUMTYPE, CEDANA_EXIT_BAD_CHECKPOINT },
        [CEDANA_E_FORMAT_TOO_NEW] = { BUS_ERROR_FORMAT_TOO_NEW, EPROTONOSUPPORT, CEDANA_EXIT_BAD_CHECKPOINT },
        [CEDANA_E_CRIU_FAILED] = { BUS_ERROR_CRIU_FAILED, ECHILD, CEDANA_EXIT_CRIU },
        [CEDANA_E_NO_SPACE] = { BUS_ERROR_NO_SPACE, ENOSPC, CEDANA_EXIT_NO_SPACE },
        [CEDANA_E_GPU] = { BUS_ERROR_GPU_NOT_SUPPORTED, EOPNOTSUPP, CEDANA_EXIT_UNSUPPORTED },
        [CEDANA_E_NOT_SUPPORTED] = { SD_BUS_ERROR_NOT_SUPPORTED, EOPNOTSUPP, CEDANA_EXIT_UNSUPPORTED },
        [CEDANA_E_EXISTS] = { BUS_ERROR_NAME_TAKEN, EEXIST, CEDANA_EXIT_EXISTS },
        [CEDANA_E_LIMITS] = { BUS_ERROR_LIMITS_EXCEEDED, EUSERS, CEDANA_EXIT_LIMITS },
        [CEDANA_E_CANCELLED] = { BUS_ERROR_CANCELLED, ECANCELED, CEDANA_EXIT_CANCELLED },
        [CEDANA_E_NO_SUCH_OPERATION] = { BUS_ERROR_NO_SUCH_OPERATION, ESRCH, CEDANA_EXIT_NOT_FOUND },
        [CEDANA_E_NO_SUCH_CONTAINER] = { BUS_ERROR_NO_SUCH_CONTAINER, ENXIO, CEDANA_EXIT_CONTAINER },
        [CEDANA_E_CONTAINER_STATE] = { BUS_ERROR_CONTAINER_STATE, EBUSY, CEDANA_EXIT_CONTAINER },
        [CEDANA_E_WRONG_KIND] = { BUS_ERROR_WRONG_KIND, EMEDIUMTYPE, CEDANA_EXIT_WRONG_KIND },
        [CEDANA_E_RUNTIME_FAILED] = { BUS_ERROR_RUNTIME_FAILED, ECHILD, CEDANA_EXIT_RUNTIME },
        [CEDANA_E_REMOTE] = { BUS_ERROR_REMOTE_FAILED, EREMOTEIO, CEDANA_EXIT_REMOTE },
};

/* Error names that are not outcomes of ours but reach the CLI all the same. */
static const struct {
        const char *name;
        int exit_code;
} standard[] = {
        { SD_BUS_ERROR_UNKNOWN_METHOD, CEDANA_EXIT_USAGE },
        { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, CEDANA_EXIT_ACCESS_DENIED },
        { SD_BUS_ERROR_SERVICE_UNKNOWN, CEDANA_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER, CEDANA_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_NO_REPLY, CEDANA_EXIT_NO_DAEMON },
        { SD_BUS_ERROR_DISCONNECTED, CEDANA_EXIT_NO_DAEMON },
};

const sd_bus_error_map cedana_bus_errors[] = {
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_JOB, ENXIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_PROCESS, ESRCH),
        SD_BUS_ERROR_MAP(BUS_ERROR_PROCESS_EXITED, ESRCH),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_CHECKPOINT, ENOENT),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_RUNNING, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_NAME_TAKEN, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_CHECKPOINT_CORRUPT, EBADMSG),
        SD_BUS_ERROR_MAP(BUS_ERROR_CHECKPOINT_CHANGED, ESTALE),
        SD_BUS_ERROR_MAP(BUS_ERROR_UNSUPPORTED_FORMAT, EMEDIUMTYPE),
        SD_BUS_ERROR_MAP(BUS_ERROR_FORMAT_TOO_NEW, EPROTONOSUPPORT),
        SD_BUS_ERROR_MAP(BUS_ERROR_CRIU_FAILED, ECHILD),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SPACE, ENOSPC),
        SD_BUS_ERROR_MAP(BUS_ERROR_PATH_NOT_ALLOWED, EPERM),
        SD_BUS_ERROR_MAP(BUS_ERROR_GPU_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(BUS_ERROR_NOT_PERMITTED, EPERM),
        SD_BUS_ERROR_MAP(BUS_ERROR_PRIVILEGE, EPERM),
        SD_BUS_ERROR_MAP(BUS_ERROR_CANCELLED, ECANCELED),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_OPERATION, ESRCH),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_CONTAINER, ENXIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_CONTAINER_STATE, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_WRONG_KIND, EMEDIUMTYPE),
        SD_BUS_ERROR_MAP(BUS_ERROR_RUNTIME_FAILED, ECHILD),
        SD_BUS_ERROR_MAP(BUS_ERROR_REMOTE_FAILED, EREMOTEIO),
        SD_BUS_ERROR_MAP_END,
};

const char *cedana_error_to_bus_name(CedanaError e) {
        return e > 0 && e < _CEDANA_E_MAX ? table[e].name : NULL;
}

int cedana_error_to_exit_code(CedanaError e) {
        return e > 0 && e < _CEDANA_E_MAX ? table[e].exit_code : CEDANA_EXIT_FAILURE;
}

int bus_error_to_exit_code(const sd_bus_error *e) {
        if (!e || !e->name)
                return CEDANA_EXIT_FAILURE;
        for (CedanaError i = 1; i < _CEDANA_E_MAX; i++)
                if (streq(e->name, table[i].name))
                        return table[i].exit_code;
        for (size_t i = 0; i < ELEMENTSOF(standard); i++)
                if (streq(e->name, standard[i].name))
                        return standard[i].exit_code;
        return CEDANA_EXIT_FAILURE;
}

int bus_error_set(sd_bus_error *error, int r, const char *message) {
        if (r > 0 && r < _CEDANA_E_MAX) {
                (void) sd_bus_error_set(error, table[r].name, message);
                return -table[r].errno_value;
        }
        if (r >= 0)
                r = -EIO;
        if (message)
                (void) sd_bus_error_set(error, SD_BUS_ERROR_FAILED, message);
        else
                (void) sd_bus_error_set_errno(error, r);
        return r;
}

int bus_error_setf(sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        return bus_error_set(error, r, m);
}
