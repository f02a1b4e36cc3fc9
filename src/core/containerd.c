/* SPDX-License-Identifier: Apache-2.0 */

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bus-error.h"
#include "containerd.h"
#include "containers.pb-c.h"
#include "fd-util.h"
#include "grpc.h"
#include "json-util.h"
#include "log.h"
#include "message.h"
#include "oci.pb-c.h"
#include "progress.h"
#include "rootfs-layer.h"
#include "snapshots.pb-c.h"
#include "tasks.pb-c.h"

typedef Containerd__Services__Containers__V1__Container Container;
typedef Containerd__V1__Types__Process Process;
typedef Containerd__Types__Mount Mount;
typedef Google__Protobuf__Any Any;

#define TASKS "/containerd.services.tasks.v1.Tasks/"
#define CONTAINERS "/containerd.services.containers.v1.Containers/"
#define SNAPSHOTS "/containerd.services.snapshots.v1.Snapshots/"
/* How containerd names the types in an Any (typeurl: the message's full name). */
#define TYPE_RUNC_OPTIONS "containerd.runc.v1.Options"
#define TYPE_RUNC_CHECKPOINT_OPTIONS "containerd.runc.v1.CheckpointOptions"
#define TYPE_OCI_SPEC_SUFFIX "opencontainers/runtime-spec/1/Spec"
#define RUNC_RUNTIME_PREFIX "io.containerd.runc."

/* Calls that only look or change a state answer at once; a checkpoint, or a restore's start,
 * takes as long as CRIU takes. */
#define CALL_TIMEOUT_SEC 60
#define STOP_TIMEOUT_USEC (30 * USEC_PER_SEC)

void containerd_container_done(ContainerdContainer *c) {
        free(c->id);
        free(c->image);
        free(c->runtime);
        free(c->snapshotter);
        free(c->snapshot_key);
        free(c->snapshot_parent);
        free(c->status);
        free(c->record);
        *c = (ContainerdContainer) {};
}

bool containerd_name_is_valid(const char *name) {
        /* containerd's identifiers: alphanumeric runs joined by single '.', '_' or '-', at most 76. */
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 76)
                return false;
        bool sep = true;
        for (const char *p = name; *p; p++) {
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                if (!alnum && (sep || !strchr("._-", *p)))
                        return false;
                sep = !alnum;
        }
        return !sep;
}

static unsigned call_timeout(const Containerd *c) {
        return c->call_timeout_sec ?: CALL_TIMEOUT_SEC;
}

/* ---- calls ----------------------------------------------------------------------------------- */

static int channel_open(const Containerd *c, GrpcChannel **ret) {
        _cleanup_free_ char *ns = NULL;
        if (asprintf(&ns, "containerd-namespace: %s", c->namespace) < 0)
                return -ENOMEM;
        return grpc_channel_new(c->address, (char *[]) { ns, NULL }, ret);
}

/* One call; a failure of the transport or an unexpected status is RUNTIME_FAILED with a sentence
 * naming what was asked (what), a status the caller tells apart is returned as it is (> 0) with
 * containerd's words in *ret_words. */
static int call(const Containerd *c, GrpcChannel *ch, const char *method, const void *request,
                const ProtobufCMessageDescriptor *answer, unsigned timeout, void *ret, const char *what,
                const int *expected, char **ret_words, char **reterr) {
        _cleanup_free_ char *words = NULL;
        int r = grpc_call(ch, method, request, answer, timeout, ret, &words);
        if (r == 0)
                return 0;
        if (r == -ENOMEM)
                return r;
        if (r == -ENOENT || r == -ECONNREFUSED)
                return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "containerd is not running at %s (%s); start it, "
                                   "or name its socket with --address.", c->address, strna(words));
        for (const int *e = expected; r > 0 && e && *e; e++)
                if (r == *e) {
                        if (ret_words)
                                *ret_words = TAKE_PTR(words);
                        return r;
                }
        return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "containerd failed to %s: %s.", what, strna(words));
}

