/* SPDX-License-Identifier: Apache-2.0 */
/* The Manager interface. Every handler reads its arguments, validates them (InvalidArgs early),
 * authorizes (polkit, asynchronously), then hands the work on and replies. Every route to the
 * same effect asks the same polkit action. */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "build-config.h"
#include "bus-error.h"
#include "bus-options.h"
#include "checkpoint-files.h"
#include "dump-operation.h"
#include "fd-util.h"
#include "hygiene.h"
#include "job-attach.h"
#include "job-dbus.h"
#include "job-run.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "naming.h"
#include "names.h"
#include "operation.h"
#include "parse-util.h"
#include "path-util.h"
#include "persist.h"
#include "polkit.h"
#include "process.h"
#include "remote.h"
#include "restore-operation.h"
#include "schedule.h"
#include "strv.h"
#include "tty-util.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_checkpoint_directory(sd_bus *bus, const char *path, const char *interface,
                                             const char *property, sd_bus_message *reply, void *userdata,
                                             sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->config.checkpoint_directory);
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = NULL;
        int r = manager_features(m, &l);
        if (r < 0)
                return r;
        return sd_bus_message_append_strv(reply, l);
}

/* ---- who is asking ---- */

/* Caller's identity from kernel-verified credentials. */
static int caller_identity(sd_bus_message *call, Identity *ret, sd_bus_error *error) {
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %s", strerror(-r));
        r = identity_from_uid(uid, ret);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up UID %u: %s", (unsigned) uid, strerror(-r));
        return 0;
}

/* 1 go ahead, 0 polkit query in flight (the call comes again), < 0 refused. Acting on another
 * user's things is one action, whatever the route; a checkpoint cedana did not make for the
 * caller is another. */
static int authorize(Manager *m, sd_bus_message *call, uid_t caller, uid_t owner, bool foreign, sd_bus_error *error) {
        const char *action = caller != owner ? POLKIT_ACTION_MANAGE_ANY
                             : foreign       ? POLKIT_ACTION_RESTORE_FOREIGN
                                             : POLKIT_ACTION_MANAGE_OWN;
        return polkit_check(m, call, action, NULL, error);
}

/* polkit answers later: the handler returns 1 without replying, sd-bus dispatches the call
 * again. A refusal is returned as is. */
static int pending(int r) {
        return r == 0 ? 1 : r;
}

/* The job a call names. Another user's (USER/NAME, or root's unambiguous NAME) is looked up only
 * once the caller may act on other users' jobs, so nobody else learns whether it exists.
 * 1 with *ret, 0 while polkit is asked (the call comes again), < 0 refused or not found. */
static int called_job(Manager *m, sd_bus_message *call, const char *spec, Job **ret, sd_bus_error *error) {
        uid_t caller, owner;
        _cleanup_free_ char *name = NULL;
        int r = bus_caller_uid(call, &caller);
        if (r < 0)
                return r;
        r = names_parse(m, caller, spec, true, &owner, &name, error);
        if (r < 0)
                return r;
        if (owner != caller && (r = authorize(m, call, caller, owner, false, error)) <= 0)
                return r;
        Job *j = manager_get_job(m, owner, name);
        if (!j)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_JOB, "There is no job %.130s; see 'cedana job list'.",
                                      spec);
        *ret = j;
        return 1;
}

/* ---- Dump ---- */

typedef struct DumpArgs {
        int dir_fd;
        char *dir;
        char *name;
        char *compression;
        bool leave_running;
        bool tcp_established;
        bool file_locks;
        bool shell_job;
        char **external;
        bool link_remap;
        int log_fd;
        char *runc_root;
        char *namespace;
} DumpArgs;

static const BusOption dump_options[] = {
        { "dir_fd", BUS_OPTION_FD, offsetof(DumpArgs, dir_fd) },
        { "dir", BUS_OPTION_STRING, offsetof(DumpArgs, dir) },
        { "name", BUS_OPTION_STRING, offsetof(DumpArgs, name) },
        { "compression", BUS_OPTION_STRING, offsetof(DumpArgs, compression) },
        { "leave_running", BUS_OPTION_BOOL, offsetof(DumpArgs, leave_running) },
        { "tcp_established", BUS_OPTION_BOOL, offsetof(DumpArgs, tcp_established) },
        { "file_locks", BUS_OPTION_BOOL, offsetof(DumpArgs, file_locks) },
        { "shell_job", BUS_OPTION_BOOL, offsetof(DumpArgs, shell_job) },
        { "external", BUS_OPTION_STRV, offsetof(DumpArgs, external) },
        { "link_remap", BUS_OPTION_BOOL, offsetof(DumpArgs, link_remap) },
        { "log_fd", BUS_OPTION_FD, offsetof(DumpArgs, log_fd) },
        { "runc_root", BUS_OPTION_STRING, offsetof(DumpArgs, runc_root) },
        { "namespace", BUS_OPTION_STRING, offsetof(DumpArgs, namespace) },
};

/* CRIU external resources a caller may declare: sockets, terminals and files it keeps outside.
 * Never mounts, namespaces or devices: those would let a caller reshape what CRIU restores. */
static bool external_is_allowed(const char *e) {
        return startswith(e, "unix[") || startswith(e, "tty[") || startswith(e, "file[");
}

/* A format a caller named (NULL: the configured one). */
static int compression_arg(Manager *m, const char *name, Compression *ret, sd_bus_error *error) {
        Compression c = name ? compression_from_string(name) : m->config.compression;
        if (c < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Compression '%.32s' is not supported; use none, tar, gzip, lz4, zlib or zstd.",
                                         name);
        *ret = c;
        return 0;
}

/* A directory a caller named as a string: an s3:// URL (checked once whose it is is known), or a
 * path in normal form. */
static int dir_arg(const char *dir, sd_bus_error *error) {
        if (!dir || s3_url_is(dir) || path_is_normalized(dir))
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Directory '%.64s' must be an absolute path without '.' or '..'.", dir);
}

