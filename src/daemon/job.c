/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs in memory: creation, state changes (saved to the job store and announced on the bus),
 * watching their processes through pidfds, and reconciling them with reality at start-up. */

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "fd-util.h"
#include "job-attach.h"
#include "job-dbus.h"
#include "job.h"
#include "jobstore.h"
#include "persist.h"
#include "schedule.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "message-ids.h"
#include "process.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_RUNNING] = "running", [JOB_HALTED] = "halted",   [JOB_EXITED] = "exited",
        [JOB_FAILED] = "failed",   [JOB_KILLED] = "killed",   [JOB_UNKNOWN] = "unknown",
};

const char *job_state_to_string(JobState s) {
        return s >= 0 && s < _JOB_STATE_MAX ? job_state_table[s] : NULL;
}

JobState job_state_from_string(const char *s) {
        for (JobState i = 0; s && i < _JOB_STATE_MAX; i++)
                if (streq(s, job_state_table[i]))
                        return i;
        return _JOB_STATE_INVALID;
}

uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void job_link(Manager *m, Job *j) {
        j->manager = m;
        LIST_PREPEND(jobs, m->jobs, j);
        m->n_jobs++;
}

int job_alloc(Job **ret) {
        Job *j = calloc(1, sizeof(Job));
        if (!j)
                return -ENOMEM;
        j->pidfd = j->attach_in_fd = j->attach_out_fd = j->attach_log_fd = -EBADF;
        j->exit_status = -1;
        j->state = JOB_UNKNOWN;
        *ret = j;
        return 0;
}

int job_new(Manager *m, uid_t uid, const char *id, Job **ret) {
        Job *j;
        int r = job_alloc(&j);
        if (r < 0)
                return r;
        j->uid = uid;
        j->created_usec = now_realtime_usec();
        if (!(j->id = strdup(id)) || !(j->type = strdup("process"))) {
                job_free(j);
                return -ENOMEM;
        }
        job_link(m, j);
        *ret = j;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        if (j->manager) {
                LIST_REMOVE(jobs, j->manager->jobs, j);
                j->manager->n_jobs--;
        }
        sd_event_source_disable_unref(j->pidfd_source);
        safe_close(j->pidfd);
        job_attach_stop(j, false);
        free(j->attach_scrollback);
        free(j->attach_in_key);
        free(j->attach_out_key);
        free(j->id);
        free(j->type);
        free(j->container_id);
        free(j->runc_root);
        free(j->container_namespace);
        free(j->bundle);
        free(j->unit);
        free(j->log_path);
        free(j->restored_from);
        free(j->last_checkpoint_id);
        free(j->schedule_compression);
        free(j->schedule_dir);
        free(j->schedule_last_result);
        free(j);
        return NULL;
}

void job_sync_units(Job *j) {
        schedule_sync(j);
        persist_sync(j->manager);
}

Job *manager_get_job(Manager *m, uid_t uid, const char *id) {
        LIST_FOREACH(jobs, j, m->jobs)
                if (j->uid == uid && streq(j->id, id))
                        return j;
        return NULL;
}

const char *job_display_name(const Job *j, uid_t viewer) {
        static char buf[64 + 1 + 64 + 1];
        if (j->uid == viewer)
                return j->id;
        struct passwd *pw = getpwuid(j->uid);
        if (pw)
                snprintf(buf, sizeof(buf), "%s/%s", pw->pw_name, j->id);
        else
                snprintf(buf, sizeof(buf), "%u/%s", (unsigned) j->uid, j->id);
        return buf;
}

int job_save(Job *j) {
        int r = jobstore_save_job(j->manager->store, j);
        if (r < 0)
                log_ctx_errno(LOG_ERR, r, LOG_CTX(.job = j->id), "Failed to save job %s: %m", j->id);
        return r;
}