static int task_get(const Containerd *c, GrpcChannel *ch, const char *id, Process **ret, char **reterr) {
        Containerd__Services__Tasks__V1__GetRequest req = CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
        Containerd__Services__Tasks__V1__GetResponse *resp = NULL;
        req.container_id = (char *) id;
        int r = call(c, ch, TASKS "Get", &req, &containerd__services__tasks__v1__get_response__descriptor,
                     call_timeout(c), &resp, "say what the task is", (int[]) { GRPC_NOT_FOUND, 0 }, NULL, reterr);
        if (r != 0)
                return r;
        *ret = resp->process;
        resp->process = NULL;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return *ret ? 0 : message_set(reterr, CEDANA_E_RUNTIME_FAILED, "containerd said nothing of the task of %s.", id);
}

static const char *status_name(Containerd__V1__Types__Status s) {
        switch (s) {
        case CONTAINERD__V1__TYPES__STATUS__CREATED: return "created";
        case CONTAINERD__V1__TYPES__STATUS__RUNNING: return "running";
        case CONTAINERD__V1__TYPES__STATUS__STOPPED: return "stopped";
        case CONTAINERD__V1__TYPES__STATUS__PAUSED: return "paused";
        case CONTAINERD__V1__TYPES__STATUS__PAUSING: return "pausing";
        default: return "unknown";
        }
}

static int task_pause(const Containerd *c, GrpcChannel *ch, const char *id, char **reterr) {
        Containerd__Services__Tasks__V1__PauseTaskRequest req = CONTAINERD__SERVICES__TASKS__V1__PAUSE_TASK_REQUEST__INIT;
        req.container_id = (char *) id;
        return call(c, ch, TASKS "Pause", &req, &google__protobuf__empty__descriptor, call_timeout(c), NULL,
                    "pause the task", NULL, NULL, reterr);
}

static int task_resume(const Containerd *c, GrpcChannel *ch, const char *id, char **reterr) {
        Containerd__Services__Tasks__V1__ResumeTaskRequest req = CONTAINERD__SERVICES__TASKS__V1__RESUME_TASK_REQUEST__INIT;
        req.container_id = (char *) id;
        return call(c, ch, TASKS "Resume", &req, &google__protobuf__empty__descriptor, call_timeout(c), NULL,
                    "resume the task", NULL, NULL, reterr);
}

static int task_delete(const Containerd *c, GrpcChannel *ch, const char *id, char **reterr) {
        Containerd__Services__Tasks__V1__DeleteTaskRequest req = CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;
        req.container_id = (char *) id;
        return call(c, ch, TASKS "Delete", &req, &containerd__services__tasks__v1__delete_response__descriptor,
                    call_timeout(c), NULL, "delete the task", NULL, NULL, reterr);
}

