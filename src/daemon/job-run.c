/* SPDX-License-Identifier: Apache-2.0 */
/* Run and Manage: a job's process is put into its scope before it runs a single instruction
 * of the user's program (the child waits on a pipe until systemd has moved it). */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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
#include "manager.h"
#include "message-ids.h"
#include "naming.h"
#include "operation.h"
#include "path-util.h"
#include "process.h"
#include "scope.h"
#include "strv.h"

static bool env_entry_is_valid(const char *e) {
        const char *eq = strchr(e, '=');
        if (!eq || eq == e)
                return false;
        for (const char *c = e; c < eq; c++)
                if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                      (c > e && *c >= '0' && *c <= '9')))
                        return false;
        return true;
}

int run_args_validate(Manager *m, RunArgs *a, char **argv, sd_bus_error *error) {
        if (strv_length(argv) == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No command given to run.");
        if (strv_length(argv) > BUS_STRV_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Too many arguments.");
        STRV_FOREACH(s, argv)
                if (strlen(*s) > BUS_STRING_MAX || (s == argv && isempty(*s)))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "An argument of the command is empty or too long.");
        if (a->name && !job_name_is_valid(a->name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%.64s' is not a valid job name: use letters, digits, '.', '_' and '-'.", a->name);
        if (a->cwd && !path_is_normalized(a->cwd))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Working directory '%.64s' must be an absolute path without '.' or '..'.", a->cwd);
        if (a->log && !path_is_normalized(a->log))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Log file '%.64s' must be an absolute path without '.' or '..'.", a->log);
        STRV_FOREACH(e, a->env)
                if (!env_entry_is_valid(*e))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Environment entry '%.64s' is not KEY=VALUE.", *e);
        if (a->log_fd >= 0) {
                int fl = fcntl(a->log_fd, F_GETFL);
                struct stat st;
                if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || fstat(a->log_fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'log_fd' must be a regular file open for writing.");
        }
        return 0;
}

/* A Run in progress: the child exists and waits; the scope is being made. */
typedef struct RunContext {
        Manager *manager;
        sd_bus_message *call;
        Job *job;
        int sync_fd; /* closing it without writing makes the child give up */
        int err_fd;  /* the child's exec errno, or EOF once it executed */
        sd_event_source *err_source;
        char *command;
        AttachPipes pipes; /* with attach */
} RunContext;

static void run_context_free(RunContext *c, bool failed) {
        if (!c)
                return;
        scope_cancel(c->manager, c);
        sd_event_source_disable_unref(c->err_source);
        safe_close(c->sync_fd);
        safe_close(c->err_fd);
        if (failed && c->job) {
                if (c->job->pid > 0)
                        (void) kill(c->job->pid, SIGKILL);
                job_free(c->job);
        }
        sd_bus_message_unref(c->call);
        free(c->command);
        attach_pipes_done(&c->pipes);
        manager_unbusy(c->manager);
        free(c);
}

static int on_exec_result(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        RunContext *c = userdata;
        Job *j = c->job;
        int child_errno = 0;
        ssize_t n = read(fd, &child_errno, sizeof(child_errno));
        if (n > 0) {
                (void) sd_bus_reply_method_errorf(c->call, n == sizeof(int) && child_errno == ENOENT ? SD_BUS_ERROR_FILE_NOT_FOUND
                                                                                                   : SD_BUS_ERROR_FAILED,
                                                  "Failed to start '%s': %s.", c->command, strerror(child_errno));
                run_context_free(c, true);
                return 0;
        }
        /* EOF: the exec happened (the pipe is O_CLOEXEC in the child). */
        c->job = NULL;
        if (c->pipes.daemon_stdout >= 0) {
                int r = job_attach_take(j, &c->pipes);
                if (r < 0)
                        log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id), "Failed to attach to job %s: %m", j->id);
        }
        (void) process_start_time(j->pid, &j->pid_start_time);
        (void) job_watch(j);
        job_set_state(j, JOB_RUNNING, -1);
        job_announce(j);
        log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_JOB_STARTED, .job = j->id, .unit = j->unit, .pid = j->pid),
                "Started job %s (PID %i): %s", j->id, (int) j->pid, c->command);
        (void) sd_bus_reply_method_return(c->call, "su", j->id, (uint32_t) j->pid);
        run_context_free(c, false);
        return 0;
}