static int validate_dump_args(Manager *m, DumpArgs *a, DumpSpec *spec, sd_bus_error *error) {
        Compression c = COMPRESSION_NONE;
        int r = compression_arg(m, a->compression, &c, error);
        if (r < 0)
                return r;
        if (a->name && !checkpoint_name_is_valid(a->name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%.64s' is not a valid checkpoint name: use letters, digits, '.', '_' and '-'.",
                                         a->name);
        STRV_FOREACH(e, a->external)
                if (!external_is_allowed(*e))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "External resource '%.64s' is not allowed; use unix[...], tty[...] or file[...].",
                                                 *e);
        r = dir_arg(a->dir, error);
        if (r < 0)
                return r;
        bool remote = a->dir && s3_url_is(a->dir);
        if (remote && a->dir_fd >= 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Give either 'dir_fd' or an s3:// 'dir'.");
        /* An object is one file: "none" (a directory) goes as a plain tar. */
        if (remote && c == COMPRESSION_NONE)
                c = COMPRESSION_TAR;
        if (a->dir_fd >= 0) {
                struct stat st;
                if (fstat(a->dir_fd, &st) < 0 || !S_ISDIR(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'dir_fd' is not a directory.");
        }
        if (a->log_fd >= 0) {
                r = bus_check_output_fd(a->log_fd, "log_fd", true, error);
                if (r < 0)
                        return r;
                spec->log_fd = TAKE_FD(a->log_fd);
        }
        spec->options = (DumpOptions) {
                .compression = c,
                .leave_running = a->leave_running,
                .tcp_established = a->tcp_established,
                .file_locks = a->file_locks,
                .shell_job = a->shell_job,
                .link_remap = a->link_remap,
                .external = TAKE_PTR(a->external),
        };
        spec->name = TAKE_PTR(a->name);
        if (a->dir_fd >= 0) {
                spec->dir_fd = TAKE_FD(a->dir_fd);
                r = fd_get_path(spec->dir_fd, &spec->dir_path);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to resolve option 'dir_fd': %s", strerror(-r));
        } else if (a->dir && !(spec->dir_path = strdup(a->dir)))
                return -ENOMEM;
        return 0;
}

/* An s3:// --dir, once whose checkpoints go there is known: allowed for uid, and as cedana writes
 * it (*dir replaced). */
static int check_remote_dir(Manager *m, uid_t uid, char **dir, sd_bus_error *error) {
        if (!*dir || !s3_url_is(*dir))
                return 0;
        char *url = NULL;
        int r = remote_check_url(m, uid, *dir, true, &url, error);
        if (r < 0)
                return r;
        free(*dir);
        *dir = url;
        return 0;
}

/* The process to dump, pinned by a pidfd, with the checks that come before anyone may ask
 * polkit. *ret_owner: who it belongs to, which decides the polkit action. */
static int resolve_dump_process(Manager *m, DumpSpec *spec, uid_t *ret_owner, sd_bus_error *error) {
        pid_t pid = spec->pid;
        if (pid == 1 || pid == getpid())
                return bus_error_setf(error, CEDANA_E_NOT_PERMITTED, "Process %i cannot be dumped: it is %s.", (int) pid,
                                      pid == 1 ? "the init process" : "cedanad itself");
        ProcessInfo p;
        int r = process_open(pid, &spec->pidfd, &p);
        if (r == -ESRCH)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Process %i does not exist.", (int) pid);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to inspect process %i: %s", (int) pid, strerror(-r));
        bool worker = false;
        LIST_FOREACH(workers, w, m->workers)
                worker = worker || w->pid == pid || w->pid == p.ppid;
        if (worker || p.ppid == 2 || p.pid == 2)
                return bus_error_setf(error, CEDANA_E_NOT_PERMITTED, "Process %i cannot be dumped: it is %s.", (int) pid,
                                      worker ? "part of cedanad" : "a kernel thread");
        /* A process whose ids differ (a setuid program) belongs to root for our purposes. */
        uid_t owner = p.uid[0];
        for (size_t i = 1; i < 4; i++)
                if (p.uid[i] != owner)
                        owner = 0;
        *ret_owner = owner;
        return 0;
}

static int dump_job_check(Job *j, sd_bus_error *error) {
        if (j->busy)
                return bus_error_setf(error, CEDANA_E_JOB_BUSY, "Job %s is busy: another dump or restore of it is in "
                                      "progress.", j->id);
        if (j->state != JOB_RUNNING)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Job %s is not running (%s); there is nothing to "
                                      "dump.", j->id, job_state_to_string(j->state));
        return 0;
}

/* A dump of j (NULL: of pid) with the options in a. One cedanad takes itself (origin other than
 * DUMP_ORIGIN_CALLER: call already authorized, or NULL) is taken as the job's owner, whose
 * checkpoint it becomes. 1 started, 0 while polkit is asked, < 0 refused. */
static int dump_container(sd_bus_message *call, Manager *m, Job *j, const char *runtime, const char *id, DumpArgs *a,
                          DumpOrigin origin, sd_bus_error *error);

static int dump_start(sd_bus_message *call, Manager *m, Job *j, pid_t pid, DumpArgs *a, DumpOrigin origin,
                      sd_bus_error *error) {
        if (j && j->container_id)
                return dump_container(call, m, j, j->type, j->container_id, a, origin, error);
        _cleanup_(dump_spec_done) DumpSpec spec = DUMP_SPEC_NULL;
        uid_t owner = 0;
        int r = 0;
        if (a->runc_root || a->namespace)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Options 'runc_root' and 'namespace' are for containers only.");
        if (r >= 0)
                r = validate_dump_args(m, a, &spec, error);
        if (r >= 0 && j)
                r = dump_job_check(j, error);
        spec.job = j;
        spec.pid = j ? j->pid : pid;
        spec.origin = origin;
        if (r >= 0)
                r = resolve_dump_process(m, &spec, &owner, error);
        /* A job is its owner's, whatever runs in it. */
        if (r >= 0 && j)
                owner = j->uid == 0 ? 0 : owner;
        if (r >= 0)
                r = origin == DUMP_ORIGIN_CALLER ? caller_identity(call, &spec.caller, error)
                                                 : identity_from_uid(j->uid, &spec.caller);
        if (r >= 0)
                r = check_remote_dir(m, spec.caller.uid, &spec.dir_path, error);
        /* No directory given: the configured one, which may be the caller's own. */
        if (r >= 0 && !spec.dir_path)
                r = config_checkpoint_directory_for(&m->config, spec.caller.uid, &spec.dir_path, &spec.dir_per_user);
        if (r >= 0 && origin == DUMP_ORIGIN_CALLER)
                r = authorize(m, call, spec.caller.uid, j ? j->uid : owner, false, error);
        else if (r >= 0)
                r = 1;
        if (r <= 0)
                return r;
        r = identity_from_uid(owner, &spec.owner);
        if (r >= 0 && j && j->attach && attach_key_is_tty(j->attach_in_key)) {
                /* Recorded in the checkpoint, so any restore can hand the job a new terminal, in
                 * the modes the job had set (the master shows the slave's). */
                if (!(spec.options.attach_tty = strdup(j->attach_in_key)))
                        r = -ENOMEM;
                if (r >= 0 && j->attach_in_fd >= 0 && tty_modes_get(j->attach_in_fd, &spec.options.attach_tty_modes) < 0)
                        spec.options.attach_tty_modes = NULL;
        } else if (r >= 0 && j && j->attach && j->attach_in_key && j->attach_out_key) {
                /* Recorded in the checkpoint, so any restore can hand the job new pipes. */
                char *pipes[] = { j->attach_in_key, j->attach_out_key, NULL };
                if (!(spec.options.attach_pipes = strv_copy(pipes)))
                        r = -ENOMEM;
        } else if (r >= 0 && j && j->log_path && j->log_path[0] == '/' &&
                   !(spec.options.job_log = strdup(j->log_path + 1)))
                r = -ENOMEM;
        if (r >= 0)
                r = dump_operation_start(m, call, &spec, error);
        return r;
}

/* A dump the caller asks for, with the options read from the call's current position. */
static int dump_common(sd_bus_message *call, Manager *m, Job *j, pid_t pid, const char *runtime,
                       const char *container, sd_bus_error *error) {
        DumpArgs a = { .dir_fd = -EBADF, .log_fd = -EBADF };
        int r = bus_read_options(call, dump_options, ELEMENTSOF(dump_options), &a, error);
        if (r >= 0)
                r = container ? dump_container(call, m, NULL, runtime, container, &a, DUMP_ORIGIN_CALLER, error)
                              : dump_start(call, m, j, pid, &a, DUMP_ORIGIN_CALLER, error);
        bus_options_done(dump_options, ELEMENTSOF(dump_options), &a);
        return pending(r);
}

int bus_dump_job(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error) {
        return dump_common(call, m, j, 0, NULL, NULL, error);
}

int bus_dump_job_for_owner(sd_bus_message *call, Manager *m, Job *j, DumpOrigin origin, sd_bus_error *error) {
        /* The schedule's settings; at shutdown the job stops with its checkpoint. */
        DumpArgs a = {
                .dir_fd = -EBADF,
                .log_fd = -EBADF,
                .leave_running = origin == DUMP_ORIGIN_SCHEDULE,
                .compression = j->schedule_compression ? strdup(j->schedule_compression) : NULL,
                .dir = j->schedule_dir ? strdup(j->schedule_dir) : NULL,
        };
        int r = (j->schedule_compression && !a.compression) || (j->schedule_dir && !a.dir) ? -ENOMEM
                : dump_start(call, m, j, 0, &a, origin, error);
        bus_options_done(dump_options, ELEMENTSOF(dump_options), &a);
        return r;
}

/* runc's state directory, as a caller may name it. */
static int check_runc_root(const char *root, sd_bus_error *error) {
        if (root && !path_is_normalized(root))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "runc's root '%.64s' must be an absolute path without '.' or '..'.", root);
        return 0;
}