/* SIGKILL to every process of the task, then until containerd reports it stopped. */
static int task_kill(const Containerd *c, GrpcChannel *ch, const char *id, char **reterr) {
        Containerd__Services__Tasks__V1__KillRequest req = CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
        req.container_id = (char *) id;
        req.signal = SIGKILL;
        req.all = true;
        int r = call(c, ch, TASKS "Kill", &req, &google__protobuf__empty__descriptor, call_timeout(c), NULL,
                     "kill the task", NULL, NULL, reterr);
        for (uint64_t start = now_monotonic_usec(); r == 0;) {
                Process *p = NULL;
                r = task_get(c, ch, id, &p, reterr);
                if (r != 0)
                        return r == GRPC_NOT_FOUND ? 0 : r;
                bool stopped = p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED;
                protobuf_c_message_free_unpacked(&p->base, NULL);
                if (stopped)
                        return 0;
                if (now_monotonic_usec() - start > STOP_TIMEOUT_USEC)
                        return message_set(reterr, CEDANA_E_RUNTIME_FAILED, "The task of %s did not stop after "
                                           "SIGKILL.", id);
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        return r;
}

static int container_delete(const Containerd *c, GrpcChannel *ch, const char *id, char **reterr) {
        Containerd__Services__Containers__V1__DeleteContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
        req.id = (char *) id;
        int r = call(c, ch, CONTAINERS "Delete", &req, &google__protobuf__empty__descriptor, call_timeout(c), NULL,
                     "delete the container", (int[]) { GRPC_NOT_FOUND, 0 }, NULL, reterr);
        return r == GRPC_NOT_FOUND ? 0 : r;
}

static int snapshot_remove(const Containerd *c, GrpcChannel *ch, const char *snapshotter, const char *key,
                           char **reterr) {
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = (char *) snapshotter;
        req.key = (char *) key;
        int r = call(c, ch, SNAPSHOTS "Remove", &req, &google__protobuf__empty__descriptor, call_timeout(c), NULL,
                     "remove the container's snapshot", (int[]) { GRPC_NOT_FOUND, 0 }, NULL, reterr);
        return r == GRPC_NOT_FOUND ? 0 : r;
}

/* The directory that holds the snapshot's own files: an overlay's upper directory, or the bind
 * mount's source of a snapshot without a parent. */
static int layer_dir(const ContainerdContainer *k, Mount **mounts, size_t n, char **ret, char **reterr) {
        if (n == 1 && streq(mounts[0]->type, "overlay"))
                for (size_t i = 0; i < mounts[0]->n_options; i++) {
                        const char *v = startswith(mounts[0]->options[i], "upperdir=");
                        if (v)
                                return (*ret = strdup(v)) ? 0 : -ENOMEM;
                }
        if (n == 1 && streq(mounts[0]->type, "bind") && mounts[0]->source[0] == '/')
                return (*ret = strdup(mounts[0]->source)) ? 0 : -ENOMEM;
        return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "Container %s's root file system (snapshotter %s) is not "
                           "an overlayfs snapshot; cedana takes a container's writable layer from overlayfs "
                           "snapshots only.", k->id, k->snapshotter);
}

static int snapshot_mounts(const Containerd *c, GrpcChannel *ch, const ContainerdContainer *k,
                           Containerd__Services__Snapshots__V1__MountsResponse **ret, char **reterr) {
        Containerd__Services__Snapshots__V1__MountsRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
        req.snapshotter = k->snapshotter;
        req.key = k->snapshot_key;
        return call(c, ch, SNAPSHOTS "Mounts", &req, &containerd__services__snapshots__v1__mounts_response__descriptor,
                    call_timeout(c), ret, "say where the container's root file system is", NULL, NULL, reterr);
}

/* msg packed as the value of an Any of type_url; free the value with any_value_done(). */
static int pack_any(const ProtobufCMessage *msg, const char *type_url, Any *ret) {
        size_t size = protobuf_c_message_get_packed_size(msg);
        uint8_t *data = malloc(size ?: 1);
        if (!data)
                return -ENOMEM;
        protobuf_c_message_pack(msg, data);
        ret->type_url = (char *) type_url;
        ret->value = (ProtobufCBinaryData) { .len = size, .data = data };
        return 0;
}

static void any_value_done(Any *a) {
        free(a->value.data);
        a->value = (ProtobufCBinaryData) {};
}

/* ---- inspect --------------------------------------------------------------------------------- */

static int record_container(const Container *ct, ContainerdContainer *k, char **reterr) {
        if (!ct->runtime || !startswith(ct->runtime->name, RUNC_RUNTIME_PREFIX))
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "Container %s runs on runtime %s; cedana "
                                   "checkpoints containerd's runc containers (%sv2) only.", ct->id,
                                   ct->runtime ? ct->runtime->name : "(none)", RUNC_RUNTIME_PREFIX);
        size_t n = ct->spec ? strlen(ct->spec->type_url) : 0, m = STRLEN(TYPE_OCI_SPEC_SUFFIX);
        if (n < m || !streq(ct->spec->type_url + n - m, TYPE_OCI_SPEC_SUFFIX))
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "Container %s has no OCI runtime spec.", ct->id);
        if (isempty(ct->snapshotter) || isempty(ct->snapshot_key))
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "Container %s has no snapshot for its root file "
                                   "system; cedana restores containers on their image's snapshots.", ct->id);
        size_t size = protobuf_c_message_get_packed_size(&ct->base);
        if (!(k->record = malloc(size)))
                return -ENOMEM;
        k->record_size = protobuf_c_message_pack(&ct->base, k->record);
        if (!(k->id = strdup(ct->id)) || !(k->image = strdup(ct->image)) || !(k->runtime = strdup(ct->runtime->name)) ||
            !(k->snapshotter = strdup(ct->snapshotter)) || !(k->snapshot_key = strdup(ct->snapshot_key)))
                return -ENOMEM;
        return 0;
}

