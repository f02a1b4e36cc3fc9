/* SPDX-License-Identifier: Apache-2.0 */
/* runc, driven through its command line: the contract runc keeps with everyone who checkpoints
 * its containers (`runc checkpoint`, `runc restore`), so that afterwards runc still knows the
 * container: `runc list` shows it, `runc kill` and `runc delete` work. runc runs CRIU itself;
 * cedana hands it the CRIU to use. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"

/* Where root's runc keeps its containers' state unless told --root. */
#define RUNC_DEFAULT_ROOT "/run/runc"

typedef struct Runc {
        const char *binary; /* runc */
        const char *root;   /* --root, its state directory; NULL: runc's default */
        const char *criu;   /* --criu */
} Runc;

typedef struct RuncState {
        char *id;
        char *status;  /* "created", "running", "paused", "stopped" */
        pid_t pid;     /* the container's init; 0 when stopped */
        char *bundle;
        char *rootfs;
        uid_t owner;   /* 0 for root's containers; rootless ones are their user's */
} RuncState;

void runc_state_done(RuncState *s);

/* Container ids as runc takes them and as cedana names files after them. */
bool runc_id_is_valid(const char *id);

/* What `runc state ID` says. Outcomes: NO_SUCH_CONTAINER, RUNTIME_FAILED, each with a sentence. */
int runc_state(const Runc *rc, const char *id, RuncState *ret, char **reterr);

/* A dump that leaves nothing half done, as for processes: CRIU (run by runc) freezes the
 * container, writes its images and, while it is still frozen and its network locked, has
 * cedana-criu-hook ask for commit(); only then does it kill the container (runc deletes it), or
 * with leave_running let it go on. A failed commit makes CRIU let it run on, untouched. */
typedef struct RuncDump {
        const char *id;
        int images_dir_fd;  /* where CRIU writes the images */
        int work_dir_fd;    /* CRIU's log and stats */
        const DumpOptions *options;
        /* The container's processes before the dump, its init first, and the init's pidfd:
         * once one CRIU seized exits, runc and its CRIU get a grace period, then are killed. */
        const pid_t *tree;
        size_t n_tree;
        int init_pidfd;
        int (*commit)(void *userdata); /* < 0: the dump failed, its outcome set by commit */
        void *userdata;
} RuncDump;

/* 0 once committed (whatever deleting or resuming did afterwards: logged), the commit's own
 * negative return, or RUNTIME_FAILED / CONTAINER_STATE with a sentence. */
int runc_dump(const Runc *rc, const RuncDump *d, char **reterr);

typedef struct RuncRestore {
        const char *id;     /* the restored container's id; it must not exist */
        const char *bundle; /* its bundle: config.json and the root file system */
        int images_dir_fd;
        int work_dir_fd;
        bool tcp_established;
        bool file_locks;
        unsigned timeout_sec; /* runc and its CRIU are stopped after this long (0: never) */
} RuncRestore;

/* `runc restore --detach`, running; cedana-criu-hook brings its loopback up before its sockets
 * are restored (runc restores the network namespace empty). *ret_pid: its init. Outcomes: EXISTS, NO_SUCH_FILE (bundle),
 * RUNTIME_FAILED. On failure nothing of it is left, in runc or running. */
int runc_restore(const Runc *rc, const RuncRestore *r, pid_t *ret_pid, char **reterr);
