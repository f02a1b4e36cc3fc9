/* SPDX-License-Identifier: Apache-2.0 */
/* The job store: jobs, checkpoint records (each through intent, synced and complete), and
 * restores in flight, in SQLite (WAL, full sync), so that cedanad can be restarted, idle-exit or
 * be killed at any instant and the next start finds disk and store in agreement. Names are per
 * owner: (uid, name) is a job's or a checkpoint's key. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "job.h"

#define JOBSTORE_FILENAME "cedana.db"

typedef struct JobStore JobStore;

typedef enum CheckpointState {
        CHECKPOINT_INTENT,   /* reserved, being written: nothing of it is published */
        CHECKPOINT_SYNCED,   /* complete and durable, maybe published (dev/ino say which) */
        CHECKPOINT_COMPLETE, /* published and recorded */
        _CHECKPOINT_STATE_MAX,
        _CHECKPOINT_STATE_INVALID = -EINVAL,
} CheckpointState;

const char *checkpoint_state_to_string(CheckpointState s);
CheckpointState checkpoint_state_from_string(const char *s);

typedef struct CheckpointRecord {
        uid_t uid;  /* owner: who asked for the dump */
        char *id;   /* the checkpoint's name, unique for its owner */
        CheckpointState state;
        char *job;  /* NULL for a process dump */
        uid_t job_uid;
        char *path; /* absolute path of the directory or archive */
        /* while in flight: names in path's directory to remove if it never completes, and the
         * uid of the dumped process, which owns the staging directory while CRIU writes */
        char *staging_name;
        char *partial_name;
        uid_t process_uid;
        uint64_t time_usec;
        uint64_t size;
        char *compression;
        pid_t pid;
        /* "sha256:<hex>" of its cedana.json and the inode it was published as: what a restore
         * of this record must find (earlier cedana versions recorded neither) */
        char *digest;
        uint64_t dev, ino;
        bool scheduled; /* taken by the job's schedule, which keeps only the newest few */
} CheckpointRecord;

void checkpoint_record_done(CheckpointRecord *c);
void checkpoint_records_free(CheckpointRecord *c, size_t n);
/* Whether the record binds its checkpoint to content (a SHA-256 digest and an inode). */
bool checkpoint_record_is_bound(const CheckpointRecord *c);

typedef struct RestoreRecord {
        int64_t rowid;
        uid_t uid;    /* the restored job's owner */
        char *job;
        char *unit;   /* its scope, once asked for */
        char *pids;   /* "PID:STARTTIME ..." of the tree, once it exists */
} RestoreRecord;

void restore_record_done(RestoreRecord *r);
void restore_records_free(RestoreRecord *r, size_t n);

/* Opens (creating or migrating) dir_fd/cedana.db. */
int jobstore_open(int dir_fd, JobStore **ret);
JobStore *jobstore_free(JobStore *s);

/* Groups the writes in between into one transaction (one fsync, all or nothing). */
int jobstore_begin(JobStore *s);
int jobstore_commit(JobStore *s);
void jobstore_rollback(JobStore *s);

/* Inserts or updates j (by uid and id). */
int jobstore_save_job(JobStore *s, const Job *j);
int jobstore_delete_job(JobStore *s, uid_t uid, const char *id);
/* Calls f for every stored job, oldest first, with a Job filled from the row (the callee takes
 * ownership of it). */
int jobstore_load_jobs(JobStore *s, int (*f)(Job *j, void *userdata), void *userdata);

/* -EEXIST when uid has a checkpoint of that id already. */
int jobstore_add_checkpoint(JobStore *s, const CheckpointRecord *c);
/* Writes state, path, digest, dev, ino, time, size and the staging names of (c->uid, c->id). */
int jobstore_update_checkpoint(JobStore *s, const CheckpointRecord *c);
/* -ENOENT when unknown. */
int jobstore_get_checkpoint(JobStore *s, uid_t uid, const char *id, CheckpointRecord *ret);

typedef struct CheckpointFilter {
        const char *job; /* with job_uid: that job's */
        uid_t job_uid;
        bool by_uid;     /* with uid: that owner's */
        uid_t uid;
        const char *id;  /* that id, of any owner */
        bool incomplete; /* those in flight (intent, synced) instead of complete ones */
        bool scheduled;  /* only those a schedule took */
} CheckpointFilter;
/* Newest first. */
int jobstore_list_checkpoints(JobStore *s, const CheckpointFilter *f, CheckpointRecord **ret, size_t *ret_n);
int jobstore_delete_checkpoint(JobStore *s, uid_t uid, const char *id);

int jobstore_add_restore(JobStore *s, uid_t uid, const char *job, int64_t *ret_rowid);
int jobstore_update_restore(JobStore *s, int64_t rowid, const char *job, const char *unit, const char *pids);
int jobstore_delete_restore(JobStore *s, int64_t rowid);
int jobstore_list_restores(JobStore *s, RestoreRecord **ret, size_t *ret_n);