int containerd_inspect(const Containerd *c, const char *id, ContainerdContainer *ret, char **reterr) {
        _cleanup_(grpc_channel_freep) GrpcChannel *ch = NULL;
        _cleanup_(containerd_container_done) ContainerdContainer k = {};
        int r = channel_open(c, &ch);
        if (r < 0)
                return r;

        Containerd__Services__Containers__V1__GetContainerRequest get =
                CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
        Containerd__Services__Containers__V1__GetContainerResponse *got = NULL;
        get.id = (char *) id;
        r = call(c, ch, CONTAINERS "Get", &get, &containerd__services__containers__v1__get_container_response__descriptor,
                 call_timeout(c), &got, "say what the container is", (int[]) { GRPC_NOT_FOUND, 0 }, NULL, reterr);
        if (r == GRPC_NOT_FOUND)
                return message_set(reterr, CEDANA_E_NO_SUCH_CONTAINER, "containerd knows no container %s in namespace "
                                   "%s; see 'ctr -n %s containers list'.", id, c->namespace, c->namespace);
        if (r != 0)
                return r;
        r = got->container ? record_container(got->container, &k, reterr)
                           : message_set(reterr, CEDANA_E_RUNTIME_FAILED, "containerd said nothing of container %s.", id);
        protobuf_c_message_free_unpacked(&got->base, NULL);
        if (r != 0)
                return r;

        Containerd__Services__Snapshots__V1__StatSnapshotRequest stat =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
        Containerd__Services__Snapshots__V1__StatSnapshotResponse *info = NULL;
        stat.snapshotter = k.snapshotter;
        stat.key = k.snapshot_key;
        r = call(c, ch, SNAPSHOTS "Stat", &stat, &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                 call_timeout(c), &info, "say what the container's snapshot is", NULL, NULL, reterr);
        if (r != 0)
                return r;
        k.snapshot_parent = strdup(info->info ? info->info->parent : "");
        protobuf_c_message_free_unpacked(&info->base, NULL);
        if (!k.snapshot_parent)
                return -ENOMEM;

        Process *p = NULL;
        r = task_get(c, ch, id, &p, reterr);
        if (r == GRPC_NOT_FOUND)
                k.status = strdup("none");
        else if (r != 0)
                return r;
        else {
                k.status = strdup(status_name(p->status));
                k.pid = p->status == CONTAINERD__V1__TYPES__STATUS__RUNNING ? (pid_t) p->pid : 0;
                protobuf_c_message_free_unpacked(&p->base, NULL);
        }
        if (!k.status)
                return -ENOMEM;
        *ret = k;
        k = (ContainerdContainer) {};
        return 0;
}

int containerd_resume(const Containerd *c, const char *id, char **reterr) {
        _cleanup_(grpc_channel_freep) GrpcChannel *ch = NULL;
        int r = channel_open(c, &ch);
        if (r < 0)
                return r;
        Process *p = NULL;
        r = task_get(c, ch, id, &p, reterr);
        if (r == GRPC_NOT_FOUND)
                return 0;
        if (r != 0)
                return r;
        bool paused = p->status == CONTAINERD__V1__TYPES__STATUS__PAUSED;
        protobuf_c_message_free_unpacked(&p->base, NULL);
        return paused ? task_resume(c, ch, id, reterr) : 0;
}

/* ---- dump ------------------------------------------------------------------------------------ */

