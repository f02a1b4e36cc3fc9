/* SPDX-License-Identifier: Apache-2.0 */
/* Run and Manage as operations: a job's process is put into its scope before it runs a single
 * instruction of the user's program (the child waits on a pipe until systemd has moved it).
 * Also signalling and forgetting jobs. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "build-config.h"
#include "bus-error.h"
#include "bus-options.h"
#include "fd-util.h"
#include "job-attach.h"
#include "job-dbus.h"
#include "job-log.h"
#include "job-run.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "naming.h"
#include "names.h"
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

/* What execve() takes in practice: more is refused before anything is started. */
#define RUN_ARGS_BYTES_MAX (UINT64_C(1) << 20)

int run_args_validate(Manager *m, RunArgs *a, char **argv, sd_bus_error *error) {
        if (strv_length(argv) == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No command given to run.");
        uint64_t bytes = 0;
        STRV_FOREACH(s, argv) {
                if (s == argv && isempty(*s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The command is empty.");
                bytes += strlen(*s) + 1;
        }
        STRV_FOREACH(e, a->env) {
                if (!env_entry_is_valid(*e))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Environment entry '%.64s' is not KEY=VALUE.", *e);
                bytes += strlen(*e) + 1;
        }
        if (bytes > RUN_ARGS_BYTES_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The command line and environment are longer than %" PRIu64 " bytes.",
                                         RUN_ARGS_BYTES_MAX);
        if (a->name && !job_name_is_valid(a->name))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%.64s' is not a valid job name: use letters, digits, '.', '_' and '-'.", a->name);
        if (a->cwd && !path_is_normalized(a->cwd))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Working directory '%.64s' must be an absolute path without '.' or '..'.", a->cwd);
        if (a->log && !path_is_normalized(a->log))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Log file '%.64s' must be an absolute path without '.' or '..'.", a->log);
        if (a->tty && !a->attach)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option 'tty' needs 'attach'.");
        /* The job writes to it, not cedanad: any file system will do. */
        if (a->log_fd >= 0)
                return bus_check_output_fd(a->log_fd, "log_fd", false, error);
        return 0;
}

/* A Run in progress: the child exists and waits; the scope is being made. */
typedef struct RunContext {
        int sync_fd; /* closing it without writing makes the child give up */
        int err_fd;  /* the child's exec errno, or EOF once it executed */
        sd_event_source *err_source;
        char *command;
        AttachPipes pipes; /* with attach */
        bool started;
} RunContext;

static void run_free(Operation *op) {
        RunContext *c = op->userdata;
        if (!c)
                return;
        scope_cancel(op->manager, op);
        Job *j = op->job;
        if (!c->started && j) {
                /* Never ran a line of the user's program: it goes, and so does the job. */
                if (j->pid > 0)
                        (void) kill(j->pid, SIGKILL);
                op->job = NULL;
                job_log_remove(j);
                job_free(j);
        }
        sd_event_source_disable_unref(c->err_source);
        safe_close(c->sync_fd);
        safe_close(c->err_fd);
        free(c->command);
        attach_pipes_done(&c->pipes);
        free(c);
}

static int on_exec_result(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Operation *op = userdata;
        RunContext *c = op->userdata;
        Job *j = op->job;
        int child_errno = 0;
        ssize_t n = read(fd, &child_errno, sizeof(child_errno));
        if (n > 0) {
                bool missing = n == sizeof(int) && child_errno == ENOENT;
                _cleanup_free_ char *msg = NULL;
                if (missing && !strchr(c->command, '/'))
                        (void) asprintf(&msg, "Command '%s' was not found in your PATH.", c->command);
                else
                        (void) asprintf(&msg, "Failed to start '%s': %s.", c->command, strerror(child_errno));
                operation_fail(op, missing ? CEDANA_E_NO_SUCH_FILE : -child_errno, msg);
                return 0;
        }
        /* EOF: the exec happened (the pipe is O_CLOEXEC in the child). */
        c->started = true;
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
        (void) sd_bus_reply_method_return(op->call, "su", j->id, (uint32_t) j->pid);
        operation_free(op);
        return 0;
}

static void on_run_scope(Manager *m, int error, const char *message, void *userdata) {
        Operation *op = userdata;
        RunContext *c = op->userdata;
        if (error < 0) {
                operation_fail(op, error, message);
                return;
        }
        /* In the scope now: let it exec. */
        char go = 'g';
        int r = loop_write(c->sync_fd, &go, 1);
        c->sync_fd = safe_close(c->sync_fd);
        if (r >= 0)
                r = sd_event_add_io(m->event, &c->err_source, c->err_fd, EPOLLIN, on_exec_result, op);
        if (r < 0)
                operation_fail(op, r, NULL);
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
        /* A pty's slave becomes the controlling terminal of the job's new session: Ctrl-C,
         * Ctrl-Z and window size changes reach its foreground process group. */
        if (a->tty && ioctl(stdio_in, TIOCSCTTY, 0) < 0)
                goto fail;

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
        /* execvpe() searches the PATH of this process, cedanad's: the command is looked up in the
         * job's own PATH, the caller's, as the caller's shell would (none: execvpe's default). */
        if (clearenv() != 0)
                goto fail;
        STRV_FOREACH(kv, a->env)
                if (startswith(*kv, "PATH=") && setenv("PATH", *kv + 5, 1) < 0)
                        goto fail;
        execvpe(argv[0], argv, a->env ?: (char *[]) { NULL });
fail:
        e = errno;
        (void) loop_write(err_fd, &e, sizeof(e));
        _exit(127);
}

/* Where the job's output goes: the caller's file, or a fresh log of the job's own. */
static int open_output(Manager *m, Job *j, RunArgs *a, const Identity *caller, int *ret_fd, sd_bus_error *error) {
        if (a->log_fd >= 0) {
                *ret_fd = TAKE_FD(a->log_fd);
                j->log_path = a->log ? strdup(a->log) : NULL;
                if (!j->log_path)
                        (void) fd_get_path(*ret_fd, &j->log_path);
                return 0;
        }
        if (a->log) /* opened by the child, as the caller */
                return (j->log_path = strdup(a->log)) ? 0 : -ENOMEM;
        int r = job_log_create(j, caller, ret_fd);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to create the job's log in %s: %s", m->log_dir, strerror(-r));
        return 0;
}

int job_run_start(Manager *m, sd_bus_message *call, const Identity *caller, char **argv, RunArgs *a,
                  sd_bus_error *error) {
        _cleanup_(operation_freep) Operation *op = NULL;
        int r = operation_new(m, OPERATION_RUN, call, caller->uid, error, &op);
        if (r < 0)
                return r;
        RunContext *c = calloc(1, sizeof(RunContext));
        if (!c)
                return -ENOMEM;
        c->sync_fd = c->err_fd = -EBADF;
        c->pipes = (AttachPipes) ATTACH_PIPES_NULL;
        op->userdata = c;
        op->on_free = run_free;
        if (!(c->command = strv_join(argv, " ")))
                return -ENOMEM;

        _cleanup_free_ char *name = NULL;
        r = names_pick_job(m, caller->uid, a->name, &name, error);
        if (r < 0)
                return r;
        Job *j;
        r = job_new(m, caller->uid, name, &j);
        if (r < 0)
                return r;
        operation_set_job(op, j);

        _cleanup_close_ int log_fd = -EBADF;
        _cleanup_close_pair_ int sync_pipe[2] = { -EBADF, -EBADF }, err_pipe[2] = { -EBADF, -EBADF };
        r = open_output(m, j, a, caller, &log_fd, error);
        if (r < 0)
                return r;
        r = scope_name_for_job(j->uid, j->id, &j->unit);
        if (r < 0)
                return r;
        if (a->attach) {
                /* The job's output goes through cedanad, which appends it to the log. */
                r = a->tty ? attach_pty_new(caller->uid, a->tty_rows, a->tty_cols, &c->pipes)
                           : attach_pipes_new(&c->pipes);
                if (r < 0)
                        return r;
                log_fd = safe_close(log_fd);
        }
        if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0)
                return negative_errno();

        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                run_child(caller, argv, a, c->pipes.job_stdin, a->attach ? c->pipes.job_stdout : log_fd, sync_pipe[0],
                          err_pipe[1]);

        c->pipes.job_stdin = safe_close(c->pipes.job_stdin);
        c->pipes.job_stdout = safe_close(c->pipes.job_stdout);
        j->pid = pid;
        pid_t pids[2] = { pid, 0 };
        size_t n_pids = 1;
        if (a->attach) {
                /* Its pipes outlive cedanad: the holder goes into the job's scope with it. */
                r = attach_holder_spawn(&c->pipes);
                if (r < 0)
                        return bus_error_setf(error, r, "Failed to start the holder of job %s's pipes: %s", j->id,
                                              strerror(-r));
                pids[n_pids++] = c->pipes.holder;
        }
        c->sync_fd = TAKE_FD(sync_pipe[1]);
        c->err_fd = TAKE_FD(err_pipe[0]);
        if (!m->bus) {
                /* No systemd: the job runs unscoped. */
                j->unit = mfree(j->unit);
                on_run_scope(m, 0, NULL, TAKE_PTR(op));
                return 1;
        }
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "cedana job %s: %s", j->id, c->command) < 0)
                return -ENOMEM;
        r = scope_start(m, j->unit, desc, pids, n_pids, on_run_scope, op);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to create scope %s: %s", j->unit, strerror(-r));
        TAKE_PTR(op);
        return 1;
}

