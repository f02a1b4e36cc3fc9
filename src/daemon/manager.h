/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's state: event loop, bus connections (system bus and private socket), the jobs,
 * the workers in flight, configuration, and the idle-exit logic that ties them together. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "job.h"
#include "list.h"
#include "macro.h"
#include "worker.h"

typedef struct JobStore JobStore;
typedef struct Operation Operation;
typedef struct PolkitQuery PolkitQuery;
typedef struct ScopeStart ScopeStart;

/* A connection accepted on the private socket. */
typedef struct PrivateBus {
        Manager *manager;
        sd_bus *bus;
        LIST_FIELDS(struct PrivateBus, private_buses);
} PrivateBus;

struct Manager {
        sd_event *event;
        sd_bus *bus; /* the system bus; NULL when there is none */
        PrivateBus *private_buses;
        unsigned n_private_buses;
        int listen_fd;
        sd_event_source *listen_source;

        char *config_file;
        char *config_dropin_dir;
        Config config;

        char *state_dir; /* STATEDIR unless overridden for tests */
        char *log_dir;
        int state_dir_fd;
        int log_dir_fd;
        JobStore *store;

        Job *jobs;
        unsigned n_jobs;
        Worker *workers;
        Operation *operations;
        PolkitQuery *polkit_queries;
        ScopeStart *scope_starts; /* StartTransientUnit calls waiting for systemd */

        sd_event_source *idle_timer;
        sd_event_source *hygiene_timer;
        sd_event_source *sigchld_source;
        bool exiting;

        char *criu_version; /* cached: asking CRIU costs a fork and exec */

        /* persist.c: logind's delay lock on shutdown (-EBADF while not held), its signal, and
         * the dumps taken for a shutdown under way */
        int inhibit_fd;
        sd_bus_slot *shutdown_slot;
        bool shutting_down;
        bool shutdown_settled; /* its checkpoints done, the lock released */
        unsigned shutdown_dumps;
};

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads the configuration, opens the job store, connects the buses and takes the socket
 * systemd passed. */
int manager_startup(Manager *m);
int manager_run(Manager *m);

/* Whether nothing is in flight (derived from live state, never counted): no operation, worker,
 * polkit query, private connection or attached job's output to pass on. */
bool manager_is_idle(Manager *m);
/* Called whenever something finishes: arms the idle timer if the manager is idle. */
void manager_check_idle(Manager *m);

/* Every bus connection the daemon serves, for emitting signals on all of them. */
typedef int (*ManagerBusFunc)(sd_bus *bus, void *userdata);
int manager_foreach_bus(Manager *m, ManagerBusFunc f, void *userdata);

/* CRIU's version ("4.2.1"), NULL when CRIU does not answer. */
const char *manager_criu_version(Manager *m);
/* Features, computed once: "criu=4.2.1", "compression=zstd", ... */
int manager_features(Manager *m, char ***ret);