static void on_run_scope(Manager *m, int error, const char *message, void *userdata) {
        RunContext *c = userdata;
        if (error < 0) {
                (void) sd_bus_reply_method_errorf(c->call, SD_BUS_ERROR_FAILED, "%s", message);
                run_context_free(c, true);
                return;
        }
        /* In the scope now: let it exec. */
        char go = 'g';
        int r = loop_write(c->sync_fd, &go, 1);
        c->sync_fd = safe_close(c->sync_fd);
        if (r >= 0)
                r = sd_event_add_io(m->event, &c->err_source, c->err_fd, EPOLLIN, on_exec_result, c);
        if (r < 0) {
                (void) sd_bus_reply_method_errorf(c->call, SD_BUS_ERROR_FAILED, "Failed to start the job: %s.", strerror(-r));
                run_context_free(c, true);
        }
}

static _noreturn_ void run_child(const Identity *caller, char **argv, RunArgs *a, int stdio_in, int stdio_out,
                                 int sync_fd, int err_fd) {
        int e = 0;
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        (void) setsid();

        if (identity_drop(caller) < 0)
                goto fail;
        if (a->log && stdio_out < 0 && !a->attach) {
                /* The caller's own log file, opened with the caller's rights. */
                stdio_out = open_nofollow(a->log, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0640);
                if (stdio_out < 0) {
                        errno = -stdio_out;
                        goto fail;
                }
        }
        if (stdio_in < 0 && (stdio_in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                goto fail;
        if (dup2(stdio_in, 0) < 0 || dup2(stdio_out, 1) < 0 || dup2(stdio_out, 2) < 0)
                goto fail;
        int keep[] = { sync_fd, err_fd };
        if (close_all_fds(keep, ELEMENTSOF(keep)) < 0)
                goto fail;
        if (chdir(a->cwd ?: "/") < 0)
                goto fail;

        char go = 0;
        if (read(sync_fd, &go, 1) != 1 || go != 'g')
                _exit(EXIT_FAILURE);
        execvpe(argv[0], argv, a->env ?: (char *[]) { NULL });
fail:
        e = errno;
        (void) loop_write(err_fd, &e, sizeof(e));
        _exit(127);
}

static int open_default_log(Manager *m, Job *j, const Identity *caller, int *ret) {
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "%s.log", j->id) < 0)
                return -ENOMEM;
        int fd = openat(m->log_dir_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return negative_errno();
        /* The job writes it as its user, and a restore by that user reopens it. */
        if (fchown(fd, caller->uid, caller->gid) < 0) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        j->log_path = path_join(m->log_dir, name);
        *ret = fd;
        return j->log_path ? 0 : -ENOMEM;
}

int job_run_start(Manager *m, sd_bus_message *call, const Identity *caller, char **argv, RunArgs *a,
                  sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r;
        if (a->name)
                name = strdup(a->name);
        else
                for (unsigned i = 0; i < 32 && (!name || manager_job_name_taken(m, NULL, name)); i++) {
                        free(name);
                        name = NULL;
                        if (job_name_generate(&name) < 0)
                                return -ENOMEM;
                }
        if (!name)
                return -ENOMEM;
        if (manager_job_name_taken(m, NULL, name))
                return sd_bus_error_setf(error, BUS_ERROR_JOB_EXISTS, "A job named %s exists already; choose another --name.",
                                         name);

        RunContext *c = calloc(1, sizeof(RunContext));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->call = sd_bus_message_ref(call);
        c->sync_fd = c->err_fd = -EBADF;
        c->pipes = (AttachPipes) ATTACH_PIPES_NULL;
        c->command = strv_join(argv, " ");
        manager_busy(m);

        _cleanup_close_ int log_fd = -EBADF;
        _cleanup_close_pair_ int sync_pipe[2] = { -EBADF, -EBADF }, err_pipe[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *desc = NULL;
        r = job_new(m, name, &c->job);
        if (r < 0)
                goto fail;
        Job *j = c->job;
        j->uid = caller->uid;
        if (a->log_fd >= 0) {
                log_fd = TAKE_FD(a->log_fd);
                j->log_path = a->log ? strdup(a->log) : NULL;
                if (!j->log_path)
                        (void) fd_get_path(log_fd, &j->log_path);
        } else if (a->log)
                j->log_path = strdup(a->log); /* opened by the child, as the caller */
        else {
                r = open_default_log(m, j, caller, &log_fd);
                if (r < 0) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to create the job's log in %s: %s", m->log_dir,
                                          strerror(-r));
                        goto fail;
                }
        }
        r = scope_name_for_job(j->id, &j->unit);
        if (r < 0)
                goto fail;
        if (a->attach) {
                /* The job's output goes through cedanad, which appends it to the log. */
                r = attach_pipes_new(&c->pipes);
                if (r < 0)
                        goto fail;
                log_fd = safe_close(log_fd);
        }
        if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto fail;
        }

        pid_t pid = fork();
        if (pid < 0) {
                r = negative_errno();
                goto fail;
        }
        if (pid == 0)
                run_child(caller, argv, a, c->pipes.job_stdin, a->attach ? c->pipes.job_stdout : log_fd, sync_pipe[0],
                          err_pipe[1]);

        c->pipes.job_stdin = safe_close(c->pipes.job_stdin);
        c->pipes.job_stdout = safe_close(c->pipes.job_stdout);
        j->pid = pid;
        c->sync_fd = TAKE_FD(sync_pipe[1]);
        c->err_fd = TAKE_FD(err_pipe[0]);
        if (!m->bus) {
                /* No systemd: the job runs unscoped. */
                free(j->unit);
                j->unit = NULL;
                on_run_scope(m, 0, NULL, c);
                return 1;
        }
        if (asprintf(&desc, "cedana job %s: %s", j->id, c->command ?: argv[0]) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = scope_start(m, j->unit, desc, &pid, 1, on_run_scope, c);
        if (r < 0)
                goto fail;
        return 1;
fail:
        run_context_free(c, true);
        if (!sd_bus_error_is_set(error))
                sd_bus_error_set_errnof(error, r, "Failed to start the job: %s", strerror(-r));
        return r;
}

