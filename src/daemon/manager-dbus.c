/* SPDX-License-Identifier: Apache-2.0 */
/* The Manager interface. Every handler reads its arguments, validates them (InvalidArgs early),
 * authorizes (polkit, asynchronously), then hands the work on and replies. */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "build-config.h"
#include "bus-error.h"
#include "bus-options.h"
#include "fd-util.h"
#include "job-attach.h"
#include "job-dbus.h"
#include "job-run.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager-dbus.h"
#include "manager.h"
#include "naming.h"
#include "operation.h"
#include "parse-util.h"
#include "path-util.h"
#include "polkit.h"
#include "process.h"
#include "strv.h"

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

/* 1 go ahead, 0 polkit query in flight, < 0 refused. */
static int authorize(Manager *m, sd_bus_message *call, uid_t caller, uid_t owner, bool foreign, sd_bus_error *error) {
        const char *action = caller != owner ? POLKIT_ACTION_MANAGE_ANY
                             : foreign       ? POLKIT_ACTION_RESTORE_FOREIGN
                                             : POLKIT_ACTION_MANAGE_OWN;
        return polkit_check(m, call, action, NULL, error);
}

static int get_job(Manager *m, const char *name, Job **ret, sd_bus_error *error) {
        if (!job_name_is_valid(name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid job name.", name);
        Job *j = manager_get_job(m, name);
        if (!j)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_JOB, "There is no job %s; see 'cedana job list'.", name);
        *ret = j;
        return 0;
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
};

/* CRIU external resources a caller may declare: sockets, terminals and files it keeps outside.
 * Never mounts, namespaces or devices: those would let a caller reshape what CRIU restores. */
static bool external_is_allowed(const char *e) {
        return startswith(e, "unix[") || startswith(e, "tty[") || startswith(e, "file[");
}

static int validate_dump_args(Manager *m, DumpArgs *a, Operation *op, sd_bus_error *error) {
        Compression c = a->compression ? compression_from_string(a->compression) : m->config.compression;
        if (c < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Compression '%.32s' is not supported; use none, tar, gzip, lz4, zlib or zstd.",
                                         a->compression);
        if (a->name && !checkpoint_name_is_valid(a->name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%.64s' is not a valid checkpoint name: use letters, digits, '.', '_' and '-'.",
                                         a->name);
        STRV_FOREACH(e, a->external)
                if (!external_is_allowed(*e))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "External resource '%.64s' is not allowed; use unix[...], tty[...] or file[...].",
                                                 *e);
        if (a->dir && !path_is_normalized(a->dir))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Directory '%.64s' must be an absolute path without '.' or '..'.", a->dir);
        if (a->dir_fd >= 0) {
                struct stat st;
                if (fstat(a->dir_fd, &st) < 0 || !S_ISDIR(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'dir_fd' is not a directory.");
        }
        op->dump_options = (DumpOptions) {
                .compression = c,
                .leave_running = a->leave_running,
                .tcp_established = a->tcp_established,
                .file_locks = a->file_locks,
                .shell_job = a->shell_job,
                .link_remap = a->link_remap,
                .external = TAKE_PTR(a->external),
        };
        return 0;
}

/* The process to dump, with the checks that come before anyone may ask polkit. */
static int resolve_dump_target(Manager *m, Operation *op, const char *type, const char *target, uid_t *ret_owner,
                               sd_bus_error *error) {
        if (streq(type, "job")) {
                Job *j;
                int r = get_job(m, target, &j, error);
                if (r < 0)
                        return r;
                if (j->busy)
                        return sd_bus_error_setf(error, BUS_ERROR_JOB_BUSY,
                                                 "Job %s is busy: another dump or restore of it is in progress.", j->id);
                if (j->state != JOB_RUNNING)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS,
                                                 "Job %s is not running (%s); there is nothing to dump.", j->id,
                                                 job_state_to_string(j->state));
                op->job = j;
                op->pid = j->pid;
                if (!(op->job_name = strdup(j->id)) || !(op->type = strdup(j->type)))
                        return -ENOMEM;
        } else if (streq(type, "process")) {
                if (parse_pid(target, &op->pid) < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.32s' is not a process ID.", target);
                if (!(op->type = strdup("process")))
                        return -ENOMEM;
        } else
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown type '%.32s'; use \"process\" or \"job\".", type);

        if (op->pid == 1 || op->pid == getpid())
                return sd_bus_error_setf(error, BUS_ERROR_NOT_PERMITTED, "Process %i cannot be dumped: it is %s.",
                                         (int) op->pid, op->pid == 1 ? "the init process" : "cedanad itself");
        ProcessInfo p;
        int r = process_open(op->pid, &op->pidfd, &p);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "Process %i does not exist.", (int) op->pid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to inspect process %i: %s", (int) op->pid, strerror(-r));
        bool worker = false;
        LIST_FOREACH(workers, w, m->workers)
                worker = worker || w->pid == op->pid || w->pid == p.ppid;
        if (worker || p.ppid == 2 || p.pid == 2)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_PERMITTED,
                                         "Process %i cannot be dumped: it is %s.", (int) op->pid,
                                         worker ? "part of cedanad" : "a kernel thread");
        /* A process whose ids differ (a setuid program) belongs to root for our purposes. */
        uid_t owner = p.uid[0];
        for (size_t i = 1; i < 4; i++)
                if (p.uid[i] != owner)
                        owner = 0;
        if (op->job && op->job->uid != owner)
                owner = op->job->uid == 0 ? 0 : owner;
        *ret_owner = owner;
        return 0;
}

static int dump_place(Manager *m, Operation *op, DumpArgs *a, sd_bus_error *error) {
        if (a->dir_fd >= 0) {
                op->dir_fd = TAKE_FD(a->dir_fd);
                int r = fd_get_path(op->dir_fd, &op->dir_path);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to resolve option 'dir_fd': %s", strerror(-r));
        } else if (!(op->dir_path = strdup(a->dir ?: m->config.checkpoint_directory)))
                return -ENOMEM;

        /* dump-<type>-<job or pid>-<unix time>: for a job its name, the pid means nothing there. */
        char pid[16];
        snprintf(pid, sizeof(pid), "%i", (int) op->pid);
        if (a->name)
                op->name = TAKE_PTR(a->name);
        else if (asprintf(&op->name, "dump-%s-%s-%" PRIu64, op->type, op->job ? op->job->id : pid,
                          now_realtime_usec() / USEC_PER_SEC) < 0)
                return -ENOMEM;
        if (manager_checkpoint_name_taken(m, op, op->name))
                return sd_bus_error_setf(error, BUS_ERROR_CHECKPOINT_EXISTS,
                                         "A checkpoint named %s exists already; choose another --name.", op->name);
        return 0;
}

int bus_dump(sd_bus_message *call, Manager *m, const char *type, const char *target, sd_bus_error *error) {
        DumpArgs a = { .dir_fd = -EBADF };
        Operation *op = operation_new(m, call, false);
        uid_t owner = 0;
        int r;
        if (!op)
                return -ENOMEM;

        r = bus_read_options(call, dump_options, ELEMENTSOF(dump_options), &a, error);
        if (r >= 0)
                r = validate_dump_args(m, &a, op, error);
        if (r >= 0)
                r = resolve_dump_target(m, op, type, target, &owner, error);
        if (r >= 0)
                r = caller_identity(call, &op->caller, error);
        if (r >= 0)
                r = authorize(m, call, op->caller.uid, owner, false, error);
        if (r <= 0) {
                /* Refused, or polkit is thinking: the call is dispatched again when it answers. */
                r = r < 0 ? r : 1;
                goto finish;
        }

        r = identity_from_uid(owner, &op->owner);
        if (r >= 0)
                r = dump_place(m, op, &a, error);
        if (r >= 0 && op->job && op->job->attach && op->job->attach_in_key && op->job->attach_out_key) {
                /* Recorded in the checkpoint, so any restore can hand the job new pipes. */
                char *pipes[] = { op->job->attach_in_key, op->job->attach_out_key, NULL };
                if (!(op->dump_options.attach_pipes = strv_copy(pipes)))
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = operation_start(op, error);
        if (r >= 0) {
                op = NULL; /* replies when done */
                r = 1;
        }
finish:
        bus_options_done(dump_options, ELEMENTSOF(dump_options), &a);
        operation_free(op);
        return r;
}

static int method_dump(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        const char *type, *target;
        int r = sd_bus_message_read(call, "ss", &type, &target);
        if (r < 0)
                return r;
        return bus_dump(call, userdata, type, target, error);
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
} RestoreArgs;

static const BusOption restore_options[] = {
        { "source_fd", BUS_OPTION_FD, offsetof(RestoreArgs, source_fd) },
        { "path", BUS_OPTION_STRING, offsetof(RestoreArgs, path) },
        { "name", BUS_OPTION_STRING, offsetof(RestoreArgs, name) },
        { "tcp_established", BUS_OPTION_BOOL, offsetof(RestoreArgs, tcp_established) },
        { "shell_job", BUS_OPTION_BOOL, offsetof(RestoreArgs, shell_job) },
        { "attach", BUS_OPTION_BOOL, offsetof(RestoreArgs, attach) },
        { "log_fd", BUS_OPTION_FD, offsetof(RestoreArgs, log_fd) },
};

/* Where the checkpoint comes from: an fd the caller opened, a path, or the job's latest. */
static int resolve_restore_source(Manager *m, Operation *op, const char *type, const char *source, RestoreArgs *a,
                                  sd_bus_error *error) {
        const char *path = a->path;
        if (streq(type, "job")) {
                Job *j;
                int r = get_job(m, source, &j, error);
                if (r < 0)
                        return r;
                if (j->busy)
                        return sd_bus_error_setf(error, BUS_ERROR_JOB_BUSY,
                                                 "Job %s is busy: another dump or restore of it is in progress.", j->id);
                if (j->state == JOB_RUNNING)
                        return sd_bus_error_setf(error, BUS_ERROR_JOB_RUNNING,
                                                 "Job %s is still running; dump it or stop it with 'cedana job kill %s' first.",
                                                 j->id, j->id);
                op->job = j;
                if (!(op->job_name = strdup(j->id)))
                        return -ENOMEM;
                if (a->source_fd < 0 && !path) {
                        CheckpointRecord *list = NULL;
                        size_t n = 0;
                        r = jobstore_list_checkpoints(m->store, j->id, &list, &n);
                        if (r < 0)
                                return r;
                        if (n > 0)
                                op->source_path = strdup(list[0].path);
                        checkpoint_records_free(list, n);
                        if (n == 0)
                                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_CHECKPOINT,
                                                         "Job %s has no checkpoint to restore; dump it first or give --path.",
                                                         j->id);
                        if (!op->source_path)
                                return -ENOMEM;
                }
        } else if (streq(type, "process")) {
                if (!isempty(source))
                        path = source;
                if (a->name && !job_name_is_valid(a->name))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid job name.",
                                                 a->name);
        } else
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown type '%.32s'; use \"process\" or \"job\".", type);

        if (a->source_fd >= 0) {
                op->source_fd = TAKE_FD(a->source_fd);
                free(op->source_path);
                op->source_path = NULL;
                int r = fd_get_path(op->source_fd, &op->source_path);
                if (r < 0)
                        return r;
        } else if (path) {
                if (!path_is_normalized(path))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Checkpoint path '%.64s' must be absolute, without '.' or '..'.", path);
                free(op->source_path);
                if (!(op->source_path = strdup(path)))
                        return -ENOMEM;
        } else if (!op->source_path)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No checkpoint given: pass a path or 'source_fd'.");
        return 0;
}