static int write_file_at(int dir_fd, const char *name, const void *data, size_t size) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        return loop_write(fd, data, size);
}

/* Beside CRIU's images, while the task is still paused: containerd's record and the layer. */
static int write_container(const Containerd *c, GrpcChannel *ch, const ContainerdDump *d, char **reterr) {
        const ContainerdContainer *k = d->container;
        int r = write_file_at(d->images_dir_fd, CONTAINERD_RECORD_FILE, k->record, k->record_size);
        if (r < 0)
                return message_set(reterr, r, "Cannot write container %s's record: %s.", k->id, strerror(-r));
        Containerd__Services__Snapshots__V1__MountsResponse *mounts = NULL;
        r = snapshot_mounts(c, ch, k, &mounts, reterr);
        if (r != 0)
                return r;
        _cleanup_free_ char *dir = NULL;
        r = layer_dir(k, mounts->mounts, mounts->n_mounts, &dir, reterr);
        protobuf_c_message_free_unpacked(&mounts->base, NULL);
        if (r != 0)
                return r;
        _cleanup_close_ int fd = openat(d->images_dir_fd, CONTAINERD_LAYER_FILE,
                                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return message_set(reterr, negative_errno(), "Cannot write container %s's writable layer: %m.", k->id);
        return rootfs_layer_write(dir, fd, reterr);
}

static int checkpoint_task(const Containerd *c, GrpcChannel *ch, const ContainerdDump *d, char **reterr) {
        /* The shim hands runc these paths; through our descriptors it writes where we collect. */
        char images[64], work[64];
        snprintf(images, sizeof(images), "/proc/%d/fd/%d", (int) getpid(), d->images_dir_fd);
        snprintf(work, sizeof(work), "/proc/%d/fd/%d", (int) getpid(), d->work_dir_fd);
        Containerd__Runc__V1__CheckpointOptions o = CONTAINERD__RUNC__V1__CHECKPOINT_OPTIONS__INIT;
        o.exit = false; /* the task stays paused: we kill it once committed */
        o.open_tcp = d->options->tcp_established;
        o.file_locks = d->options->file_locks;
        o.image_path = images;
        o.work_path = work;
        _cleanup_(any_value_done) Any any = GOOGLE__PROTOBUF__ANY__INIT;
        int r = pack_any(&o.base, TYPE_RUNC_CHECKPOINT_OPTIONS, &any);
        if (r < 0)
                return r;
        Containerd__Services__Tasks__V1__CheckpointTaskRequest req =
                CONTAINERD__SERVICES__TASKS__V1__CHECKPOINT_TASK_REQUEST__INIT;
        req.container_id = d->container->id;
        req.options = &any;
        return call(c, ch, TASKS "Checkpoint", &req, &containerd__services__tasks__v1__checkpoint_task_response__descriptor,
                    0, NULL, "checkpoint the task", NULL, NULL, reterr);
}

int containerd_dump(const Containerd *c, const ContainerdDump *d, char **reterr) {
        const char *id = d->container->id;
        _cleanup_(grpc_channel_freep) GrpcChannel *ch = NULL;
        int r = channel_open(c, &ch);
        if (r < 0)
                return r;
        /* Paused first: the task stays as the images show it until it is committed and killed. */
        r = task_pause(c, ch, id, reterr);
        if (r != 0)
                return r;
        r = checkpoint_task(c, ch, d, reterr);
        if (r == 0)
                r = write_container(c, ch, d, reterr);
        if (r == 0)
                r = d->commit(d->userdata);
        if (r != 0) {
                _cleanup_free_ char *err = NULL;
                if (task_resume(c, ch, id, &err) != 0)
                        log_error("Could not resume container %s after its dump failed: %s", id, strna(err));
                return r;
        }

        /* Committed: the dump has succeeded, whatever follows. */
        _cleanup_free_ char *err = NULL;
        if (d->options->leave_running) {
                if (task_resume(c, ch, id, &err) != 0)
                        log_error("Could not resume container %s after its checkpoint: %s", id, strna(err));
                return 0;
        }
        /* Killed while paused, so nothing of it runs past its checkpoint; then gone, as after a
         * runc dump, so that it can be restored under its own id. */
        if (task_kill(c, ch, id, &err) != 0 || task_delete(c, ch, id, &err) != 0 ||
            container_delete(c, ch, id, &err) != 0 ||
            snapshot_remove(c, ch, d->container->snapshotter, d->container->snapshot_key, &err) != 0)
                log_error("Container %s is checkpointed, but removing it failed: %s", id, strna(err));
        return 0;
}

/* ---- restore --------------------------------------------------------------------------------- */

/* A string of an unpacked message, which protobuf-c frees with it unless it is its shared "". */
static int replace_string(char **s, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        if (*s != protobuf_c_empty_string)
                free(*s);
        *s = v;
        return 0;
}

static void drop_timestamp(Google__Protobuf__Timestamp **t) {
        if (*t)
                protobuf_c_message_free_unpacked(&(*t)->base, NULL);
        *t = NULL;
}

static int read_record(int dir_fd, Container **ret, char **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = read_full_file_at(dir_fd, CONTAINERD_RECORD_FILE, 1U << 20, &data, &size);
        if (r < 0)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint has no readable record of the "
                                   "container (%s): %s.", CONTAINERD_RECORD_FILE, strerror(-r));
        Container *ct = (Container *) protobuf_c_message_unpack(&containerd__services__containers__v1__container__descriptor,
                                                               NULL, size, (const uint8_t *) data);
        if (!ct || !ct->spec || !ct->runtime)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint's record of the container "
                                   "(%s) is damaged.", CONTAINERD_RECORD_FILE);
        *ret = ct;
        return 0;
}

