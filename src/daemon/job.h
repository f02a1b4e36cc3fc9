/* SPDX-License-Identifier: Apache-2.0 */
/* A managed job: a process tree in its own transient scope, with a state, an owner, a log and
 * checkpoints. Jobs live in the job store; this is their in-memory face while cedanad runs. A
 * job's name is unique among its owner's jobs. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "list.h"

typedef struct Manager Manager;
typedef struct Operation Operation;

typedef enum JobState {
        JOB_RUNNING,
        JOB_HALTED, /* dumped and stopped */
        JOB_EXITED, /* with status 0 */
        JOB_FAILED, /* with another status */
        JOB_KILLED, /* by a signal */
        JOB_UNKNOWN,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

typedef struct Job {
        Manager *manager;
        char *id;
        uid_t uid; /* owner */
        char *type; /* "process", "runc" or "containerd" */
        /* Types "runc" and "containerd": the container its runtime runs as this job (pid is its
         * init; no scope of ours: the runtime keeps its cgroups); for runc its state directory
         * (NULL: its default) and its bundle, for containerd its namespace. */
        char *container_id;
        char *runc_root;
        char *bundle;
        char *container_namespace;
        pid_t pid;
        uint64_t pid_start_time; /* with pid, identifies the process across daemon restarts */
        int pidfd;
        sd_event_source *pidfd_source;
        JobState state;
        int exit_status; /* wait status when we saw it exit, -1 otherwise */
        /* A dump that stops the job was recorded and CRIU is stopping it: if cedanad dies now and
         * the process is gone at the next start, the job is halted, not exited. */
        bool halt_pending;
        /* Restored and recorded, still held stopped: continued at the next start if not now. */
        bool resume_pending;
        bool gpu;
        uint64_t gpu_checked_usec; /* CLOCK_MONOTONIC of the last look at the job's devices */
        char *unit;
        char *log_path;
        char *restored_from; /* the checkpoint it was last restored from, as the restore named it */
        uint64_t created_usec;
        uint64_t ended_usec; /* CLOCK_REALTIME when it stopped running; what store hygiene ages */
        char *last_checkpoint_id;
        uint64_t last_checkpoint_usec;
        uint64_t last_checkpoint_size;
        /* Scheduled checkpoints (schedule.c): every schedule_usec (0: none), with the job left
         * running, keeping the newest schedule_keep of them (0: all); compression and directory
         * NULL for the configured ones; when the last one ended, and how ("" or NULL: none yet,
         * "success", else the reason it failed). */
        uint64_t schedule_usec;
        unsigned schedule_keep;
        char *schedule_compression;
        char *schedule_dir;
        uint64_t schedule_last_usec;
        char *schedule_last_result;
        /* persist.c: checkpointed when the system shuts down, and restored when it boots */
        bool persist;
        bool restore_at_boot; /* halted by that checkpoint: the next boot restores it */
        bool shutdown_tried;  /* in this shutdown, its checkpoint was started (or refused) */
        /* Started with attach: the job's stdin and stdout/stderr are pipes whose other ends
         * cedanad holds, and so does the job's cedana-hold (attach_holder) for whenever cedanad
         * is not running; output is copied to the log and to attached clients. The keys are the
         * pipes as CRIU names them ("pipe:[inode]"): a restore hands the job new pipes in their
         * place, and a starting cedanad takes from the holder only those pipes. */
        bool attach;
        pid_t attach_holder;
        int attach_in_fd;  /* write end of the job's stdin */
        int attach_out_fd; /* read end of the job's stdout and stderr */
        char *attach_in_key;
        char *attach_out_key;
        int attach_log_fd;
        sd_event_source *attach_source;
        struct AttachClient *attach_clients;
        char *attach_scrollback;
        size_t attach_scrollback_len;
        Operation *busy; /* a dump or restore of this job in flight */
        LIST_FIELDS(struct Job, jobs);
} Job;

const char *job_state_to_string(JobState s);
JobState job_state_from_string(const char *s);
/* exited, failed or killed. */
bool job_state_is_ended(JobState s);
/* How an ended job ended: its exit status (else -1), or the signal that killed it ("KILL"; else
 * NULL). Neither is known for a job that ended while cedanad was not running. */
int job_exit_code(const Job *j);
const char *job_exit_signal(const Job *j);

/* A Job with nothing set, not linked to a manager (the job store fills it). */
int job_alloc(Job **ret);
/* A new job of uid's, linked into m. */
int job_new(Manager *m, uid_t uid, const char *id, Job **ret);
Job *job_free(Job *j);
/* uid's job named id, or NULL. */
Job *manager_get_job(Manager *m, uid_t uid, const char *id);
/* Writes the job to the job store. */
int job_save(Job *j);
/* Saves, emits PropertiesChanged, logs exits; stops watching a job that no longer runs. */
void job_set_state(Job *j, JobState state, int exit_status);
/* Brings what follows the job's state outside cedanad in line: its schedule's timer runs while
 * it does, and cedanad holds the shutdown lock while a job to persist runs. */
void job_sync_units(Job *j);
void job_set_last_checkpoint(Job *j, const char *id, uint64_t usec, uint64_t size);
/* The job's newest complete checkpoint again, from the store (after one was deleted). */
void job_refresh_last_checkpoint(Job *j);
/* Looks again whether a running job holds a GPU, at most every few seconds (a job may open
 * one at any time); emits PropertiesChanged when that changed. Not for property getters. */
void job_refresh_gpu(Job *j);
/* Watches j->pid through a pidfd: an exit while cedanad runs is noticed at once. */
int job_watch(Job *j);
/* The manager reaped pid with this wait status. */
void job_dispatch_exit(Manager *m, pid_t pid, int status);
/* Loads every job from the store and reconciles it with the running system. */
int manager_load_jobs(Manager *m);
/* "alice/train" for messages about another user's job, else "train"; in a static buffer. */
const char *job_display_name(const Job *j, uid_t viewer);

uint64_t now_realtime_usec(void);