void job_set_state(Job *j, JobState state, int exit_status) {
        if (j->state == state && j->exit_status == exit_status)
                return;
        JobState old = j->state;
        j->state = state;
        j->exit_status = exit_status;
        if (old == JOB_RUNNING && state != JOB_RUNNING)
                j->ended_usec = now_realtime_usec();
        if (state != JOB_RUNNING) {
                j->pidfd_source = sd_event_source_disable_unref(j->pidfd_source);
                j->pidfd = safe_close(j->pidfd);
                /* Its output may still be in the pipe: the pump drains it on its own. Halted
                 * jobs get new pipes when restored. */
                if (!j->attach_source)
                        job_attach_stop(j, true);
        }
        (void) job_save(j);
        job_send_changed(j, "State", "PID", "ExitCode", "ExitSignal", NULL);
        job_sync_units(j);
        if (old == JOB_RUNNING && job_state_is_ended(state)) {
                char how[64] = "";
                if (job_exit_code(j) >= 0)
                        snprintf(how, sizeof(how), " with status %i", job_exit_code(j));
                else if (job_exit_signal(j))
                        snprintf(how, sizeof(how), " by SIG%s", job_exit_signal(j));
                log_ctx(LOG_INFO,
                        LOG_CTX(.message_id = MESSAGE_ID_JOB_EXITED, .job = j->id, .unit = j->unit, .pid = j->pid),
                        "Job %s (PID %i) %s%s.", j->id, (int) j->pid, job_state_to_string(state), how);
        }
}

bool job_state_is_ended(JobState s) {
        return s == JOB_EXITED || s == JOB_FAILED || s == JOB_KILLED;
}

int job_exit_code(const Job *j) {
        return job_state_is_ended(j->state) && j->exit_status >= 0 && WIFEXITED(j->exit_status)
                       ? WEXITSTATUS(j->exit_status) : -1;
}

const char *job_exit_signal(const Job *j) {
        return job_state_is_ended(j->state) && j->exit_status >= 0 && WIFSIGNALED(j->exit_status)
                       ? sigabbrev_np(WTERMSIG(j->exit_status)) : NULL;
}

static JobState state_for_status(int status) {
        if (WIFSIGNALED(status))
                return JOB_KILLED;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? JOB_EXITED : JOB_FAILED;
}

void job_dispatch_exit(Manager *m, pid_t pid, int status) {
        LIST_FOREACH(jobs, j, m->jobs) {
                if (j->pid != pid || j->state != JOB_RUNNING)
                        continue;
                /* A dump that stops the job kills it: the operation decides the state then. */
                if (j->busy)
                        return;
                job_set_state(j, state_for_status(status), status);
                return;
        }
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;
        if (j->busy) {
                /* Checked again when the operation ends. */
                j->pidfd_source = sd_event_source_disable_unref(j->pidfd_source);
                return 0;
        }
        /* If it was our child, SIGCHLD brings the exit status; reap it first. */
        siginfo_t si = {};
        if (syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED | WNOHANG, NULL) == 0 && si.si_pid > 0) {
                int status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
                job_set_state(j, state_for_status(status), status);
        } else
                job_set_state(j, JOB_EXITED, -1);
        return 0;
}

