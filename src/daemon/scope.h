/* SPDX-License-Identifier: Apache-2.0 */
/* Transient systemd scopes for jobs: StartTransientUnit with the job's PIDs in cedana.slice,
 * waiting until systemd has moved them, and KillUnit for `cedana job kill`. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define CEDANA_SLICE "cedana.slice"

/* Called once: error 0 when the scope runs with the PIDs in it, else -errno and a message. */
typedef void (*ScopeCallback)(Manager *m, int error, const char *message, void *userdata);

/* "cedana-<uid>-<job>.scope": job names are per owner, unit names are not. */
int scope_name_for_job(uid_t uid, const char *job, char **ret);
/* Starts unit (a scope) holding pids. The callback runs when systemd's start job finished. */
int scope_start(Manager *m, const char *unit, const char *description, const pid_t *pids, size_t n_pids,
                ScopeCallback cb, void *userdata);
/* Forgets a pending start (its callback will not run). */
void scope_cancel(Manager *m, void *userdata);
/* Sends sig to every process of the scope. */
int scope_kill(Manager *m, const char *unit, int sig, sd_bus_error *error);
/* Whether systemd knows the unit and it is active ("active"/"activating"...): 1 active, 0 not. */
int scope_is_active(Manager *m, const char *unit);
