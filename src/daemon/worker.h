/* SPDX-License-Identifier: Apache-2.0 */
/* Workers: forked children that do the long work (CRIU, archives, deleting big checkpoints) so
 * the daemon's event loop never blocks. Parent and child talk in typed messages (worker-protocol.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "list.h"
#include "worker-protocol.h"

typedef struct Manager Manager;
typedef struct Worker Worker;

/* In the child: does the work, talking over sock; the return value is the exit status. */
typedef int (*WorkerRun)(int sock, void *userdata);
/* In the parent: one message from the child (validated: known type, right size, strings
 * terminated). Returning < 0 kills the worker. */
typedef int (*WorkerOnMessage)(Worker *w, const WorkerMessage *msg, void *userdata);
/* In the parent: the child is gone (a wait status); the worker is freed right after. */
typedef void (*WorkerOnExit)(Worker *w, int wait_status, void *userdata);

struct Worker {
        Manager *manager;
        char *description;
        pid_t pid;
        int sock;
        sd_event_source *io_source;
        WorkerOnMessage on_message;
        WorkerOnExit on_exit;
        void *userdata;
        WorkerUsage usage; /* the child's (and the children it reaped), once it exited */
        LIST_FIELDS(Worker, workers);
};

/* Forks; the child keeps only keep_fds (plus its end of the socket) open, dies with the daemon,
 * and calls run(). */
int worker_spawn(Manager *m, const char *description, const int *keep_fds, size_t n_keep, WorkerRun run,
                 void *run_userdata, WorkerOnMessage on_message, WorkerOnExit on_exit, void *userdata, Worker **ret);
int worker_send(Worker *w, const WorkerMessage *msg);
/* Tells the child the caller cancelled (WM_CANCEL). */
int worker_send_cancel(Worker *w);
/* Kills the child if it still runs (SIGKILL) and forgets it. */
Worker *worker_free(Worker *w);
/* The manager reaped pid: if it is a worker, its on_exit runs and true is returned. */
bool worker_dispatch_exit(Manager *m, pid_t pid, int wait_status, const struct rusage *ru);

/* Child side, blocking. */
int worker_child_send(int sock, const WorkerMessage *msg);
int worker_child_send_status(int sock, WorkerMessageType type, int code, const char *message);
/* A phase of the work and how far it got, for the caller's Progress signals; throttled
 * (progress_throttle_test()), so it may be called for every chunk of work. Thread-safe. */
void worker_child_send_progress(int sock, const char *phase, uint64_t done, uint64_t total);
/* Whether the daemon sent WM_CANCEL: takes it off the socket if it is next there (without
 * blocking, leaving any other message), or remembers one worker_child_wait_reply() met.
 * Thread-safe. */
bool worker_child_cancelled(int sock);
/* Waits for the daemon's WM_REPLY: its code, and its message in *reterr when not 0. */
int worker_child_wait_reply(int sock, char **reterr);

#define WORKER_KEEP_FDS_MAX 16