/* Is this a checkpoint cedanad wrote for uid? Decided on the record only; the content is
 * verified by the worker anyway. */
static bool checkpoint_is_vouched(Manager *m, const char *path, uid_t uid) {
        CheckpointRecord *list = NULL;
        size_t n = 0;
        bool found = false;
        if (jobstore_list_checkpoints(m->store, NULL, &list, &n) < 0)
                return false;
        for (size_t i = 0; i < n && !found; i++)
                found = list[i].uid == uid && streq(list[i].path, path);
        checkpoint_records_free(list, n);
        return found;
}

int bus_restore(sd_bus_message *call, Manager *m, const char *type, const char *source, sd_bus_error *error) {
        RestoreArgs a = { .source_fd = -EBADF, .log_fd = -EBADF };
        Operation *op = operation_new(m, call, true);
        int r;
        if (!op)
                return -ENOMEM;

        r = bus_read_options(call, restore_options, ELEMENTSOF(restore_options), &a, error);
        if (r >= 0)
                r = resolve_restore_source(m, op, type, source, &a, error);
        if (r >= 0)
                r = caller_identity(call, &op->caller, error);
        if (r >= 0) {
                uid_t owner = op->job ? op->job->uid : op->caller.uid;
                bool foreign = !op->job && !checkpoint_is_vouched(m, op->source_path, op->caller.uid);
                r = authorize(m, call, op->caller.uid, owner, foreign, error);
        }
        if (r <= 0) {
                r = r < 0 ? r : 1;
                goto finish;
        }

        /* Root restores with a privileged CRIU; everyone else with an unprivileged one, as themselves. */
        r = identity_copy(&op->caller, &op->owner);
        if (r >= 0 && !op->job) {
                if (a.name)
                        op->job_name = TAKE_PTR(a.name);
                else
                        r = job_name_generate(&op->job_name);
                if (r >= 0 && manager_job_name_taken(m, op, op->job_name))
                        r = sd_bus_error_setf(error, BUS_ERROR_JOB_EXISTS,
                                              "A job named %s exists already; choose another --name.", op->job_name);
                op->new_job = true;
        }
        /* An attached job gets new stdio pipes; a restored process too, if asked (its checkpoint
         * says whether it needs them). */
        if (r >= 0 && (op->job ? op->job->attach : a.attach))
                r = attach_pipes_new(&op->pipes);
        if (r >= 0) {
                op->restore_options.tcp_established = a.tcp_established;
                op->restore_options.shell_job = a.shell_job;
                op->log_fd = TAKE_FD(a.log_fd);
                r = operation_start(op, error);
        }
        if (r >= 0) {
                op = NULL;
                r = 1;
        }
finish:
        bus_options_done(restore_options, ELEMENTSOF(restore_options), &a);
        operation_free(op);
        return r;
}

