/* SPDX-License-Identifier: Apache-2.0 */
/* containerd, driven through its own API (gRPC on its socket, grpc.h): the task is paused, its
 * runc shim has CRIU write the images where cedana collects them, and only once the checkpoint is
 * committed is the task killed (still paused, so nothing of it runs again) and removed, or let run
 * on. A restore creates the container and its snapshot anew and has the shim restore the task, so
 * that afterwards `ctr task ls` shows it RUNNING and containerd can kill and delete it. Nothing of
 * containerd's state is edited behind its back. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "options.h"

#define CONTAINERD_DEFAULT_ADDRESS "/run/containerd/containerd.sock"
#define CONTAINERD_DEFAULT_NAMESPACE "default"
/* The checkpoint's own files beside CRIU's images: containerd's record of the container (its
 * Containers.Container message: image, runtime and its options, OCI spec, labels) and the
 * container's writable layer, a tar of the overlay upper directory. */
#define CONTAINERD_RECORD_FILE "containerd-container.pb"
#define CONTAINERD_LAYER_FILE "rootfs-diff.tar"

typedef struct Containerd {
        const char *address;     /* its socket */
        const char *namespace;
        /* CRIU's configuration for restored containers (network lock, cedana-criu-hook), named in
         * their spec's org.criu.config annotation: runc reads it for each later checkpoint and
         * restore of them too. criu_config_keep also keeps established connections and file locks:
         * for checkpoints that hold them. */
        const char *criu_config;
        const char *criu_config_keep;
        /* How long a call that only looks or changes a state may take (0: a minute); a checkpoint
         * and a restore's start take as long as CRIU takes. */
        unsigned call_timeout_sec;
} Containerd;

/* What containerd says of a container and its task. */
typedef struct ContainerdContainer {
        char *id;
        char *image;
        char *runtime;         /* "io.containerd.runc.v2" */
        char *snapshotter;
        char *snapshot_key;
        char *snapshot_parent; /* the image's top layer, as the snapshotter names it */
        char *status;          /* the task's: "running", "paused", "created", "stopped"; "none" without one */
        pid_t pid;             /* the task's init; 0 unless it runs */
        void *record;          /* containerd's Container message, packed */
        size_t record_size;
} ContainerdContainer;

void containerd_container_done(ContainerdContainer *c);

/* Namespaces and container ids as containerd takes them ([A-Za-z0-9] runs joined by . _ -). */
bool containerd_name_is_valid(const char *name);

/* Outcomes: NOT_SUPPORTED (containerd not reachable there; a runtime other than runc; a rootfs
 * that is not an overlayfs snapshot), NO_SUCH_CONTAINER, RUNTIME_FAILED, each with a sentence. */
int containerd_inspect(const Containerd *c, const char *id, ContainerdContainer *ret, char **reterr);

/* Resumes the task of id if it is paused: what is left of a dump that ended abnormally. 0 (also
 * when there is no such task, or it is not paused), or RUNTIME_FAILED with a sentence. */
int containerd_resume(const Containerd *c, const char *id, char **reterr);

typedef struct ContainerdDump {
        const ContainerdContainer *container;
        int images_dir_fd;  /* where CRIU writes the images, and cedana the record and layer */
        int work_dir_fd;    /* CRIU's log ("dump.log") and stats */
        const DumpOptions *options;
        int (*commit)(void *userdata); /* < 0: the dump failed, its outcome set by commit */
        void *userdata;
} ContainerdDump;

/* 0 once committed (whatever killing or resuming did afterwards: logged), the commit's own
 * negative return, or RUNTIME_FAILED / CONTAINER_STATE with a sentence; the task then runs on. */
int containerd_dump(const Containerd *c, const ContainerdDump *d, char **reterr);

typedef struct ContainerdRestore {
        const char *id;        /* the restored container's id; it must not exist */
        const char *snapshot_parent;
        int images_dir_fd;     /* the verified images, record and layer */
        int work_dir_fd;
        bool tcp_established;
        bool file_locks;
} ContainerdRestore;

/* The container made again from the checkpoint's record (its cgroup path moved to the new id),
 * its snapshot prepared on the image's layers with the writable layer put back, and its task
 * restored and running; *ret_pid its init. Outcomes: EXISTS, NOT_SUPPORTED, NO_SUCH_FILE (the
 * image's layers are not here), CHECKPOINT_CORRUPT, RUNTIME_FAILED. On failure nothing of it is
 * left in containerd. */
int containerd_restore(const Containerd *c, const ContainerdRestore *r, pid_t *ret_pid, char **reterr);
