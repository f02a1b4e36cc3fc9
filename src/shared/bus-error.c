/* SPDX-License-Identifier: Apache-2.0 */
/* One table mapping cedana's D-Bus error names to errno values and to the CLI's exit codes. */

#include <errno.h>

#include "bus-error.h"
#include "macro.h"

const sd_bus_error_map cedana_bus_errors[] = {
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_JOB, ENXIO),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_PROCESS, ESRCH),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_CHECKPOINT, ENOENT),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_RUNNING, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_JOB_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_CHECKPOINT_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_CHECKPOINT_CORRUPT, EBADMSG),
        SD_BUS_ERROR_MAP(BUS_ERROR_UNSUPPORTED_FORMAT, EMEDIUMTYPE),
        SD_BUS_ERROR_MAP(BUS_ERROR_CRIU_FAILED, ECHILD),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SPACE, ENOSPC),
        SD_BUS_ERROR_MAP(BUS_ERROR_PATH_NOT_ALLOWED, EPERM),
        SD_BUS_ERROR_MAP(BUS_ERROR_GPU_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(BUS_ERROR_NOT_PERMITTED, EPERM),
        SD_BUS_ERROR_MAP_END,
};

int bus_error_to_exit_code(const sd_bus_error *e) {
        static const struct {
                const char *name;
                int code;
        } table[] = {
                { SD_BUS_ERROR_INVALID_ARGS, CEDANA_EXIT_USAGE },
                { SD_BUS_ERROR_UNKNOWN_METHOD, CEDANA_EXIT_USAGE },
                { SD_BUS_ERROR_ACCESS_DENIED, CEDANA_EXIT_ACCESS_DENIED },
                { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, CEDANA_EXIT_ACCESS_DENIED },
                { BUS_ERROR_NOT_PERMITTED, CEDANA_EXIT_ACCESS_DENIED },
                { BUS_ERROR_PATH_NOT_ALLOWED, CEDANA_EXIT_ACCESS_DENIED },
                { SD_BUS_ERROR_SERVICE_UNKNOWN, CEDANA_EXIT_NO_DAEMON },
                { SD_BUS_ERROR_NAME_HAS_NO_OWNER, CEDANA_EXIT_NO_DAEMON },
                { SD_BUS_ERROR_NO_REPLY, CEDANA_EXIT_NO_DAEMON },
                { SD_BUS_ERROR_DISCONNECTED, CEDANA_EXIT_NO_DAEMON },
                { SD_BUS_ERROR_FILE_NOT_FOUND, CEDANA_EXIT_NOT_FOUND },
                { BUS_ERROR_NO_SUCH_JOB, CEDANA_EXIT_NOT_FOUND },
                { BUS_ERROR_NO_SUCH_PROCESS, CEDANA_EXIT_NOT_FOUND },
                { BUS_ERROR_NO_SUCH_CHECKPOINT, CEDANA_EXIT_NOT_FOUND },
                { BUS_ERROR_JOB_BUSY, CEDANA_EXIT_BUSY },
                { BUS_ERROR_JOB_RUNNING, CEDANA_EXIT_BUSY },
                { BUS_ERROR_JOB_EXISTS, CEDANA_EXIT_EXISTS },
                { BUS_ERROR_CHECKPOINT_EXISTS, CEDANA_EXIT_EXISTS },
                { BUS_ERROR_CHECKPOINT_CORRUPT, CEDANA_EXIT_BAD_CHECKPOINT },
                { BUS_ERROR_UNSUPPORTED_FORMAT, CEDANA_EXIT_BAD_CHECKPOINT },
                { BUS_ERROR_CRIU_FAILED, CEDANA_EXIT_CRIU },
                { BUS_ERROR_NO_SPACE, CEDANA_EXIT_NO_SPACE },
                { BUS_ERROR_GPU_NOT_SUPPORTED, CEDANA_EXIT_UNSUPPORTED },
                { SD_BUS_ERROR_NOT_SUPPORTED, CEDANA_EXIT_UNSUPPORTED },
        };
        if (!e || !e->name)
                return CEDANA_EXIT_FAILURE;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(e->name, table[i].name))
                        return table[i].code;
        return CEDANA_EXIT_FAILURE;
}