static int method_restore(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        const char *type, *source;
        int r = sd_bus_message_read(call, "ss", &type, &source);
        if (r < 0)
                return r;
        return bus_restore(call, userdata, type, source, error);
}

/* ---- Run, Manage ---- */

static const BusOption run_options[] = {
        { "name", BUS_OPTION_STRING, offsetof(RunArgs, name) },
        { "cwd", BUS_OPTION_STRING, offsetof(RunArgs, cwd) },
        { "env", BUS_OPTION_STRV, offsetof(RunArgs, env) },
        { "log", BUS_OPTION_STRING, offsetof(RunArgs, log) },
        { "log_fd", BUS_OPTION_FD, offsetof(RunArgs, log_fd) },
        { "attach", BUS_OPTION_BOOL, offsetof(RunArgs, attach) },
};

static int method_run(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        RunArgs a = { .log_fd = -EBADF };
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_(identity_done) Identity caller = {};
        const char *type;
        int r = sd_bus_message_read(call, "s", &type);
        if (r >= 0)
                r = sd_bus_message_read_strv(call, &argv);
        if (r < 0)
                return r;
        r = bus_read_options(call, run_options, ELEMENTSOF(run_options), &a, error);
        if (r >= 0 && !streq(type, "process"))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\".", type);
        if (r >= 0)
                r = run_args_validate(m, &a, argv, error);
        if (r >= 0)
                r = caller_identity(call, &caller, error);
        if (r >= 0)
                r = authorize(m, call, caller.uid, caller.uid, false, error);
        if (r == 0)
                r = 1; /* polkit is thinking; dispatched again when it answers */
        else if (r > 0)
                r = job_run_start(m, call, &caller, argv, &a, error);
        bus_options_done(run_options, ELEMENTSOF(run_options), &a);
        return r;
}

