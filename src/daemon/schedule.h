/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduled checkpoints of jobs. Each scheduled job has a transient systemd timer,
 * cedana-schedule-<uid>-<job>.timer (what `systemctl list-timers` shows), whose service runs
 * `cedana job schedule <uid>/<job> --now` as root: that call has cedanad dump the job with it
 * left running, record how it went, and delete the oldest of the schedule's checkpoints beyond
 * those kept, only once the new one is complete. The timer is systemd's, so it goes on through
 * cedanad's idle exits and restarts; cedanad starts it whenever the job runs (a restore, a
 * restart) and stops it when the job stops running. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Job Job;

/* Shorter intervals would have a job spend its life being dumped. */
#define SCHEDULE_MIN_USEC (UINT64_C(1) * 1000000)

/* "cedana-schedule-<uid>-<job>.timer" (suffix "timer") or its ".service". */
int schedule_unit_name(const Job *j, const char *suffix, char **ret);
/* Gives j the schedule (usec 0: none; keep 0: keep all; compression and dir NULL: the configured
 * ones), saves it and makes the timer follow. */
int schedule_set(Job *j, uint64_t usec, unsigned keep, const char *compression, const char *dir,
                 sd_bus_error *error);
/* Starts the timer of a running scheduled job, stops it for any other; failures are logged. */
void schedule_sync(Job *j);
/* When the timer elapses next, CLOCK_REALTIME µs; 0 when it does not wait (none, or due now). */
uint64_t schedule_next_usec(Job *j);
/* A scheduled dump of j ended: r 0, or why not (message). Recorded on the job; after a success,
 * the schedule's checkpoints beyond those it keeps are deleted. */
void schedule_dump_done(Job *j, int r, const char *message);
