/* SPDX-License-Identifier: Apache-2.0 */
/* cedana's connection to cedanad: the system bus (which activates the daemon), or the private
 * socket when there is none, method calls that may ask for a password, and error reporting. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "json-util.h"
#include "macro.h"

#define CEDANA_BUS_NAME "org.cedana.Checkpoint1"
#define CEDANA_MANAGER_PATH "/org/cedana/Checkpoint1"
#define CEDANA_MANAGER_INTERFACE "org.cedana.Checkpoint1.Manager"
#define CEDANA_JOB_INTERFACE "org.cedana.Checkpoint1.Job"

/* Dumps and restores of big processes take minutes; a polkit prompt waits for a person. */
#define CLI_CALL_TIMEOUT_USEC (3600 * USEC_PER_SEC)

#define NO_DAEMON_MESSAGE \
        "cedanad is not running and could not be started; install cedana and run 'systemctl start cedanad.socket'."

typedef struct CliBus {
        sd_bus *bus;
        const char *destination; /* CEDANA_BUS_NAME, or NULL on the private socket */
        bool private_socket;
} CliBus;

typedef enum CliBusFlags {
        CLI_BUS_QUIET = 1 << 0, /* no message on failure, and a short wait (completion, `version`) */
} CliBusFlags;

/* Reaches cedanad: the system bus first (starting the daemon through activation), then the
 * private socket. Returns 0, or CEDANA_EXIT_NO_DAEMON after saying why (unless quiet). */
int cli_bus_connect(CliBus *ret, CliBusFlags flags);
void cli_bus_done(CliBus *b);
/* "the system bus" or "the private socket /run/cedana/cedanad.sock". */
const char *cli_bus_describe(const CliBus *b);

/* A method call to cedanad at path (NULL: the manager object), allowing interactive
 * authorization unless --no-ask-password. */
int cli_bus_new_call(CliBus *b, const char *path, const char *interface, const char *member, sd_bus_message **ret);
static inline int cli_bus_new_manager_call(CliBus *b, const char *member, sd_bus_message **ret) {
        return cli_bus_new_call(b, NULL, CEDANA_MANAGER_INTERFACE, member, ret);
}
/* Sends m and waits for the reply, starting a polkit agent first when a password may be asked
 * for. With progress, Progress signals are shown on stderr meanwhile. */
int cli_bus_call(CliBus *b, sd_bus_message *m, bool progress, sd_bus_error *error, sd_bus_message **ret_reply);
/* What a long call (Dump, Restore) learned beside its reply. */
typedef struct CliCallInfo {
        bool cancel_requested; /* interrupted: cedanad was asked to cancel */
        json_t *stats;         /* its Statistics signal, as an object; NULL if none came */
} CliCallInfo;

void cli_call_info_done(CliCallInfo *info);

/* Like cli_bus_call() with progress, and more: the progress line shows the rate; the Statistics
 * signal is kept in info; SIGINT and SIGTERM ask cedanad to Cancel the operation (and a second
 * one stops waiting: -ECANCELED, after saying so). The reply tells how it ended: an error
 * Cancelled, or success when the cancel came too late (info->cancel_requested is set then). */
int cli_bus_call_long(CliBus *b, sd_bus_message *m, CliCallInfo *info, sd_bus_error *error,
                      sd_bus_message **ret_reply);
int cli_bus_get_property(CliBus *b, const char *path, const char *interface, const char *member,
                         sd_bus_error *error, sd_bus_message **ret_reply, const char *type);

/* Prints the reason for a failed call in one sentence and returns the exit status for it. The
 * daemon's own messages are sentences for users and printed as they are; anything else becomes
 * "Failed to WHAT: reason." */
int log_bus_error(const sd_bus_error *error, int r, const char *what_format, ...) _printf_(3, 4);

/* Stops the polkit agent, if one was started. */
void polkit_agent_close(void);