typedef struct ManageArgs {
        char *name;
} ManageArgs;

static const BusOption manage_options[] = {
        { "name", BUS_OPTION_STRING, offsetof(ManageArgs, name) },
};

static int method_manage(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        ManageArgs a = {};
        _cleanup_(identity_done) Identity caller = {};
        const char *type, *target;
        pid_t pid = 0;
        ProcessInfo p = {};
        int r = sd_bus_message_read(call, "ss", &type, &target);
        if (r < 0)
                return r;
        r = bus_read_options(call, manage_options, ELEMENTSOF(manage_options), &a, error);
        if (r >= 0 && !streq(type, "process"))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown type '%.32s'; use \"process\".", type);
        if (r >= 0 && parse_pid(target, &pid) < 0)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.32s' is not a process ID.", target);
        if (r >= 0 && a.name && !job_name_is_valid(a.name))
                r = sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid job name.", a.name);
        if (r >= 0 && (pid == 1 || pid == getpid()))
                r = sd_bus_error_setf(error, BUS_ERROR_NOT_PERMITTED, "Process %i cannot be managed.", (int) pid);
        if (r >= 0) {
                r = process_read_info(pid, &p);
                if (r < 0)
                        r = sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "Process %i does not exist.", (int) pid);
        }
        if (r >= 0)
                r = caller_identity(call, &caller, error);
        if (r >= 0)
                r = authorize(m, call, caller.uid, p.uid[0], false, error);
        if (r == 0)
                r = 1;
        else if (r > 0)
                r = job_manage(m, call, pid, a.name, error);
        bus_options_done(manage_options, ELEMENTSOF(manage_options), &a);
        return r;
}