typedef struct ManageContext {
        Manager *manager;
        sd_bus_message *call;
        Job *job;
} ManageContext;

static void on_manage_scope(Manager *m, int error, const char *message, void *userdata) {
        ManageContext *c = userdata;
        Job *j = c->job;
        if (error < 0) {
                (void) sd_bus_reply_method_errorf(c->call, SD_BUS_ERROR_FAILED, "%s", message);
                job_free(j);
        } else {
                (void) job_watch(j);
                job_set_state(j, JOB_RUNNING, -1);
                job_announce(j);
                log_ctx(LOG_INFO,
                        LOG_CTX(.message_id = MESSAGE_ID_JOB_STARTED, .job = j->id, .unit = j->unit, .pid = j->pid),
                        "Adopted process %i as job %s.", (int) j->pid, j->id);
                (void) sd_bus_reply_method_return(c->call, "s", j->id);
        }
        sd_bus_message_unref(c->call);
        free(c);
}

int job_manage(Manager *m, sd_bus_message *call, pid_t pid, const char *name, sd_bus_error *error) {
        ProcessInfo p;
        _cleanup_close_ int pidfd = -EBADF;
        int r = process_open(pid, &pidfd, &p);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "Process %i does not exist.", (int) pid);
        LIST_FOREACH(jobs, o, m->jobs)
                if (o->state == JOB_RUNNING && o->pid == pid && o->pid_start_time == p.start_time)
                        return sd_bus_error_setf(error, BUS_ERROR_JOB_EXISTS, "Process %i is job %s already.", (int) pid,
                                                 o->id);
        _cleanup_free_ char *n = name ? strdup(name) : NULL;
        for (unsigned i = 0; !name && i < 32 && (!n || manager_job_name_taken(m, NULL, n)); i++) {
                free(n);
                n = NULL;
                if (job_name_generate(&n) < 0)
                        return -ENOMEM;
        }
        if (!n)
                return -ENOMEM;
        if (manager_job_name_taken(m, NULL, n))
                return sd_bus_error_setf(error, BUS_ERROR_JOB_EXISTS, "A job named %s exists already; choose another --name.", n);

        _cleanup_free_ pid_t *pids = NULL;
        size_t n_pids = 0;
        r = process_tree(pid, &pids, &n_pids);
        if (r < 0)
                return r;
        Job *j;
        r = job_new(m, n, &j);
        if (r < 0)
                return r;
        j->uid = p.uid[0];
        j->pid = pid;
        j->pid_start_time = p.start_time;
        j->gpu = process_tree_uses_gpu(pids, n_pids) > 0;
        ManageContext *c = calloc(1, sizeof(ManageContext));
        if (!c || scope_name_for_job(j->id, &j->unit) < 0) {
                free(c);
                job_free(j);
                return -ENOMEM;
        }
        c->manager = m;
        c->call = sd_bus_message_ref(call);
        c->job = j;
        if (!m->bus) {
                free(j->unit);
                j->unit = NULL;
                on_manage_scope(m, 0, NULL, c);
                return 1;
        }
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "cedana job %s (adopted PID %i)", j->id, (int) pid) < 0)
                r = -ENOMEM;
        else
                r = scope_start(m, j->unit, desc, pids, n_pids, on_manage_scope, c);
        if (r < 0) {
                sd_bus_message_unref(c->call);
                free(c);
                job_free(j);
                return sd_bus_error_set_errnof(error, r, "Failed to create a scope for process %i: %s", (int) pid,
                                               strerror(-r));
        }
        return 1;
}