/* Containers are root's: for anyone else, the caller's identity and polkit's admin action. 1 when
 * authorized, 0 while polkit is asked, < 0 refused. */
static int authorize_container(Manager *m, sd_bus_message *call, Identity *ret_caller, sd_bus_error *error) {
        int r = caller_identity(call, ret_caller, error);
        if (r < 0)
                return r;
        return polkit_check(m, call, POLKIT_ACTION_MANAGE_CONTAINERS, NULL, error);
}

/* What containerd says of the container, refused unless cedana can dump it now. */
static int resolve_containerd(Manager *m, DumpSpec *spec, const char *id, sd_bus_error *error) {
        /* Asked from the event loop: well inside the watchdog's 30 s, however containerd fares. */
        Containerd cd = {
                .address = m->config.containerd_address,
                .namespace = spec->containerd_namespace,
                .call_timeout_sec = 5,
        };
        _cleanup_free_ char *err = NULL;
        int r = containerd_inspect(&cd, id, &spec->containerd, &err);
        if (r != 0)
                return bus_error_setf(error, r, "%s", strna(err));
        const ContainerdContainer *k = &spec->containerd;
        const char *ns = spec->containerd_namespace;
        if (streq(k->status, "paused"))
                return bus_error_setf(error, CEDANA_E_CONTAINER_STATE, "Container %s is paused; resume it with 'ctr -n "
                                      "%s task resume %s' before dumping it.", id, ns, id);
        if (streq(k->status, "none"))
                return bus_error_setf(error, CEDANA_E_CONTAINER_STATE, "Container %s has no task; there is nothing to "
                                      "dump.", id);
        if (!streq(k->status, "running") || k->pid <= 0)
                return bus_error_setf(error, CEDANA_E_CONTAINER_STATE, "Container %s's task is %s, not running; there "
                                      "is nothing to dump.", id, k->status);
        /* What the rest of a dump knows of any container. */
        if (!(spec->container.id = strdup(id)) || !(spec->container.status = strdup(k->status)))
                return -ENOMEM;
        spec->container.pid = k->pid;
        spec->pid = k->pid;
        return 0;
}

/* What runc says of the container, refused unless cedana can dump it now. */
static int resolve_container(Manager *m, DumpSpec *spec, const char *id, sd_bus_error *error) {
        Runc rc = { .binary = m->config.runc_binary, .root = spec->runc_root };
        _cleanup_free_ char *err = NULL;
        int r = runc_state(&rc, id, &spec->container, &err);
        if (r != 0)
                return bus_error_setf(error, r, "%s", strna(err));
        const RuncState *s = &spec->container;
        if (s->owner != 0)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED, "Container %s is rootless (user %u's); runc cannot "
                                      "checkpoint rootless containers.", id, (unsigned) s->owner);
        if (streq(s->status, "paused"))
                return bus_error_setf(error, CEDANA_E_CONTAINER_STATE, "Container %s is paused; resume it with 'runc "
                                      "resume %s' before dumping it.", id, id);
        if (!streq(s->status, "running") || s->pid <= 0)
                return bus_error_setf(error, CEDANA_E_CONTAINER_STATE, "Container %s is %s, not running; there is "
                                      "nothing to dump.", id, s->status);
        spec->pid = s->pid;
        return 0;
}

/* A container's runtime-specific options, and its id as that runtime takes it. */
static int check_container_args(const char *runtime, const char *id, const char *runc_root, const char *bundle,
                                const char *namespace, sd_bus_error *error) {
        bool containerd = streq(runtime, "containerd");
        if (containerd && (runc_root || bundle))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Options 'runc_root' and 'bundle' are for runc containers; containerd knows "
                                         "its own.");
        if (!containerd && namespace)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'namespace' is for containerd containers.");
        if (namespace && !containerd_name_is_valid(namespace))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid containerd "
                                         "namespace.", namespace);
        if (id && !(containerd ? containerd_name_is_valid(id) : runc_id_is_valid(id)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid container id.", id);
        return check_runc_root(runc_root, error);
}

/* A dump of a runc or containerd container (j: the job it is, or NULL): root's, an admin action
 * for anyone else, asked before the runtime is. */
static int dump_container(sd_bus_message *call, Manager *m, Job *j, const char *runtime, const char *id, DumpArgs *a,
                          DumpOrigin origin, sd_bus_error *error) {
        _cleanup_(dump_spec_done) DumpSpec spec = DUMP_SPEC_NULL;
        uid_t owner = 0;
        int r = 0;
        spec.origin = origin;
        if (j && (a->runc_root || a->namespace))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Job %s knows its container's runtime.", j->id);
        if (r >= 0 && j)
                r = dump_job_check(j, error);
        if (r >= 0)
                r = check_container_args(runtime, id, a->runc_root, NULL, a->namespace, error);
        if (r >= 0 && a->external)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s passes no external resources to CRIU; "
                                      "drop --external for a container.", runtime);
        if (r >= 0)
                r = validate_dump_args(m, a, &spec, error);
        if (r >= 0)
                r = origin == DUMP_ORIGIN_CALLER ? authorize_container(m, call, &spec.caller, error)
                                                 : identity_from_uid(0, &spec.caller) ?: 1;
        if (r > 0) {
                int k = check_remote_dir(m, spec.caller.uid, &spec.dir_path, error);
                r = k < 0 ? k : r;
        }
        if (r <= 0)
                return r;
        spec.job = j;
        spec.runc_root = j ? (j->runc_root ? strdup(j->runc_root) : NULL) : TAKE_PTR(a->runc_root);
        if (j && j->runc_root && !spec.runc_root)
                r = -ENOMEM;
        bool containerd = streq(runtime, "containerd");
        const char *ns = j ? j->container_namespace : a->namespace;
        if (r >= 0 && containerd && !(spec.containerd_namespace = strdup(ns ?: CONTAINERD_DEFAULT_NAMESPACE)))
                r = -ENOMEM;
        if (r >= 0)
                r = containerd ? resolve_containerd(m, &spec, id, error) : resolve_container(m, &spec, id, error);
        /* The container is the job's as long as its init is the job's process. */
        if (r >= 0 && j && spec.pid != j->pid)
                r = bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Container %s no longer runs job %s's process; "
                                   "there is nothing of the job to dump.", id, j->id);
        if (r >= 0)
                r = resolve_dump_process(m, &spec, &owner, error);
        if (r >= 0 && !spec.dir_path)
                r = config_checkpoint_directory_for(&m->config, spec.caller.uid, &spec.dir_path, &spec.dir_per_user);
        if (r >= 0)
                r = identity_from_uid(0, &spec.owner);
        if (r >= 0)
                r = dump_operation_start(m, call, &spec, error);
        return r;
}