static void manage_free(Operation *op) {
        scope_cancel(op->manager, op);
        if (op->userdata && op->job) {
                /* Not adopted after all. */
                Job *j = op->job;
                op->job = NULL;
                job_free(j);
        }
}

static void on_manage_scope(Manager *m, int error, const char *message, void *userdata) {
        Operation *op = userdata;
        Job *j = op->job;
        if (error < 0) {
                operation_fail(op, error, message);
                return;
        }
        op->userdata = NULL; /* adopted: the job stays */
        (void) job_watch(j);
        job_set_state(j, JOB_RUNNING, -1);
        job_announce(j);
        if (j->container_id)
                log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_JOB_STARTED, .job = j->id, .pid = j->pid),
                        "Adopted %s container %s (PID %i) as job %s.", j->type, j->container_id, (int) j->pid, j->id);
        else
                log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_JOB_STARTED, .job = j->id, .unit = j->unit, .pid = j->pid),
                        "Adopted process %i as job %s.", (int) j->pid, j->id);
        (void) sd_bus_reply_method_return(op->call, "s", j->id);
        operation_free(op);
}

static int strdup_or_null(char **target, const char *s) {
        return !s || (*target = strdup(s)) ? 0 : -ENOMEM;
}

int job_manage(Manager *m, sd_bus_message *call, uid_t caller, pid_t pid, const char *name,
               const JobContainer *container, sd_bus_error *error) {
        ProcessInfo p;
        _cleanup_close_ int pidfd = -EBADF;
        int r = process_open(pid, &pidfd, &p);
        if (r < 0)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Process %i does not exist.", (int) pid);
        LIST_FOREACH(jobs, o, m->jobs)
                if (o->state == JOB_RUNNING && o->pid == pid && o->pid_start_time == p.start_time)
                        return container ? bus_error_setf(error, CEDANA_E_EXISTS, "Container %s is job %s already.",
                                                          container->id, job_display_name(o, caller))
                                         : bus_error_setf(error, CEDANA_E_EXISTS, "Process %i is job %s already.",
                                                          (int) pid, job_display_name(o, caller));
        uid_t owner = container ? 0 : p.uid[0];
        _cleanup_(operation_freep) Operation *op = NULL;
        r = operation_new(m, OPERATION_MANAGE, call, caller, error, &op);
        if (r < 0)
                return r;
        _cleanup_free_ char *n = NULL;
        r = names_pick_job(m, owner, name, &n, error);
        if (r < 0)
                return r;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n_pids = 0;
        r = process_tree(pid, &pids, &n_pids);
        if (r < 0)
                return r;
        Job *j;
        r = job_new(m, owner, n, &j);
        if (r < 0)
                return r;
        operation_set_job(op, j);
        op->userdata = j; /* set: the job goes with the operation unless adopted */
        op->on_free = manage_free;
        j->pid = pid;
        j->pid_start_time = p.start_time;
        j->gpu = process_tree_uses_gpu(pids, n_pids) > 0;
        if (container) {
                /* The runtime keeps the container's cgroups: no scope of ours. */
                free(j->type);
                j->type = NULL;
                if (strdup_or_null(&j->type, container->type) < 0 || strdup_or_null(&j->container_id, container->id) < 0 ||
                    strdup_or_null(&j->bundle, container->bundle) < 0 ||
                    strdup_or_null(&j->runc_root, container->runc_root) < 0 ||
                    strdup_or_null(&j->container_namespace, container->namespace) < 0)
                        return -ENOMEM;
                on_manage_scope(m, 0, NULL, TAKE_PTR(op));
                return 1;
        }
        r = scope_name_for_job(j->uid, j->id, &j->unit);
        if (r < 0)
                return r;
        if (!m->bus) {
                j->unit = mfree(j->unit);
                on_manage_scope(m, 0, NULL, TAKE_PTR(op));
                return 1;
        }
        _cleanup_free_ char *desc = NULL;
        if (asprintf(&desc, "cedana job %s (adopted PID %i)", j->id, (int) pid) < 0)
                return -ENOMEM;
        r = scope_start(m, j->unit, desc, pids, n_pids, on_manage_scope, op);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to create a scope for process %i: %s", (int) pid, strerror(-r));
        TAKE_PTR(op);
        return 1;
}