int job_watch(Job *j) {
        j->pidfd_source = sd_event_source_disable_unref(j->pidfd_source);
        j->pidfd = safe_close(j->pidfd);
        int fd = (int) syscall(SYS_pidfd_open, j->pid, 0);
        if (fd < 0)
                return negative_errno();
        j->pidfd = fd;
        int r = sd_event_add_io(j->manager->event, &j->pidfd_source, fd, EPOLLIN, on_pidfd, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(j->pidfd_source, "job-pidfd");
        return 0;
}

/* At start-up: is the stored job's process still the same one? pid and start time together
 * say so; a pid alone could have been recycled while cedanad was not running. */
static void job_reconcile(Job *j) {
        if (j->state != JOB_RUNNING)
                return;
        uint64_t start;
        if (process_start_time(j->pid, &start) < 0 || start != j->pid_start_time) {
                /* Gone: stopped by a dump whose checkpoint was recorded just before cedanad died,
                 * or ended on its own. */
                bool halted = j->halt_pending;
                j->halt_pending = false;
                log_ctx(LOG_NOTICE, LOG_CTX(.job = j->id, .pid = j->pid), "Job %s (PID %i) %s while cedanad was not running.",
                        j->id, (int) j->pid, halted ? "was halted by its dump" : "ended");
                job_set_state(j, halted ? JOB_HALTED : JOB_EXITED, -1);
                return;
        }
        if (j->halt_pending) {
                /* The dump was not finished: CRIU let the process run on. */
                j->halt_pending = false;
                (void) job_save(j);
        }
        if (j->resume_pending) {
                /* Restored and recorded, but cedanad died before it let the tree run. */
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                if (process_tree(j->pid, &pids, &n) >= 0)
                        for (size_t i = 0; i < n; i++)
                                (void) kill(pids[i], SIGCONT);
                j->resume_pending = false;
                (void) job_save(j);
                log_ctx(LOG_NOTICE, LOG_CTX(.job = j->id, .pid = j->pid), "Job %s (PID %i) continued after its restore.",
                        j->id, (int) j->pid);
        }
        int r = job_watch(j);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id), "Failed to watch job %s: %m", j->id);
        if (j->attach) {
                r = job_attach_reclaim(j);
                if (r < 0)
                        log_ctx_errno(LOG_WARNING, r, LOG_CTX(.job = j->id),
                                      "Job %s's pipes could not be taken back from its holder (PID %i): %m. "
                                      "Its output is no longer copied to its log.",
                                      j->id, (int) j->attach_holder);
        }
}

void job_refresh_last_checkpoint(Job *j) {
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter f = { .job = j->id, .job_uid = j->uid };
        if (jobstore_list_checkpoints(j->manager->store, &f, &list, &n) < 0)
                return;
        if (n > 0)
                job_set_last_checkpoint(j, list[0].id, list[0].time_usec, list[0].size);
        else if (j->last_checkpoint_id) {
                j->last_checkpoint_id = mfree(j->last_checkpoint_id);
                j->last_checkpoint_usec = j->last_checkpoint_size = 0;
                job_send_changed(j, "LastCheckpoint", "LastCheckpointTime", "LastCheckpointSize", NULL);
        }
        checkpoint_records_free(list, n);
}

static int load_one(Job *j, void *userdata) {
        Manager *m = userdata;
        job_link(m, j);
        job_refresh_last_checkpoint(j);
        job_reconcile(j);
        return 0;
}

int manager_load_jobs(Manager *m) {
        return jobstore_load_jobs(m->store, load_one, m);
}

#define GPU_RECHECK_USEC (5 * USEC_PER_SEC)

void job_refresh_gpu(Job *j) {
        uint64_t now;
        if (j->state != JOB_RUNNING || sd_event_now(j->manager->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        if (j->gpu_checked_usec != 0 && now < j->gpu_checked_usec + GPU_RECHECK_USEC)
                return;
        j->gpu_checked_usec = now;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (process_tree(j->pid, &pids, &n) < 0)
                return;
        /* Live state: looked at again by the next cedanad, never stored. */
        bool gpu = process_tree_uses_gpu(pids, n) > 0;
        if (gpu == j->gpu)
                return;
        j->gpu = gpu;
        job_send_changed(j, "GPU", NULL);
}

void job_set_last_checkpoint(Job *j, const char *id, uint64_t usec, uint64_t size) {
        char *c = strdup(id);
        if (!c)
                return;
        free(j->last_checkpoint_id);
        j->last_checkpoint_id = c;
        j->last_checkpoint_usec = usec;
        j->last_checkpoint_size = size;
        job_send_changed(j, "LastCheckpoint", "LastCheckpointTime", "LastCheckpointSize", NULL);
}
