/* SPDX-License-Identifier: Apache-2.0 */
/* Kills a `criu swrk` that will never answer. CRIU aborts a dump from its SIGCHLD handler with
 * exit(), which is not async-signal-safe: when a dumped task dies at the wrong moment CRIU
 * deadlocks inside exit() and its caller would wait forever, with the rest of the tree still
 * seized. And CRIU 4.2 waits forever when a task dies inside its restorer. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct CriuWatch CriuWatch;

/* Watches swrk (our unreaped child, so its pid cannot be reused meanwhile) from a thread of its
 * own: kills it timeout_sec after the start (0: never), or, for a dump (target_pidfd >= 0: the
 * pidfd of target, the tree's root), grace_sec after the root or a task of the tree CRIU had
 * seized exited, which no dump survives. The tree is taken as it is now, before CRIU runs. */
int criu_watch_start(pid_t swrk, unsigned timeout_sec, pid_t target, int target_pidfd, unsigned grace_sec,
                     CriuWatch **ret);
/* Stops watching; returns whether the watch killed swrk. Call before reaping swrk. */
bool criu_watch_stop(CriuWatch *w);

/* CRIU answers at once when a dumped task dies, unless it is stuck. */
#define CRIU_WATCH_GRACE_SEC 10