static int method_dump(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *type, *target;
        int r = sd_bus_message_read(call, "ss", &type, &target);
        if (r < 0)
                return r;
        if (streq(type, "job")) {
                Job *j;
                r = called_job(m, call, target, &j, error);
                return r <= 0 ? pending(r) : dump_common(call, m, j, 0, NULL, NULL, error);
        }
        if (streq(type, "runc") || streq(type, "containerd"))
                return dump_common(call, m, NULL, 0, type, target, error);
        if (!streq(type, "process"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\", "
                                         "\"job\", \"runc\" or \"containerd\".", type);
        pid_t pid;
        if (parse_pid(target, &pid) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.32s' is not a process ID.", target);
        return dump_common(call, m, NULL, pid, NULL, NULL, error);
}

/* ---- Restore ---- */

typedef struct RestoreArgs {
        int source_fd;
        char *path;
        char *name;
        bool tcp_established;
        bool shell_job;
        bool attach;
        int log_fd;
        char *id;
        char *bundle;
        char *runc_root;
        char *namespace;
} RestoreArgs;

static const BusOption restore_options[] = {
        { "source_fd", BUS_OPTION_FD, offsetof(RestoreArgs, source_fd) },
        { "path", BUS_OPTION_STRING, offsetof(RestoreArgs, path) },
        { "name", BUS_OPTION_STRING, offsetof(RestoreArgs, name) },
        { "tcp_established", BUS_OPTION_BOOL, offsetof(RestoreArgs, tcp_established) },
        { "shell_job", BUS_OPTION_BOOL, offsetof(RestoreArgs, shell_job) },
        { "attach", BUS_OPTION_BOOL, offsetof(RestoreArgs, attach) },
        { "log_fd", BUS_OPTION_FD, offsetof(RestoreArgs, log_fd) },
        { "id", BUS_OPTION_STRING, offsetof(RestoreArgs, id) },
        { "bundle", BUS_OPTION_STRING, offsetof(RestoreArgs, bundle) },
        { "runc_root", BUS_OPTION_STRING, offsetof(RestoreArgs, runc_root) },
        { "namespace", BUS_OPTION_STRING, offsetof(RestoreArgs, namespace) },
};

/* Whether a complete record vouches for the source: one of the caller's (or, restoring a job,
 * one of that job's) at the same inode (an fd) or path (a string). Bound records make the worker
 * check digest and inode; records of earlier cedana versions, which bound nothing, at least the
 * file's owner. */
static bool find_voucher(Manager *m, RestoreSpec *s, Job *j, uid_t caller) {
        struct stat st;
        bool by_inode = s->source_fd >= 0 && fstat(s->source_fd, &st) >= 0;
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = j ? (CheckpointFilter) { .job = j->id, .job_uid = j->uid }
                               : (CheckpointFilter) { .by_uid = true, .uid = caller };
        if (jobstore_list_checkpoints(m->store, &f, &list, &n) < 0)
                return false;
        const CheckpointRecord *found = NULL;
        for (size_t i = 0; i < n && !found; i++) {
                const CheckpointRecord *c = &list[i];
                if (by_inode ? checkpoint_record_is_bound(c) && c->dev == (uint64_t) st.st_dev &&
                                       c->ino == (uint64_t) st.st_ino
                             : streq_ptr(c->path, s->source_path))
                        found = c;
        }
        if (found && checkpoint_record_is_bound(found)) {
                s->expected_digest = strdup(found->digest);
                s->expected_dev = found->dev;
                s->expected_ino = found->ino;
        } else if (found)
                s->require_owned_file = true;
        bool vouched = found != NULL;
        checkpoint_records_free(list, n);
        return vouched;
}

static int job_latest_source(Manager *m, Job *j, RestoreSpec *s, sd_bus_error *error) {
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = { .job = j->id, .job_uid = j->uid };
        int r = jobstore_list_checkpoints(m->store, &f, &list, &n);
        if (r < 0)
                return r;
        if (n == 0)
                r = bus_error_setf(error, CEDANA_E_NO_SUCH_CHECKPOINT,
                                   "Job %s has no checkpoint to restore; dump it first or give --path.", j->id);
        else if (!(s->source_path = strdup(list[0].path)))
                r = -ENOMEM;
        checkpoint_records_free(list, n);
        return r;
}

static int restore_job_check(Job *j, sd_bus_error *error) {
        if (j->busy)
                return bus_error_setf(error, CEDANA_E_JOB_BUSY,
                                      "Job %s is busy: another dump or restore of it is in progress.", j->id);
        if (j->state == JOB_RUNNING)
                return bus_error_setf(error, CEDANA_E_JOB_RUNNING,
                                      "Job %s is still running; dump it or stop it with 'cedana job kill %s' first.", j->id,
                                      j->id);
        return 0;
}

/* An s3:// source, once the caller is known: allowed for uid (the job's owner restoring a job),
 * and as cedana writes it (which is how its record names it). */
static int check_remote_source(Manager *m, RestoreSpec *s, uid_t uid, sd_bus_error *error) {
        if (!s->source_path || !s3_url_is(s->source_path) || s->source_fd >= 0)
                return 0;
        char *url = NULL;
        int r = remote_check_url(m, uid, s->source_path, false, &url, error);
        if (r < 0)
                return r;
        free(s->source_path);
        s->source_path = url;
        return 0;
}

/* Where the checkpoint comes from: an fd the caller opened, a path, or the job's latest. */
static int restore_source(Manager *m, RestoreArgs *a, const char *path, Job *j, RestoreSpec *s, sd_bus_error *error) {
        if (a->source_fd >= 0) {
                s->source_fd = TAKE_FD(a->source_fd);
                (void) fd_get_path(s->source_fd, &s->source_path); /* for messages */
                return 0;
        }
        if (path && s3_url_is(path))
                return (s->source_path = strdup(path)) ? 0 : -ENOMEM; /* checked once the caller is known */
        if (path) {
                if (!path_is_normalized(path))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Checkpoint path '%.64s' must be absolute, without '.' or '..'.", path);
                return (s->source_path = strdup(path)) ? 0 : -ENOMEM;
        }
        if (j)
                return job_latest_source(m, j, s, error);
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No checkpoint given: pass a path or 'source_fd'.");
}

static int restore_container(sd_bus_message *call, Manager *m, Job *j, const char *runtime, const char *path,
                             sd_bus_error *error);

static int restore_common(sd_bus_message *call, Manager *m, Job *j, const char *path, sd_bus_error *error) {
        if (j && j->container_id)
                return restore_container(call, m, j, j->type, path, error);
        _cleanup_(restore_spec_done) RestoreSpec spec = RESTORE_SPEC_NULL;
        RestoreArgs a = { .source_fd = -EBADF, .log_fd = -EBADF };
        int r = bus_read_options(call, restore_options, ELEMENTSOF(restore_options), &a, error);
        if (r >= 0 && (a.id || a.bundle || a.runc_root || a.namespace))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Options 'id', 'bundle', 'runc_root' and 'namespace' are for containers only.");
        if (r >= 0 && j)
                r = restore_job_check(j, error);
        if (r >= 0 && a.name && (j || !job_name_is_valid(a.name)))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      j ? "A restored job keeps its name; 'name' is for restoring a path."
                                        : "'%.64s' is not a valid job name.", a.name);
        if (r >= 0 && a.log_fd >= 0)
                r = bus_check_output_fd(a.log_fd, "log_fd", true, error);
        if (r >= 0)
                r = restore_source(m, &a, a.path ?: path, j, &spec, error);
        if (r >= 0)
                r = caller_identity(call, &spec.caller, error);
        if (r >= 0)
                r = check_remote_source(m, &spec, j ? j->uid : spec.caller.uid, error);
        if (r >= 0) {
                /* A job is restored as its owner, whoever asks; anything else as the caller. The
                 * same path asks the same action by either route. */
                bool vouched = find_voucher(m, &spec, j, spec.caller.uid);
                r = authorize(m, call, spec.caller.uid, j ? j->uid : spec.caller.uid, !vouched, error);
        }
        if (r <= 0)
                goto finish;
        r = identity_from_uid(j ? j->uid : spec.caller.uid, &spec.owner);
        if (r >= 0) {
                spec.job = j;
                spec.name = TAKE_PTR(a.name);
                spec.options.tcp_established = a.tcp_established;
                spec.options.shell_job = a.shell_job;
                spec.attach = a.attach;
                spec.log_fd = TAKE_FD(a.log_fd);
                r = restore_operation_start(m, call, &spec, error);
        }
finish:
        bus_options_done(restore_options, ELEMENTSOF(restore_options), &a);
        return pending(r);
}

/* A container's checkpoint (j: a container job's, or NULL), restored by its runtime as root's
 * container: an admin action for anyone else, whatever the checkpoint. */
static int restore_container(sd_bus_message *call, Manager *m, Job *j, const char *runtime, const char *path,
                             sd_bus_error *error) {
        _cleanup_(restore_spec_done) RestoreSpec spec = RESTORE_SPEC_NULL;
        RestoreArgs a = { .source_fd = -EBADF, .log_fd = -EBADF };
        int r = bus_read_options(call, restore_options, ELEMENTSOF(restore_options), &a, error);
        if (r >= 0 && j && (a.id || a.bundle || a.runc_root || a.namespace))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Job %s keeps its container: 'id', 'bundle', 'runc_root' and 'namespace' are "
                                      "for a path.", j->id);
        if (r >= 0 && j)
                r = restore_job_check(j, error);
        if (r >= 0 && (a.name || a.attach || a.shell_job))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Options 'name', 'attach' and 'shell_job' are for processes; a container gets "
                                      "'id'.");
        if (r >= 0)
                r = check_container_args(runtime, a.id, a.runc_root, a.bundle, a.namespace, error);
        if (r >= 0 && a.bundle && !path_is_normalized(a.bundle))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Bundle '%.64s' must be an absolute path without '.' or '..'.", a.bundle);
        if (r >= 0 && a.log_fd >= 0)
                r = bus_check_output_fd(a.log_fd, "log_fd", true, error);
        if (r >= 0)
                r = restore_source(m, &a, a.path ?: path, j, &spec, error);
        if (r >= 0)
                r = authorize_container(m, call, &spec.caller, error);
        if (r > 0) {
                int k = check_remote_source(m, &spec, spec.caller.uid, error);
                r = k < 0 ? k : r;
        }
        if (r <= 0)
                goto finish;
        /* A record vouches for its bytes as for any checkpoint. */
        (void) find_voucher(m, &spec, j, spec.caller.uid);
        r = identity_from_uid(0, &spec.owner);
        if (r >= 0 && j && (!(spec.container_id = strdup(j->container_id)) ||
                            (j->bundle && !(spec.container_bundle = strdup(j->bundle))) ||
                            (j->runc_root && !(spec.runc_root = strdup(j->runc_root))) ||
                            (j->container_namespace && !(spec.containerd_namespace = strdup(j->container_namespace)))))
                r = -ENOMEM;
        if (r >= 0) {
                spec.container = true;
                spec.containerd = streq(runtime, "containerd");
                spec.job = j;
                if (!j) {
                        spec.container_id = TAKE_PTR(a.id);
                        spec.container_bundle = TAKE_PTR(a.bundle);
                        spec.runc_root = TAKE_PTR(a.runc_root);
                        spec.containerd_namespace = TAKE_PTR(a.namespace);
                }
                spec.options.tcp_established = a.tcp_established;
                spec.log_fd = TAKE_FD(a.log_fd);
                r = restore_operation_start(m, call, &spec, error);
        }