/* ---- jobs and checkpoints ---- */

static bool caller_sees(uid_t caller, uid_t owner) {
        return caller == 0 || caller == owner;
}

static int method_get_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        Job *j;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &name);
        if (r < 0)
                return r;
        r = get_job(m, name, &j, error);
        if (r < 0)
                return r;
        r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        if (!caller_sees(uid, j->uid))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_JOB, "There is no job %s; see 'cedana job list'.", name);
        _cleanup_free_ char *path = job_bus_path(j);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(call, "o", path);
}

static int method_list_jobs(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uid_t uid;
        int r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssusbttsuo)");
        LIST_FOREACH(jobs, j, m->jobs) {
                if (r < 0)
                        break;
                if (!caller_sees(uid, j->uid))
                        continue;
                job_refresh_gpu(j);
                _cleanup_free_ char *path = job_bus_path(j);
                if (!path)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(ssusbttsuo)", j->id, j->type, (uint32_t) j->pid,
                                          job_state_to_string(j->state), j->gpu, j->last_checkpoint_usec,
                                          j->last_checkpoint_size, strempty(j->log_path), (uint32_t) j->uid, path);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_checkpoints(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &name);
        if (r >= 0)
                r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        if (!isempty(name)) {
                Job *j;
                r = get_job(m, name, &j, error);
                if (r < 0)
                        return r;
        }
        CheckpointRecord *list = NULL;
        size_t n = 0;
        r = jobstore_list_checkpoints(m->store, isempty(name) ? NULL : name, &list, &n);
        if (r < 0)
                return r;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssstts)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (caller_sees(uid, list[i].uid))
                        r = sd_bus_message_append(reply, "(ssstts)", list[i].id, strempty(list[i].job), list[i].path,
                                                  list[i].time_usec, list[i].size, list[i].compression);
        checkpoint_records_free(list, n);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int bus_kill_job(sd_bus_message *call, Manager *m, const char *name, int sig, sd_bus_error *error) {
        Job *j;
        uid_t uid;
        int r = get_job(m, name, &j, error);
        if (r < 0)
                return r;
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%i is not a signal number.", sig);
        r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = job_kill(j, sig, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call, NULL);
}

static int method_kill_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        const char *name;
        int sig;
        int r = sd_bus_message_read(call, "si", &name, &sig);
        if (r < 0)
                return r;
        return bus_kill_job(call, userdata, name, sig, error);
}