int job_kill(Job *j, int sig, sd_bus_error *error) {
        if (j->state != JOB_RUNNING)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Job %s is not running (%s).", j->id,
                                      job_state_to_string(j->state));
        if (j->unit && j->manager->bus) {
                int r = scope_kill(j->manager, j->unit, sig, error);
                if (r >= 0 || !sd_bus_error_has_name(error, "org.freedesktop.systemd1.NoSuchUnit"))
                        return r;
                sd_bus_error_free(error);
        }
        if (j->pidfd < 0)
                return bus_error_setf(error, CEDANA_E_NO_SUCH_PROCESS, "Job %s has no process to signal.", j->id);
        if (syscall(SYS_pidfd_send_signal, j->pidfd, sig, NULL, 0) < 0) {
                int r = negative_errno();
                return bus_error_setf(error, r, "Failed to signal job %s: %s", j->id, strerror(-r));
        }
        return 0;
}

int job_delete(Job *j, sd_bus_error *error) {
        Manager *m = j->manager;
        int r = jobstore_delete_job(m->store, j->uid, j->id);
        if (r < 0)
                return bus_error_setf(error, r, "Failed to delete job %s from the job store: %s", j->id, strerror(-r));
        /* Its log goes with it: a later job of that name starts a fresh one. */
        job_log_remove(j);
        log_ctx(LOG_INFO, LOG_CTX(.message_id = MESSAGE_ID_JOB_REMOVED, .job = j->id), "Deleted job %s.", j->id);
        job_send_removed(j);
        job_free(j);
        return 0;
}