finish:
        bus_options_done(restore_options, ELEMENTSOF(restore_options), &a);
        return pending(r);
}

int bus_restore_job(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error) {
        return restore_common(call, m, j, NULL, error);
}

static int method_restore(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *type, *source;
        int r = sd_bus_message_read(call, "ss", &type, &source);
        if (r < 0)
                return r;
        if (streq(type, "job")) {
                Job *j;
                r = called_job(m, call, source, &j, error);
                return r <= 0 ? pending(r) : restore_common(call, m, j, NULL, error);
        }
        if (streq(type, "runc") || streq(type, "containerd"))
                return restore_container(call, m, NULL, type, isempty(source) ? NULL : source, error);
        if (!streq(type, "process"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\", "
                                         "\"job\", \"runc\" or \"containerd\".", type);
        return restore_common(call, m, NULL, isempty(source) ? NULL : source, error);
}

/* ---- Run, Manage ---- */

static const BusOption run_options[] = {
        { "name", BUS_OPTION_STRING, offsetof(RunArgs, name) },
        { "cwd", BUS_OPTION_STRING, offsetof(RunArgs, cwd) },
        { "env", BUS_OPTION_STRV, offsetof(RunArgs, env) },
        { "log", BUS_OPTION_STRING, offsetof(RunArgs, log) },
        { "log_fd", BUS_OPTION_FD, offsetof(RunArgs, log_fd) },
        { "attach", BUS_OPTION_BOOL, offsetof(RunArgs, attach) },
        { "tty", BUS_OPTION_BOOL, offsetof(RunArgs, tty) },
        { "tty_rows", BUS_OPTION_UINT32, offsetof(RunArgs, tty_rows) },
        { "tty_cols", BUS_OPTION_UINT32, offsetof(RunArgs, tty_cols) },
};

static int method_run(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        RunArgs a = { .log_fd = -EBADF };
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_(identity_done) Identity caller = {};
        const char *type;
        int r = sd_bus_message_read(call, "s", &type);
        if (r < 0)
                return r;
        r = bus_read_strv(call, BUS_ARGV_MAX, &argv, error);
        if (r >= 0)
                r = bus_read_options(call, run_options, ELEMENTSOF(run_options), &a, error);
        if (r >= 0 && !streq(type, "process"))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\".", type);
        if (r >= 0)
                r = run_args_validate(m, &a, argv, error);
        if (r >= 0)
                r = caller_identity(call, &caller, error);
        if (r >= 0)
                r = authorize(m, call, caller.uid, caller.uid, false, error);
        if (r > 0)
                r = job_run_start(m, call, &caller, argv, &a, error);
        bus_options_done(run_options, ELEMENTSOF(run_options), &a);
        return pending(r);
}

typedef struct ManageArgs {
        char *name;
        char *runc_root;
        char *namespace;
} ManageArgs;

static const BusOption manage_options[] = {
        { "name", BUS_OPTION_STRING, offsetof(ManageArgs, name) },
        { "runc_root", BUS_OPTION_STRING, offsetof(ManageArgs, runc_root) },
        { "namespace", BUS_OPTION_STRING, offsetof(ManageArgs, namespace) },
};

/* A runc or containerd container as a job of root's: an admin action for anyone else, asked
 * before the runtime is. */
static int manage_container(sd_bus_message *call, Manager *m, const char *runtime, const char *id, ManageArgs *a,
                            sd_bus_error *error) {
        _cleanup_(dump_spec_done) DumpSpec spec = DUMP_SPEC_NULL;
        bool containerd = streq(runtime, "containerd");
        int r = check_container_args(runtime, id, a->runc_root, NULL, a->namespace, error);
        if (r >= 0 && a->name && !job_name_is_valid(a->name))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid job name.", a->name);
        if (r >= 0)
                r = authorize_container(m, call, &spec.caller, error);
        if (r <= 0)
                return r;
        spec.runc_root = TAKE_PTR(a->runc_root);
        if (containerd && !(spec.containerd_namespace = a->namespace ? TAKE_PTR(a->namespace)
                                                                     : strdup(CONTAINERD_DEFAULT_NAMESPACE)))
                return -ENOMEM;
        r = containerd ? resolve_containerd(m, &spec, id, error) : resolve_container(m, &spec, id, error);
        if (r < 0)
                return r;
        JobContainer k = {
                .type = runtime,
                .id = id,
                .bundle = spec.container.bundle,
                .runc_root = spec.runc_root,
                .namespace = spec.containerd_namespace,
        };
        return job_manage(m, call, spec.caller.uid, spec.pid, a->name, &k, error);
}

static int method_manage(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        ManageArgs a = {};
        const char *type, *target;
        pid_t pid = 0;
        ProcessInfo p = {};
        uid_t caller;
        int r = sd_bus_message_read(call, "ss", &type, &target);
        if (r < 0)
                return r;
        r = bus_read_options(call, manage_options, ELEMENTSOF(manage_options), &a, error);
        if (r >= 0 && (streq(type, "runc") || streq(type, "containerd"))) {
                r = manage_container(call, m, type, target, &a, error);
                bus_options_done(manage_options, ELEMENTSOF(manage_options), &a);
                return pending(r);
        }
        if (r >= 0 && !streq(type, "process"))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\", "
                                      "\"runc\" or \"containerd\".", type);
        if (r >= 0 && (a.runc_root || a.namespace))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Options 'runc_root' and 'namespace' are for containers only.");
        if (r >= 0 && parse_pid(target, &pid) < 0)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.32s' is not a process ID.", target);
        if (r >= 0 && a.name && !job_name_is_valid(a.name))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid job name.", a.name);
        if (r >= 0 && (pid == 1 || pid == getpid()))
                r = bus_error_setf(error, CEDANA_E_NOT_PERMITTED, "Process %i cannot be managed.", (int) pid);
        if (r >= 0 && process_read_info(pid, &p) < 0)
                r = bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Process %i does not exist.", (int) pid);
        if (r >= 0)
                r = bus_caller_uid(call, &caller);
        if (r >= 0)
                r = authorize(m, call, caller, p.uid[0], false, error);
        if (r > 0)
                r = job_manage(m, call, caller, pid, a.name, NULL, error);
        bus_options_done(manage_options, ELEMENTSOF(manage_options), &a);
        return pending(r);
}

