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
 * own: kills it timeout_sec after the start (0: never), or, for a dump (root_pidfd >= 0: the
 * pidfd of tree[0], the root of the n tasks dumped, as they were before CRIU ran), grace_sec
 * after the root or a task CRIU had seized exited, which no dump survives. */
int criu_watch_start(pid_t swrk, unsigned timeout_sec, const pid_t *tree, size_t n, int root_pidfd, unsigned grace_sec,
                     CriuWatch **ret);
/* The same for a CRIU run by another program (runc): leader, our unreaped child, leads the process
 * group CRIU is in, and the whole group is killed. */
int criu_watch_start_group(pid_t leader, unsigned timeout_sec, const pid_t *tree, size_t n, int root_pidfd,
                           unsigned grace_sec, CriuWatch **ret);
/* Stops watching; returns whether the watch killed swrk. Call before reaping swrk. */
bool criu_watch_stop(CriuWatch *w);

/* CRIU answers at once when a dumped task dies, unless it is stuck. */
#define CRIU_WATCH_GRACE_SEC 10
