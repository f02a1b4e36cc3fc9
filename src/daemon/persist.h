/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs that outlive a shutdown. While a job marked to persist runs (`cedana job persist`, or any
 * job with [Jobs] PersistAll=yes), cedanad holds a logind "delay" inhibitor lock on shutdown and
 * so stays running: when logind announces the shutdown (PrepareForShutdown), each such job is
 * dumped, which halts it, with its schedule's compression and directory, and marked to be
 * restored at boot in the same transaction that records its checkpoint. The lock is released
 * once the last of those dumps ended; logind goes on without waiting past its
 * InhibitDelayMaxSec=, and a dump cut short leaves only an intent that the next start removes.
 * While any job is so marked, STATEDIR/restore-at-boot exists: cedana-restore.service, in the
 * boot transaction on that condition, runs `cedana job restore-persisted`. With nothing marked,
 * nothing of this holds cedanad or runs at boot. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct Job Job;
typedef struct Manager Manager;

#define PERSIST_BOOT_FLAG "restore-at-boot"

/* Whether j is checkpointed at shutdown. */
bool persist_wanted(const Job *j);
/* Marks or unmarks j, saved. */
int persist_set(Job *j, bool on, sd_bus_error *error);
/* Takes the inhibitor lock while a job to persist runs, gives it back otherwise; keeps the boot
 * flag file in line with the jobs marked to be restored at boot. */
void persist_sync(Manager *m);
/* Whether cedanad must stay: it holds the lock, or the shutdown dumps run. */
bool persist_holds(Manager *m);
/* During a shutdown: starts the checkpoints of marked jobs that became idle (a scheduled dump of
 * one was in flight when it began), and releases the lock once none is owed or in flight. Called
 * after every event, like the idle check. */
void persist_continue(Manager *m);
/* A dump for the shutdown ended: r 0, or why not (message). */
void persist_dump_done(Manager *m, Job *j, int r, const char *message);
/* Lets go of the lock and the signal match, as cedanad exits. */
void persist_done(Manager *m);