/* ---- jobs ---- */

static bool caller_sees(uid_t caller, uid_t owner) {
        return caller == 0 || caller == owner;
}

static int method_get_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        Job *j;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &name);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = called_job(m, call, name, &j, error);
        if (r <= 0)
                return pending(r);
        if (!caller_sees(uid, j->uid))
                return bus_error_setf(error, CEDANA_E_NO_SUCH_JOB, "There is no job %.130s; see 'cedana job list'.", name);
        _cleanup_free_ char *path = job_bus_path(j);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(call, "o", path);
}

/* An array of rows, one per job the caller sees that want() lets through (NULL: every one). */
typedef int (*JobRowFunc)(sd_bus_message *reply, Job *j);

static int reply_job_rows(sd_bus_message *call, Manager *m, const char *row, bool (*want)(const Job *j),
                          JobRowFunc append) {
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', row);
        LIST_FOREACH(jobs, j, m->jobs) {
                if (r < 0)
                        break;
                if (caller_sees(uid, j->uid) && (!want || want(j)))
                        r = append(reply, j);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static bool job_is_known(const Job *j) {
        return j->state != JOB_UNKNOWN;
}

static int append_job_row(sd_bus_message *reply, Job *j) {
        job_refresh_gpu(j);
        _cleanup_free_ char *path = job_bus_path(j);
        if (!path)
                return -ENOMEM;
        return sd_bus_message_append(reply, "(ssusbttsuois)", j->id, j->type,
                                     (uint32_t) (j->state == JOB_RUNNING ? j->pid : 0), job_state_to_string(j->state),
                                     j->gpu, j->last_checkpoint_usec, j->last_checkpoint_size, strempty(j->log_path),
                                     (uint32_t) j->uid, path, (int32_t) job_exit_code(j),
                                     strempty(job_exit_signal(j)));
}

static int method_list_jobs(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return reply_job_rows(call, userdata, "(ssusbttsuois)", job_is_known, append_job_row);
}

/* Handlers shared with the Job objects: j was found the way its caller may see it. */
int bus_kill_job(sd_bus_message *call, Manager *m, Job *j, int sig, sd_bus_error *error) {
        uid_t uid;
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%i is not a signal number.", sig);
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return pending(r);
        r = job_kill(j, sig, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call, NULL);
}

static int method_kill_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        int sig;
        Job *j;
        int r = sd_bus_message_read(call, "si", &name, &sig);
        if (r >= 0)
                r = called_job(m, call, name, &j, error);
        return r <= 0 ? pending(r) : bus_kill_job(call, m, j, sig, error);
}

typedef struct DeleteJobContext {
        uid_t uid;
        char *id;
} DeleteJobContext;

/* Once the files of its checkpoints are gone: the job itself (if it is still there and idle). */
static int delete_job_done(Operation *op, int r, const char *message, char **removed, void *userdata) {
        _cleanup_free_ DeleteJobContext *c = userdata;
        _cleanup_free_ char *id = c->id;
        if (r != 0)
                return 0; /* answered with the error */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Job *j = manager_get_job(op->manager, c->uid, id);
        if (j && !j->busy && j->state != JOB_RUNNING && job_delete(j, &error) < 0) {
                (void) sd_bus_reply_method_error(op->call, &error);
                return 1;
        }
        return 0;
}

int bus_delete_job(sd_bus_message *call, Manager *m, Job *j, int with_checkpoints, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        int r = caller_identity(call, &caller, error);
        if (r < 0)
                return r;
        r = authorize(m, call, caller.uid, j->uid, false, error);
        if (r <= 0)
                return pending(r);
        if (j->busy)
                return bus_error_setf(error, CEDANA_E_JOB_BUSY, "Job %s is busy: a dump or restore is in progress.", j->id);
        if (j->state == JOB_RUNNING)
                return bus_error_setf(error, CEDANA_E_JOB_RUNNING,
                                      "Job %s is still running; stop it with 'cedana job kill %s' first.", j->id, j->id);
        if (!with_checkpoints) {
                r = job_delete(j, error);
                return r < 0 ? r : sd_bus_reply_method_return(call, NULL);
        }
        /* Only checkpoints the caller made (root: all of the job's): what the caller could
         * delete itself. */
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = { .job = j->id, .job_uid = j->uid, .by_uid = caller.uid != 0, .uid = caller.uid };
        r = jobstore_list_checkpoints(m->store, &f, &list, &n);
        if (r < 0)
                return r;
        DeleteJobContext *c = calloc(1, sizeof(DeleteJobContext));
        if (!c || !(c->id = strdup(j->id))) {
                free(c);
                checkpoint_records_free(list, n);
                return -ENOMEM;
        }
        c->uid = j->uid;
        r = checkpoint_files_start(m, FILES_DELETE, call, &caller, list, n, delete_job_done, c, error);
        if (r < 0) {
                free(c->id);
                free(c);
        }
        return r;
}

static int method_delete_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        int with_checkpoints;
        Job *j;
        int r = sd_bus_message_read(call, "sb", &name, &with_checkpoints);
        if (r >= 0)
                r = called_job(m, call, name, &j, error);
        return r <= 0 ? pending(r) : bus_delete_job(call, m, j, with_checkpoints, error);
}

/* ---- Cancel ---- */

/* A caller stops its own dumps and restores without polkit (stopping one leaves things as they
 * were before it began); another user's, named USER/NAME, with the action that manages any
 * user's jobs, as root does with a bare NAME too. Without it, another user's are invisible. */
static int method_cancel(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *spec;
        uid_t caller;
        int r = sd_bus_message_read(call, "s", &spec);
        if (r < 0)
                return r;
        if (strlen(spec) > 512)
                return bus_error_setf(error, CEDANA_E_INVALID_ARGS, "The operation name is too long.");
        r = bus_caller_uid(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to identify the caller: %s", strerror(-r));
        uid_t owner = caller;
        const char *name = spec;
        bool any_user = caller == 0;
        if (strchr(spec, '/')) {
                any_user = false;
                _cleanup_free_ char *parsed = NULL;
                r = names_parse(m, caller, spec, false, &owner, &parsed, error);
                if (r < 0)
                        return r;
                name = spec + (strlen(spec) - strlen(parsed));
                if (owner != caller && (r = authorize(m, call, caller, owner, false, error)) <= 0)
                        return pending(r);
        }
        if (operation_cancel_matching(m, call, owner, any_user, name) > 0)
                return sd_bus_reply_method_return(call, NULL);
        if (isempty(spec))
                return bus_error_setf(error, CEDANA_E_NO_SUCH_OPERATION,
                                      "You have no dump or restore in progress on this connection.");
        return bus_error_setf(error, CEDANA_E_NO_SUCH_OPERATION, "You have no dump or restore named %.200s in "
                              "progress.", spec);
}

/* The attached job a call names, once the caller may attach to it: whoever may attach may also
 * end its input, as an attached client could by closing it. 1 with *ret, or <= 0 as pending(). */
static int called_attached_job(Manager *m, sd_bus_message *call, Job **ret, sd_bus_error *error) {
        const char *name;
        Job *j;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &name);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r >= 0)
                r = called_job(m, call, name, &j, error);
        if (r > 0)
                r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return r;
        if (!j->attach)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED,
                                      "Job %s was not started with --attach; its output is in %s.", j->id,
                                      j->log_path ?: "its log");
        *ret = j;
        return 1;
}