/* The spec the restored container runs with: its cgroup named after its new id (a spec reused as
 * it is would put it into the original's cgroup), and CRIU's configuration for cedana's
 * restores. */
static int rewrite_spec(const Containerd *c, const char *old_id, const char *new_id, const char *criu_config,
                        ProtobufCBinaryData *spec, char **reterr) {
        json_error_t jerr;
        _cleanup_json_ json_t *v = json_loadb((const char *) spec->data, spec->len, 0, &jerr);
        if (!json_is_object(v))
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint's OCI spec is not JSON: %s.",
                                   jerr.text);
        json_t *lx = json_object_get(v, "linux");
        const char *cg = json_string_value(json_object_get(lx, "cgroupsPath"));
        if (cg && !streq(old_id, new_id)) {
                size_t n = strlen(cg), m = strlen(old_id);
                _cleanup_free_ char *moved = NULL;
                /* "/ns/id" (cgroupfs) or "slice:prefix:id" (systemd): the id is the last part. */
                if (n > m && streq(cg + n - m, old_id) && strchr("/:", cg[n - m - 1])) {
                        if (asprintf(&moved, "%.*s%s", (int) (n - m), cg, new_id) < 0)
                                return -ENOMEM;
                } else if (asprintf(&moved, "/%s/%s", c->namespace, new_id) < 0)
                        return -ENOMEM;
                if (json_object_set_new(lx, "cgroupsPath", json_string(moved)) < 0)
                        return -ENOMEM;
        }
        json_t *ann = json_object_get(v, "annotations");
        if (!json_is_object(ann)) {
                ann = json_object();
                if (!ann || json_object_set_new(v, "annotations", ann) < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(ann, "org.criu.config", json_string(criu_config)) < 0)
                return -ENOMEM;
        char *s = json_dumps(v, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        free(spec->data);
        spec->data = (uint8_t *) s;
        spec->len = strlen(s);
        return 0;
}

static int create_container(const Containerd *c, GrpcChannel *ch, Container *ct, char **reterr) {
        Containerd__Services__Containers__V1__CreateContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
        req.container = ct;
        _cleanup_free_ char *words = NULL;
        int r = call(c, ch, CONTAINERS "Create", &req,
                     &containerd__services__containers__v1__create_container_response__descriptor, call_timeout(c),
                     NULL, "create the container", (int[]) { GRPC_ALREADY_EXISTS, 0 }, &words, reterr);
        if (r == GRPC_ALREADY_EXISTS)
                return message_set(reterr, CEDANA_E_EXISTS, "containerd already has a container %s in namespace %s; "
                                   "give the restored one another --id, or remove it ('ctr -n %s containers rm %s').",
                                   ct->id, c->namespace, c->namespace, ct->id);
        return r;
}

static int prepare_snapshot(const Containerd *c, GrpcChannel *ch, const Container *ct, const char *parent,
                            Containerd__Services__Snapshots__V1__PrepareSnapshotResponse **ret, char **reterr) {
        Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = ct->snapshotter;
        req.key = ct->snapshot_key;
        req.parent = (char *) parent;
        int r = call(c, ch, SNAPSHOTS "Prepare", &req,
                     &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, call_timeout(c), ret,
                     "prepare the container's snapshot", (int[]) { GRPC_NOT_FOUND, GRPC_ALREADY_EXISTS, 0 }, NULL,
                     reterr);
        if (r == GRPC_NOT_FOUND)
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "containerd's %s snapshotter in namespace %s does "
                                   "not have the layers of image %s; pull or import the image there first.", ct->snapshotter,
                                   c->namespace, ct->image);
        if (r == GRPC_ALREADY_EXISTS)
                return message_set(reterr, CEDANA_E_EXISTS, "containerd already has a snapshot %s; give the restored "
                                   "container another --id.", ct->snapshot_key);
        return r;
}

