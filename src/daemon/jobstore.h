/* SPDX-License-Identifier: Apache-2.0 */
/* The job store: jobs, checkpoint records and in-flight staging names in SQLite (WAL, full
 * sync), so cedanad can be restarted, idle-exit or be killed without losing a record. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "job.h"

#define JOBSTORE_FILENAME "cedana.db"

typedef struct JobStore JobStore;

typedef struct CheckpointRecord {
        char *id;   /* the checkpoint's name, unique in the store */
        char *job;  /* NULL for a process dump */
        uid_t uid;  /* owner: who asked for the dump */
        char *path; /* absolute path of the directory or archive */
        uint64_t time_usec;
        uint64_t size;
        char *compression;
        pid_t pid;
        char *metadata_checksum; /* cedana.json's own checksum: recognises our checkpoints */
} CheckpointRecord;

typedef struct StagingRecord {
        char *dir;  /* the directory holding the staging entries */
        char *name; /* a staging directory or partial archive inside dir */
        uid_t uid;
} StagingRecord;

/* Opens (creating or migrating) dir_fd/cedana.db. */
int jobstore_open(int dir_fd, JobStore **ret);
JobStore *jobstore_free(JobStore *s);

/* Groups the writes in between into one transaction (one fsync, all or nothing). */
int jobstore_begin(JobStore *s);
int jobstore_commit(JobStore *s);
void jobstore_rollback(JobStore *s);

/* Inserts or updates j (by id). */
int jobstore_save_job(JobStore *s, const Job *j);
int jobstore_delete_job(JobStore *s, const char *id);
/* Calls f for every stored job, oldest first, with a Job filled from the row (the callee takes
 * ownership of it). */
int jobstore_load_jobs(JobStore *s, int (*f)(Job *j, void *userdata), void *userdata);

/* -EEXIST when a checkpoint with this id is recorded already. */
int jobstore_add_checkpoint(JobStore *s, const CheckpointRecord *c);
/* -ENOENT when unknown. */
int jobstore_get_checkpoint(JobStore *s, const char *id, CheckpointRecord *ret);
/* job NULL: all; newest first. */
int jobstore_list_checkpoints(JobStore *s, const char *job, CheckpointRecord **ret, size_t *ret_n);
int jobstore_find_checkpoint_by_checksum(JobStore *s, const char *checksum, uid_t uid, CheckpointRecord *ret);
int jobstore_delete_checkpoint(JobStore *s, const char *id);
void checkpoint_record_done(CheckpointRecord *c);
void checkpoint_records_free(CheckpointRecord *c, size_t n);

int jobstore_add_staging(JobStore *s, const char *dir, const char *name, uid_t uid);
int jobstore_remove_staging(JobStore *s, const char *dir, const char *name);
int jobstore_list_staging(JobStore *s, StagingRecord **ret, size_t *ret_n);
void staging_records_free(StagingRecord *r, size_t n);