static int method_attach_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j;
        int r = called_attached_job(userdata, call, &j, error);
        if (r <= 0)
                return pending(r);
        int in, out;
        r = job_attach_client(j, &in, &out);
        if (r < 0)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Job %s is not running (%s).", j->id,
                                      job_state_to_string(j->state));
        r = sd_bus_reply_method_return(call, "hh", in, out);
        /* The caller has its copies; ours would keep the pipes from ending. */
        safe_close(in);
        safe_close(out);
        return r;
}

static int method_close_job_input(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Job *j;
        int r = called_attached_job(userdata, call, &j, error);
        if (r <= 0)
                return pending(r);
        r = job_attach_close_input(j);
        if (r == -ENOTTY)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED,
                                      "Job %s has a terminal; its input ends when Ctrl-D is typed.", j->id);
        if (r == -ENOTCONN)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Job %s is not running (%s).", j->id,
                                      job_state_to_string(j->state));
        if (r < 0)
                log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id),
                              "Failed to ask job %s's holder to close its input: %m", j->id);
        return sd_bus_reply_method_return(call, NULL);
}

/* ---- checkpoints ---- */

static int method_list_checkpoints(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        uid_t uid;
        Job *j = NULL;
        int r = sd_bus_message_read(call, "s", &name);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        if (!isempty(name) && (r = called_job(m, call, name, &j, error)) <= 0)
                return pending(r);
        if (j && !caller_sees(uid, j->uid))
                return bus_error_setf(error, CEDANA_E_NO_SUCH_JOB, "There is no job %.130s; see 'cedana job list'.", name);
        /* A job's checkpoints are its owner's to see, whoever made them; otherwise one's own. */
        CheckpointFilter f = j ? (CheckpointFilter) { .job = j->id, .job_uid = j->uid }
                               : (CheckpointFilter) { .by_uid = uid != 0, .uid = uid };
        CheckpointRecord *list = NULL;
        size_t n = 0;
        r = jobstore_list_checkpoints(m->store, &f, &list, &n);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sssttsus)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                Job owner = { .uid = list[i].job_uid, .id = list[i].job };
                r = sd_bus_message_append(reply, "(sssttsus)", list[i].id,
                                          list[i].job ? job_display_name(&owner, uid) : "", list[i].path,
                                          list[i].time_usec, list[i].size, list[i].compression, (uint32_t) list[i].uid,
                                          record_status_to_string(checkpoint_record_status(&list[i])));
        }
        checkpoint_records_free(list, n);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_delete_checkpoint(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *spec;
        _cleanup_(identity_done) Identity caller = {};
        _cleanup_free_ char *id = NULL;
        uid_t owner;
        int r = sd_bus_message_read(call, "s", &spec);
        if (r >= 0)
                r = caller_identity(call, &caller, error);
        if (r >= 0)
                r = names_parse(m, caller.uid, spec, false, &owner, &id, error);
        if (r < 0)
                return r;
        /* Another user's, named as USER/ID: asked about before anything is looked up, so the
         * answer is the same whether it exists or not. */
        r = authorize(m, call, caller.uid, owner, false, error);
        if (r <= 0)
                return pending(r);
        CheckpointRecord *c = calloc(1, sizeof(CheckpointRecord));
        if (!c)
                return -ENOMEM;
        r = jobstore_get_checkpoint(m->store, owner, id, c);
        if (r >= 0 && c->state != CHECKPOINT_COMPLETE) {
                checkpoint_record_done(c);
                r = -ENOENT;
        }
        if (r < 0) {
                free(c);
                return r == -ENOENT ? bus_error_setf(error, CEDANA_E_NO_SUCH_CHECKPOINT,
                                                     "There is no checkpoint %.200s; see 'cedana checkpoint list'.", spec)
                                    : r;
        }
        return checkpoint_files_start(m, FILES_DELETE, call, &caller, c, 1, NULL, NULL, error);
}

/* ---- schedules and persistence ---- */

typedef struct ScheduleArgs {
        uint32_t keep;
        char *compression;
        char *dir;
} ScheduleArgs;

static const BusOption schedule_options[] = {
        { "keep", BUS_OPTION_UINT32, offsetof(ScheduleArgs, keep) },
        { "compression", BUS_OPTION_STRING, offsetof(ScheduleArgs, compression) },
        { "dir", BUS_OPTION_STRING, offsetof(ScheduleArgs, dir) },
};

/* The settings each scheduled dump will use, checked now rather than at every tick. */
static int validate_schedule_args(Manager *m, Job *j, uint64_t usec, ScheduleArgs *a, sd_bus_error *error) {
        if (usec > 0 && usec < SCHEDULE_MIN_USEC)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "An interval under a second is too short; use 1s or more.");
        Compression c = COMPRESSION_NONE;
        int r = compression_arg(m, a->compression, &c, error);
        if (r >= 0)
                r = dir_arg(a->dir, error);
        if (r >= 0)
                r = check_remote_dir(m, j->uid, &a->dir, error);
        return r;
}

int bus_set_job_schedule(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error) {
        ScheduleArgs a = {};
        uint64_t usec;
        uid_t uid;
        int r = sd_bus_message_read(call, "t", &usec);
        if (r >= 0)
                r = bus_read_options(call, schedule_options, ELEMENTSOF(schedule_options), &a, error);
        if (r >= 0)
                r = validate_schedule_args(m, j, usec, &a, error);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r >= 0)
                r = authorize(m, call, uid, j->uid, false, error);
        if (r > 0) {
                r = schedule_set(j, usec, a.keep, a.compression, a.dir, error);
                if (r >= 0)
                        r = sd_bus_reply_method_return(call, NULL);
        }
        bus_options_done(schedule_options, ELEMENTSOF(schedule_options), &a);
        return pending(r);
}

int bus_run_job_schedule(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error) {
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r >= 0)
                r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return pending(r);
        if (j->schedule_usec == 0)
                return bus_error_setf(error, CEDANA_E_INVALID_ARGS, "Job %s has no schedule; give it one with 'cedana "
                                      "job schedule %s --every 15min'.", j->id, j->id);
        r = bus_dump_job_for_owner(call, m, j, DUMP_ORIGIN_SCHEDULE, error);
        if (r < 0)
                schedule_dump_done(j, r, error->message ?: strerror(-r));
        return r;
}

int bus_set_job_persist(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error) {
        uid_t uid;
        int on;
        int r = sd_bus_message_read(call, "b", &on);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r >= 0)
                r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return pending(r);
        r = persist_set(j, on, error);
        return r < 0 ? r : sd_bus_reply_method_return(call, NULL);
}

/* A Manager method whose first argument names the job fn acts on; fn reads the rest. */
typedef int (*JobMethodFunc)(sd_bus_message *call, Manager *m, Job *j, sd_bus_error *error);

static int on_named_job(sd_bus_message *call, Manager *m, JobMethodFunc fn, sd_bus_error *error) {
        const char *name;
        Job *j;
        int r = sd_bus_message_read(call, "s", &name);
        if (r >= 0)
                r = called_job(m, call, name, &j, error);
        return r <= 0 ? pending(r) : fn(call, m, j, error);
}

static int method_set_job_schedule(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return on_named_job(call, userdata, bus_set_job_schedule, error);
}

static int method_run_job_schedule(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return on_named_job(call, userdata, bus_run_job_schedule, error);
}

static int method_set_job_persist(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return on_named_job(call, userdata, bus_set_job_persist, error);
}

static bool job_has_schedule_row(const Job *j) {
        return j->schedule_usec > 0 || persist_wanted(j) || j->restore_at_boot;
}

static int append_schedule_row(sd_bus_message *reply, Job *j) {
        return sd_bus_message_append(reply, "(sutttsubb)", j->id, (uint32_t) j->uid, j->schedule_usec,
                                     j->state == JOB_RUNNING ? schedule_next_usec(j) : 0, j->schedule_last_usec,
                                     strempty(j->schedule_last_result), (uint32_t) j->schedule_keep,
                                     persist_wanted(j), j->restore_at_boot);
}