int bus_delete_job(sd_bus_message *call, Manager *m, const char *name, int with_checkpoints, sd_bus_error *error) {
        Job *j;
        uid_t uid;
        int r = get_job(m, name, &j, error);
        if (r < 0)
                return r;
        r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (j->busy)
                return sd_bus_error_setf(error, BUS_ERROR_JOB_BUSY, "Job %s is busy: a dump or restore is in progress.",
                                         j->id);
        if (j->state == JOB_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_JOB_RUNNING,
                                         "Job %s is still running; stop it with 'cedana job kill %s' first.", j->id, j->id);
        r = job_delete(j, with_checkpoints, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call, NULL);
}

static int method_delete_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        const char *name;
        int with_checkpoints;
        int r = sd_bus_message_read(call, "sb", &name, &with_checkpoints);
        if (r < 0)
                return r;
        return bus_delete_job(call, userdata, name, with_checkpoints, error);
}

static int method_delete_checkpoint(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *id;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &id);
        if (r < 0)
                return r;
        if (!checkpoint_name_is_valid(id))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.64s' is not a valid checkpoint id.", id);
        _cleanup_(checkpoint_record_done) CheckpointRecord c = {};
        r = jobstore_get_checkpoint(m->store, id, &c);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_CHECKPOINT,
                                         "There is no checkpoint %s; see 'cedana checkpoint list'.", id);
        if (r < 0)
                return r;
        r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = authorize(m, call, uid, c.uid, false, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = checkpoint_delete(m, &c, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call, NULL);
}

static int method_attach_job(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        Job *j;
        uid_t uid;
        int r = sd_bus_message_read(call, "s", &name);
        if (r < 0)
                return r;
        r = get_job(m, name, &j, error);
        if (r < 0)
                return r;
        r = bus_caller_uid(call, &uid);
        if (r < 0)
                return r;
        r = authorize(m, call, uid, j->uid, false, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!j->attach)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Job %s was not started with --attach; its output is in %s.", j->id,
                                         j->log_path ?: "its log");
        int in, out;
        r = job_attach_client(j, &in, &out);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "Job %s is not running (%s).", j->id,
                                         job_state_to_string(j->state));
        r = sd_bus_reply_method_return(call, "hh", in, out);
        safe_close(out); /* the caller has its copy; ours would keep the pipe from ending */
        return r;
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
        SD_BUS_METHOD_WITH_ARGS("ListJobs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssusbttsuo)", jobs), method_list_jobs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCheckpoints", SD_BUS_ARGS("s", job), SD_BUS_RESULT("a(ssstts)", checkpoints),
                                method_list_checkpoints, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillJob", SD_BUS_ARGS("s", job, "i", signal), SD_BUS_NO_RESULT, method_kill_job,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteJob", SD_BUS_ARGS("s", job, "b", with_checkpoints), SD_BUS_NO_RESULT,
                                method_delete_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteCheckpoint", SD_BUS_ARGS("s", checkpoint_id), SD_BUS_NO_RESULT,
                                method_delete_checkpoint, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachJob", SD_BUS_ARGS("s", job), SD_BUS_RESULT("h", stdin, "h", stdout),
                                method_attach_job, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("s", job, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobRemoved", SD_BUS_ARGS("s", job, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("CheckpointNew", SD_BUS_ARGS("s", job, "s", checkpoint_id, "s", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", operation, "s", phase, "t", done, "t", total), 0),
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

void manager_send_progress(Manager *m, sd_bus_message *call, const char *operation, const char *phase,
                           uint64_t done, uint64_t total) {
        sd_bus *bus = sd_bus_message_get_bus(call);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r = sd_bus_message_new_signal(bus, &s, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, "Progress");
        if (r >= 0 && sd_bus_message_get_sender(call))
                r = sd_bus_message_set_destination(s, sd_bus_message_get_sender(call));
        if (r >= 0)
                r = sd_bus_message_append(s, "sstt", strempty(operation), phase, done, total);
        if (r >= 0)
                (void) sd_bus_send(bus, s, NULL);
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