static int create_task(const Containerd *c, GrpcChannel *ch, const Container *ct, Mount **mounts, size_t n_mounts,
                       const ContainerdRestore *rr, char **reterr) {
        /* The container's own runc options, if any, with the images to restore from added. */
        Containerd__Runc__V1__Options *o = NULL;
        Containerd__Runc__V1__Options plain = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        const Any *recorded = ct->runtime->options;
        if (recorded && streq(recorded->type_url, TYPE_RUNC_OPTIONS) &&
            !(o = containerd__runc__v1__options__unpack(NULL, recorded->value.len, recorded->value.data)))
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint's runc options for the "
                                   "container are damaged.");
        Containerd__Runc__V1__Options *use = o ?: &plain;
        char images[64], work[64];
        snprintf(images, sizeof(images), "/proc/%d/fd/%d", (int) getpid(), rr->images_dir_fd);
        snprintf(work, sizeof(work), "/proc/%d/fd/%d", (int) getpid(), rr->work_dir_fd);
        char *saved_images = use->criu_image_path, *saved_work = use->criu_work_path;
        use->criu_image_path = images;
        use->criu_work_path = work;
        _cleanup_(any_value_done) Any any = GOOGLE__PROTOBUF__ANY__INIT;
        int r = pack_any(&use->base, TYPE_RUNC_OPTIONS, &any);
        use->criu_image_path = saved_images;
        use->criu_work_path = saved_work;
        if (o)
                containerd__runc__v1__options__free_unpacked(o, NULL);
        if (r < 0)
                return r;
        Containerd__Services__Tasks__V1__CreateTaskRequest req = CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
        req.container_id = ct->id;
        req.rootfs = mounts;
        req.n_rootfs = n_mounts;
        req.options = &any;
        /* No stdio: the restored task's descriptors are CRIU's, as the checkpoint has them. */
        return call(c, ch, TASKS "Create", &req, &containerd__services__tasks__v1__create_task_response__descriptor,
                    call_timeout(c), NULL, "create the task", NULL, NULL, reterr);
}

static int start_task(const Containerd *c, GrpcChannel *ch, const char *id, pid_t *ret_pid, char **reterr) {
        Containerd__Services__Tasks__V1__StartRequest req = CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
        Containerd__Services__Tasks__V1__StartResponse *resp = NULL;
        req.container_id = (char *) id;
        int r = call(c, ch, TASKS "Start", &req, &containerd__services__tasks__v1__start_response__descriptor, 0, &resp,
                     "restore the task", NULL, NULL, reterr);
        if (r != 0)
                return r;
        *ret_pid = (pid_t) resp->pid;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return 0;
}

