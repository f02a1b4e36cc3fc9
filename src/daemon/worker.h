/* SPDX-License-Identifier: Apache-2.0 */
/* Workers: forked children that do the long work (CRIU, archives) so the daemon's event loop
 * never blocks. Parent and child talk in JSON messages over a SOCK_SEQPACKET pair. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "json.h"
#include "list.h"

typedef struct Manager Manager;
typedef struct Worker Worker;

/* In the child: does the work, talking over sock; the return value is the exit status. */
typedef int (*WorkerRun)(int sock, void *userdata);
/* In the parent: one message from the child. Returning < 0 kills the worker. */
typedef int (*WorkerMessage)(Worker *w, JsonVariant *msg, void *userdata);
/* In the parent: the child is gone (status as from waitid: si_code/si_status folded into a
 * wait status); the worker is freed right after. */
typedef void (*WorkerExit)(Worker *w, int wait_status, void *userdata);

struct Worker {
        Manager *manager;
        char *description;
        pid_t pid;
        int sock;
        sd_event_source *io_source;
        WorkerMessage on_message;
        WorkerExit on_exit;
        void *userdata;
        uint64_t max_rss_kib; /* the child's peak resident set, once it exited */
        LIST_FIELDS(Worker, workers);
};

/* Forks; the child keeps only keep_fds (plus its end of the socket) open, dies with the daemon,
 * and calls run(). */
int worker_spawn(Manager *m, const char *description, const int *keep_fds, size_t n_keep,
                 WorkerRun run, void *run_userdata,
                 WorkerMessage on_message, WorkerExit on_exit, void *userdata, Worker **ret);
/* Sends a message to the child. */
int worker_send(Worker *w, const JsonVariant *msg);
/* Kills the child if it still runs (SIGKILL) and forgets it. */
Worker *worker_free(Worker *w);
/* The manager reaped pid: if it is a worker, its on_exit runs and true is returned. */
bool worker_dispatch_exit(Manager *m, pid_t pid, int wait_status, uint64_t max_rss_kib);

/* Child side, blocking. */
int worker_child_send(int sock, const JsonVariant *msg);
int worker_child_recv(int sock, JsonVariant **ret);

#define WORKER_MESSAGE_MAX (1U << 20)
#define WORKER_KEEP_FDS_MAX 16