/* The jobs the caller sees that have a schedule or outlive shutdowns, in one call for listings. */
static int method_list_schedules(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return reply_job_rows(call, userdata, "(sutttsubb)", job_has_schedule_row, append_schedule_row);
}

/* ---- prune ---- */

static int reply_strv(sd_bus_message *call, char **l) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, l);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_prune_jobs(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        /* One's own jobs (root: everybody's, as root lists them). */
        r = authorize(m, call, uid, uid, false, error);
        if (r <= 0)
                return pending(r);
        _cleanup_strv_free_ char **removed = NULL;
        r = jobs_prune(m, uid, &removed);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to remove ended jobs from the job store: %s", strerror(-r));
        return reply_strv(call, removed);
}

static int prune_checkpoints_done(Operation *op, int r, const char *message, char **removed, void *userdata) {
        if (r != 0)
                return 0; /* answered with the error */
        int k = reply_strv(op->call, removed);
        if (k < 0)
                log_debug_errno(k, "Failed to reply (the caller may be gone): %m");
        return 1;
}

static int method_prune_checkpoints(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        uint32_t keep;
        _cleanup_(identity_done) Identity caller = {};
        Job *j = NULL;
        int r = sd_bus_message_read(call, "su", &name, &keep);
        if (r >= 0)
                r = caller_identity(call, &caller, error);
        if (r >= 0 && !isempty(name) && (r = called_job(m, call, name, &j, error)) == 0)
                return 1; /* polkit is asked; the call comes again */
        if (r < 0)
                return r;
        r = authorize(m, call, caller.uid, j ? j->uid : caller.uid, false, error);
        if (r <= 0)
                return pending(r);
        /* What DeleteCheckpoint would let the caller delete: its own records (root: all). */
        CheckpointFilter f = { .by_uid = caller.uid != 0, .uid = caller.uid };
        if (j) {
                f.job = j->id;
                f.job_uid = j->uid;
        }
        CheckpointRecord *list = NULL;
        size_t n = 0;
        r = checkpoints_prune_select(m, &f, keep, &list, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                free(list);
                return reply_strv(call, NULL);
        }
        return checkpoint_files_start(m, FILES_DELETE, call, &caller, list, n, prune_checkpoints_done, NULL, error);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CheckpointDirectory", "s", property_get_checkpoint_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Features", "as", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Dump", SD_BUS_ARGS("s", type, "s", target, "a{sv}", options),
                                SD_BUS_RESULT("s", checkpoint_id, "s", path, "t", size), method_dump,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("s", type, "s", source, "a{sv}", options),
                                SD_BUS_RESULT("s", job, "u", pid), method_restore, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Run", SD_BUS_ARGS("s", type, "as", argv, "a{sv}", options),
                                SD_BUS_RESULT("s", job, "u", pid), method_run, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Manage", SD_BUS_ARGS("s", type, "s", target, "a{sv}", options),
                                SD_BUS_RESULT("s", job), method_manage, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetJob", SD_BUS_ARGS("s", job), SD_BUS_RESULT("o", path), method_get_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListJobs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssusbttsuois)", jobs), method_list_jobs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCheckpoints", SD_BUS_ARGS("s", job), SD_BUS_RESULT("a(sssttsus)", checkpoints),
                                method_list_checkpoints, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillJob", SD_BUS_ARGS("s", job, "i", signal), SD_BUS_NO_RESULT, method_kill_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteJob", SD_BUS_ARGS("s", job, "b", with_checkpoints), SD_BUS_NO_RESULT,
                                method_delete_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteCheckpoint", SD_BUS_ARGS("s", checkpoint_id), SD_BUS_NO_RESULT,
                                method_delete_checkpoint, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PruneJobs", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", jobs), method_prune_jobs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_ARGS("s", operation), SD_BUS_NO_RESULT, method_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PruneCheckpoints", SD_BUS_ARGS("s", job, "u", keep),
                                SD_BUS_RESULT("as", checkpoints), method_prune_checkpoints, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetJobSchedule", SD_BUS_ARGS("s", job, "t", interval_usec, "a{sv}", options),
                                SD_BUS_NO_RESULT, method_set_job_schedule, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RunJobSchedule", SD_BUS_ARGS("s", job),
                                SD_BUS_RESULT("s", checkpoint_id, "s", path, "t", size), method_run_job_schedule,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetJobPersist", SD_BUS_ARGS("s", job, "b", persist), SD_BUS_NO_RESULT,
                                method_set_job_persist, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListSchedules", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(sutttsubb)", schedules), method_list_schedules,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachJob", SD_BUS_ARGS("s", job), SD_BUS_RESULT("h", stdin, "h", stdout),
                                method_attach_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CloseJobInput", SD_BUS_ARGS("s", job), SD_BUS_NO_RESULT, method_close_job_input,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("s", job, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobRemoved", SD_BUS_ARGS("s", job, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("CheckpointNew", SD_BUS_ARGS("s", job, "s", checkpoint_id, "s", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", operation, "s", phase, "t", done, "t", total), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Statistics", SD_BUS_ARGS("s", operation, "a{st}", statistics), 0),
        SD_BUS_VTABLE_END,
};

/* Any message is activity: it restarts the idle countdown. */
static int on_any_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        manager_check_idle(userdata);
        return 0;
}

int manager_bus_add_objects(Manager *m, sd_bus *bus) {
        int r = sd_bus_add_object_vtable(bus, NULL, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, manager_vtable, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, JOB_OBJECT_PREFIX, JOB_INTERFACE, job_vtable, job_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, JOB_OBJECT_PREFIX, job_node_enumerator, m);
        if (r >= 0)
                r = sd_bus_add_object_manager(bus, NULL, MANAGER_OBJECT_PATH);
        if (r >= 0)
                r = sd_bus_add_filter(bus, NULL, on_any_message, m);
        if (r >= 0)
                r = sd_bus_error_add_map(cedana_bus_errors);
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus objects: %m");
        return 0;
}

/* A signal of the manager for the one who made call only (progress is nobody else's business),
 * carrying the operation's name first. */
static int new_caller_signal(sd_bus_message *call, const char *member, const char *operation, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r = sd_bus_message_new_signal(sd_bus_message_get_bus(call), &s, MANAGER_OBJECT_PATH, MANAGER_INTERFACE,
                                          member);
        if (r >= 0 && sd_bus_message_get_sender(call))
                r = sd_bus_message_set_destination(s, sd_bus_message_get_sender(call));
        if (r >= 0)
                r = sd_bus_message_append(s, "s", strempty(operation));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

void manager_send_progress(Manager *m, sd_bus_message *call, const char *operation, const char *phase,
                           uint64_t done, uint64_t total) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        if (!call || new_caller_signal(call, "Progress", operation, &s) < 0)
                return;
        if (sd_bus_message_append(s, "stt", phase, done, total) >= 0)
                (void) sd_bus_send(NULL, s, NULL);
}

void manager_send_statistics(Manager *m, sd_bus_message *call, const char *operation, const StatsPair *pairs,
                             size_t n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        if (!call || new_caller_signal(call, "Statistics", operation, &s) < 0)
                return;
        int r = sd_bus_message_open_container(s, 'a', "{st}");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(s, "{st}", pairs[i].key, pairs[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(s);
        if (r >= 0)
                (void) sd_bus_send(NULL, s, NULL);
}

typedef struct CheckpointNewArgs {
        const char *job, *id, *path;
} CheckpointNewArgs;

static int emit_checkpoint_new(sd_bus *bus, void *userdata) {
        CheckpointNewArgs *a = userdata;
        return sd_bus_emit_signal(bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, "CheckpointNew", "sss", a->job, a->id,
                                  a->path);
}

void manager_send_checkpoint_new(Manager *m, const char *job, const char *id, const char *path) {
        CheckpointNewArgs a = { job, id, path };
        (void) manager_foreach_bus(m, emit_checkpoint_new, &a);
}