int containerd_restore(const Containerd *c, const ContainerdRestore *rr, pid_t *ret_pid, char **reterr) {
        _cleanup_(grpc_channel_freep) GrpcChannel *ch = NULL;
        Container *ct = NULL;
        Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *prepared = NULL;
        _cleanup_free_ char *old_id = NULL, *dir = NULL, *err = NULL;
        /* runc's restore takes no CRIU options from containerd: a checkpoint of established
         * connections or file locks names the configuration that restores them. */
        const char *config = rr->tcp_established || rr->file_locks ? c->criu_config_keep : c->criu_config;
        bool created = false, snapshot = false, task = false;
        int r = channel_open(c, &ch);
        if (r == 0)
                r = read_record(rr->images_dir_fd, &ct, reterr);
        if (r == 0 && !(old_id = strdup(ct->id)))
                r = -ENOMEM;
        if (r == 0) {
                /* Made anew: under the new id, on a snapshot of that name, with no times of the old. */
                r = replace_string(&ct->id, rr->id);
                if (r == 0)
                        r = replace_string(&ct->snapshot_key, rr->id);
                drop_timestamp(&ct->created_at);
                drop_timestamp(&ct->updated_at);
        }
        if (r == 0)
                r = rewrite_spec(c, old_id, rr->id, config, &ct->spec->value, reterr);
        if (r == 0 && (r = create_container(c, ch, ct, reterr)) == 0)
                created = true;
        if (r == 0 && (r = prepare_snapshot(c, ch, ct, rr->snapshot_parent, &prepared, reterr)) == 0)
                snapshot = true;
        ContainerdContainer k = { .id = ct ? ct->id : NULL, .snapshotter = ct ? ct->snapshotter : NULL };
        if (r == 0)
                r = layer_dir(&k, prepared->mounts, prepared->n_mounts, &dir, reterr);
        if (r == 0) {
                _cleanup_close_ int fd = openat(rr->images_dir_fd, CONTAINERD_LAYER_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                r = fd < 0 ? message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "The checkpoint has no writable layer "
                                         "(%s).", CONTAINERD_LAYER_FILE)
                           : rootfs_layer_extract(fd, dir, reterr);
        }
        if (r == 0 && (r = create_task(c, ch, ct, prepared->mounts, prepared->n_mounts, rr, reterr)) == 0)
                task = true;
        if (r == 0)
                r = start_task(c, ch, rr->id, ret_pid, reterr);
        if (r == 0) {
                Process *p = NULL;
                r = task_get(c, ch, rr->id, &p, reterr);
                if (r == 0 && p->status != CONTAINERD__V1__TYPES__STATUS__RUNNING)
                        r = message_set(reterr, CEDANA_E_RUNTIME_FAILED, "containerd restored the task of %s, but it "
                                        "is %s, not running.", rr->id, status_name(p->status));
                if (p)
                        protobuf_c_message_free_unpacked(&p->base, NULL);
        }
        /* Nothing of a failed restore stays in containerd. */
        if (r != 0 && task && (task_kill(c, ch, rr->id, &err) != 0 || task_delete(c, ch, rr->id, &err) != 0))
                log_warning("Could not delete the task of %s after its restore failed: %s", rr->id, strna(err));
        if (r != 0 && snapshot && snapshot_remove(c, ch, ct->snapshotter, ct->snapshot_key, &err) != 0)
                log_warning("Could not remove snapshot %s after its restore failed: %s", ct->snapshot_key, strna(err));
        if (r != 0 && created && container_delete(c, ch, rr->id, &err) != 0)
                log_warning("Could not delete container %s after its restore failed: %s", rr->id, strna(err));
        if (prepared)
                protobuf_c_message_free_unpacked(&prepared->base, NULL);
        if (ct)
                protobuf_c_message_free_unpacked(&ct->base, NULL);
        return r;
}