int job_kill(Job *j, int sig, sd_bus_error *error) {
        if (j->state != JOB_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "Job %s is not running (%s).", j->id,
                                         job_state_to_string(j->state));
        if (j->unit && j->manager->bus) {
                int r = scope_kill(j->manager, j->unit, sig, error);
                if (r >= 0 || !sd_bus_error_has_name(error, "org.freedesktop.systemd1.NoSuchUnit"))
                        return r;
                sd_bus_error_free(error);
        }
        if (j->pidfd < 0 || syscall(SYS_pidfd_send_signal, j->pidfd, sig, NULL, 0) < 0)
                return sd_bus_error_set_errnof(error, errno, "Failed to signal job %s: %m", j->id);
        return 0;
}

static int remove_path_as(const Identity *owner, const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return -EINVAL;
        *slash = 0;
        int r = identity_set_fs(owner);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_nofollow(dir, O_RDONLY | O_DIRECTORY, 0);
        r = fd < 0 ? (fd == -ENOENT ? 0 : fd) : rm_rf_at(fd, slash + 1);
        (void) identity_reset_fs();
        return r;
}

int checkpoint_delete(Manager *m, const CheckpointRecord *c, sd_bus_error *error) {
        _cleanup_(identity_done) Identity owner = {};
        int r = identity_from_uid(c->uid, &owner);
        if (r >= 0)
                r = remove_path_as(&owner, c->path);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to delete checkpoint %s at %s: %s", c->id, c->path,
                                               strerror(-r));
        r = jobstore_delete_checkpoint(m->store, c->id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to forget checkpoint %s: %s", c->id, strerror(-r));
        log_ctx(LOG_INFO,
                LOG_CTX(.message_id = MESSAGE_ID_CHECKPOINT_REMOVED, .job = c->job, .checkpoint = c->id),
                "Deleted checkpoint %s (%s).", c->id, c->path);

        Job *j = c->job ? manager_get_job(m, c->job) : NULL;
        if (j && streq_ptr(j->last_checkpoint_id, c->id)) {
                CheckpointRecord *list = NULL;
                size_t n = 0;
                if (jobstore_list_checkpoints(m->store, j->id, &list, &n) >= 0) {
                        if (n > 0)
                                job_set_last_checkpoint(j, list[0].id, list[0].time_usec, list[0].size);
                        else {
                                free(j->last_checkpoint_id);
                                j->last_checkpoint_id = NULL;
                                j->last_checkpoint_usec = j->last_checkpoint_size = 0;
                                job_send_changed(j, "LastCheckpoint", "LastCheckpointTime", "LastCheckpointSize", NULL);
                        }
                }
                checkpoint_records_free(list, n);
        }
        return 0;
}

int job_delete(Job *j, bool with_checkpoints, sd_bus_error *error) {
        Manager *m = j->manager;
        if (with_checkpoints) {
                CheckpointRecord *list = NULL;
                size_t n = 0;
                int r = jobstore_list_checkpoints(m->store, j->id, &list, &n);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = checkpoint_delete(m, &list[i], error);
                checkpoint_records_free(list, n);
                if (r < 0)
                        return r;
        }
        int r = jobstore_delete_job(m->store, j->id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to delete job %s from the job store: %s", j->id,
                                               strerror(-r));
        log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_JOB_REMOVED, .job = j->id), "Deleted job %s.", j->id);
        job_send_removed(j);
        job_free(j);
        return 0;
}

int manager_cleanup_staging(Manager *m) {
        StagingRecord *list = NULL;
        size_t n = 0;
        int r = jobstore_list_staging(m->store, &list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(identity_done) Identity owner = {};
                _cleanup_free_ char *path = path_join(list[i].dir, list[i].name);
                if (path && identity_from_uid(list[i].uid, &owner) >= 0 && remove_path_as(&owner, path) >= 0)
                        log_info("Removed %s, left by an interrupted dump.", path);
                (void) jobstore_remove_staging(m->store, list[i].dir, list[i].name);
        }
        staging_records_free(list, n);

        /* Restores extract into staging-* below the state directory; nothing there survives us. */
        DIR *d;
        r = opendir_at(m->state_dir_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, "staging-"))
                        (void) rm_rf_at(dirfd(d), de->d_name);
        closedir(d);
        return 0;
}
