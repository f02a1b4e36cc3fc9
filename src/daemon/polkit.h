/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization: root passes, everyone else asks polkit, asynchronously, with the caller's bus
 * name as subject. While polkit thinks, the call waits and is dispatched again afterwards. */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define POLKIT_ACTION_MANAGE_OWN "org.cedana.checkpoint1.manage-own"
#define POLKIT_ACTION_RESTORE_FOREIGN "org.cedana.checkpoint1.restore-foreign"
#define POLKIT_ACTION_MANAGE_ANY "org.cedana.checkpoint1.manage-any"
#define POLKIT_ACTION_MANAGE_CONTAINERS "org.cedana.checkpoint1.manage-containers"

#define POLKIT_QUERIES_PER_CALLER_MAX 16

/* Returns 1 when the caller may go ahead; 0 when a polkit query is now in flight (the handler
 * returns 1 without replying; sd-bus dispatches the same call again when polkit answers);
 * < 0 with *error set (AccessDenied, InteractiveAuthorizationRequired) when refused.
 * details: NULL or key, value, ..., NULL for polkit's message templates. */
int polkit_check(Manager *m, sd_bus_message *call, const char *action, const char *const *details,
                 sd_bus_error *error);
void polkit_queries_free(Manager *m);
/* Forgets the queries whose answers were handed out: after each dispatch. */
void polkit_queries_gc(Manager *m);

/* The caller's effective uid, from the kernel (SO_PEERCRED via the bus), never from the caller. */
int bus_caller_uid(sd_bus_message *call, uid_t *ret);
