/* SPDX-License-Identifier: Apache-2.0 */
/* SQLite behind the job store. Every write is one statement or one transaction with
 * synchronous=FULL: a record is either there completely after a crash or not at all. */

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "macro.h"

struct JobStore {
        sqlite3 *db;
};

/* Schema migrations: index i takes the store from version i to i + 1. */
static const char *const migrations[] = {
        "CREATE TABLE jobs ("
        "  id TEXT PRIMARY KEY,"
        "  type TEXT NOT NULL,"
        "  uid INTEGER NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  pid_start_time INTEGER NOT NULL,"
        "  state TEXT NOT NULL,"
        "  exit_status INTEGER NOT NULL DEFAULT -1,"
        "  gpu INTEGER NOT NULL DEFAULT 0,"
        "  unit TEXT,"
        "  log_path TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  attach INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE checkpoints ("
        "  id TEXT PRIMARY KEY,"
        "  job TEXT,"
        "  uid INTEGER NOT NULL,"
        "  path TEXT NOT NULL,"
        "  time_usec INTEGER NOT NULL,"
        "  size INTEGER NOT NULL,"
        "  compression TEXT NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  metadata_checksum TEXT);"
        "CREATE INDEX checkpoints_by_job ON checkpoints(job, time_usec);"
        "CREATE TABLE staging ("
        "  dir TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  uid INTEGER NOT NULL,"
        "  PRIMARY KEY (dir, name));",
        /* 2: attached jobs' pipes, as CRIU names them, so a restore can replace them */
        ("ALTER TABLE jobs ADD COLUMN attach_in_key TEXT;"
         "ALTER TABLE jobs ADD COLUMN attach_out_key TEXT;"),
        /* 3: a dump that stops the job was recorded, the job is about to be halted */
        "ALTER TABLE jobs ADD COLUMN halt_pending INTEGER NOT NULL DEFAULT 0;",
};

static int sqlite_to_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        default:
                return -EIO;
        }
}

static int exec_sql(JobStore *s, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK) {
                log_error("Job store: %s", err ?: sqlite3_errstr(rc));
                sqlite3_free(err);
                return sqlite_to_errno(rc);
        }
        return 0;
}

int jobstore_begin(JobStore *s) {
        return exec_sql(s, "BEGIN IMMEDIATE;");
}

int jobstore_commit(JobStore *s) {
        return exec_sql(s, "COMMIT;");
}

void jobstore_rollback(JobStore *s) {
        (void) exec_sql(s, "ROLLBACK;");
}

static int migrate(JobStore *s) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);
        int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);

        if (version > (int) ELEMENTSOF(migrations)) {
                log_error("The job store was written by a newer cedana (schema %i, this one knows %zu).", version,
                          ELEMENTSOF(migrations));
                return -EPROTONOSUPPORT;
        }
        for (size_t i = (size_t) version; i < ELEMENTSOF(migrations); i++) {
                char sql[64];
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu;", i + 1);
                int r = jobstore_begin(s);
                if (r >= 0)
                        r = exec_sql(s, migrations[i]);
                if (r >= 0)
                        r = exec_sql(s, sql);
                if (r >= 0)
                        r = jobstore_commit(s);
                if (r < 0) {
                        jobstore_rollback(s);
                        return r;
                }
                log_debug("Job store migrated to schema %zu.", i + 1);
        }
        return 0;
}

int jobstore_open(int dir_fd, JobStore **ret) {
        char path[64];
        /* SQLite wants a path; the directory fd pins the directory we checked. */
        snprintf(path, sizeof(path), "/proc/self/fd/%i/" JOBSTORE_FILENAME, dir_fd);
        JobStore *s = calloc(1, sizeof(JobStore));
        if (!s)
                return -ENOMEM;
        int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 NULL);
        if (rc != SQLITE_OK) {
                log_error("Failed to open the job store: %s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                jobstore_free(s);
                return sqlite_to_errno(rc);
        }
        (void) sqlite3_busy_timeout(s->db, 5000);
        int r = exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
        if (r >= 0)
                r = migrate(s);
        if (r < 0) {
                jobstore_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

JobStore *jobstore_free(JobStore *s) {
        if (!s)
                return NULL;
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
}

static void finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int prepare(JobStore *s, const char *sql, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK) {
                log_error("Job store: %s", sqlite3_errmsg(s->db));
                return sqlite_to_errno(rc);
        }
        return 0;
}

static int step_done(JobStore *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return 0;
        if ((rc & 0xff) != SQLITE_CONSTRAINT)
                log_error("Job store: %s", sqlite3_errmsg(s->db));
        return sqlite_to_errno(rc) ?: -EIO;
}

static void bind_text(sqlite3_stmt *st, int i, const char *t) {
        if (t)
                sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

static char *column_strdup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? strdup((const char *) t) : NULL;
}

int jobstore_save_job(JobStore *s, const Job *j) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "INSERT INTO jobs (id, type, uid, pid, pid_start_time, state, exit_status, gpu, unit, "
                        "log_path, created_usec, attach, attach_in_key, attach_out_key, halt_pending) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                        "ON CONFLICT(id) DO UPDATE SET type = ?2, uid = ?3, pid = ?4, pid_start_time = ?5, "
                        "state = ?6, exit_status = ?7, gpu = ?8, unit = ?9, log_path = ?10, attach = ?12, "
                        "attach_in_key = ?13, attach_out_key = ?14, halt_pending = ?15",
                        &st);
        if (r < 0)
                return r;
        bind_text(st, 1, j->id);
        bind_text(st, 2, j->type);
        sqlite3_bind_int64(st, 3, j->uid);
        sqlite3_bind_int64(st, 4, j->pid);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) j->pid_start_time);
        bind_text(st, 6, job_state_to_string(j->state));
        sqlite3_bind_int(st, 7, j->exit_status);
        sqlite3_bind_int(st, 8, j->gpu);
        bind_text(st, 9, j->unit);
        bind_text(st, 10, j->log_path);
        sqlite3_bind_int64(st, 11, (sqlite3_int64) j->created_usec);
        sqlite3_bind_int(st, 12, j->attach);
        bind_text(st, 13, j->attach_in_key);
        bind_text(st, 14, j->attach_out_key);
        sqlite3_bind_int(st, 15, j->halt_pending);
        return step_done(s, st);
}

int jobstore_delete_job(JobStore *s, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM jobs WHERE id = ?1", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, id);
        return step_done(s, st);
}

int jobstore_load_jobs(JobStore *s, int (*f)(Job *j, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "SELECT id, type, uid, pid, pid_start_time, state, exit_status, gpu, unit, log_path, "
                        "created_usec, attach, attach_in_key, attach_out_key, halt_pending FROM jobs "
                        "ORDER BY created_usec",
                        &st);
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                Job *j = calloc(1, sizeof(Job));
                if (!j)
                        return -ENOMEM;
                j->pidfd = j->attach_in_fd = j->attach_out_fd = j->attach_log_fd = -EBADF;
                j->id = column_strdup(st, 0);
                j->type = column_strdup(st, 1);
                j->uid = (uid_t) sqlite3_column_int64(st, 2);
                j->pid = (pid_t) sqlite3_column_int64(st, 3);
                j->pid_start_time = (uint64_t) sqlite3_column_int64(st, 4);
                const char *state = (const char *) sqlite3_column_text(st, 5);
                j->state = job_state_from_string(state);
                if (j->state < 0)
                        j->state = JOB_UNKNOWN;
                j->exit_status = sqlite3_column_int(st, 6);
                j->gpu = sqlite3_column_int(st, 7);
                j->unit = column_strdup(st, 8);
                j->log_path = column_strdup(st, 9);
                j->created_usec = (uint64_t) sqlite3_column_int64(st, 10);
                j->attach = sqlite3_column_int(st, 11);
                j->attach_in_key = column_strdup(st, 12);
                j->attach_out_key = column_strdup(st, 13);
                j->halt_pending = sqlite3_column_int(st, 14);
                if (!j->id || !j->type) {
                        job_free(j);
                        return -ENOMEM;
                }
                r = f(j, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

void checkpoint_record_done(CheckpointRecord *c) {
        free(c->id);
        free(c->job);
        free(c->path);
        free(c->compression);
        free(c->metadata_checksum);
        *c = (CheckpointRecord) {};
}

void checkpoint_records_free(CheckpointRecord *c, size_t n) {
        for (size_t i = 0; i < n; i++)
                checkpoint_record_done(&c[i]);
        free(c);
}

int jobstore_add_checkpoint(JobStore *s, const CheckpointRecord *c) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "INSERT INTO checkpoints (id, job, uid, path, time_usec, size, compression, pid, "
                        "metadata_checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        &st);
        if (r < 0)
                return r;
        bind_text(st, 1, c->id);
        bind_text(st, 2, c->job);
        sqlite3_bind_int64(st, 3, c->uid);
        bind_text(st, 4, c->path);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) c->time_usec);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) c->size);
        bind_text(st, 7, c->compression);
        sqlite3_bind_int64(st, 8, c->pid);
        bind_text(st, 9, c->metadata_checksum);
        return step_done(s, st);
}

#define CHECKPOINT_COLUMNS "id, job, uid, path, time_usec, size, compression, pid, metadata_checksum"

static int read_checkpoint(sqlite3_stmt *st, CheckpointRecord *c) {
        *c = (CheckpointRecord) {
                .id = column_strdup(st, 0),
                .job = column_strdup(st, 1),
                .uid = (uid_t) sqlite3_column_int64(st, 2),
                .path = column_strdup(st, 3),
                .time_usec = (uint64_t) sqlite3_column_int64(st, 4),
                .size = (uint64_t) sqlite3_column_int64(st, 5),
                .compression = column_strdup(st, 6),
                .pid = (pid_t) sqlite3_column_int64(st, 7),
                .metadata_checksum = column_strdup(st, 8),
        };
        if (!c->id || !c->path || !c->compression) {
                checkpoint_record_done(c);
                return -ENOMEM;
        }
        return 0;
}

int jobstore_get_checkpoint(JobStore *s, const char *id, CheckpointRecord *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints WHERE id = ?1", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc);
        return read_checkpoint(st, ret);
}

int jobstore_find_checkpoint_by_checksum(JobStore *s, const char *checksum, uid_t uid, CheckpointRecord *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints WHERE metadata_checksum = ?1 AND uid = ?2",
                        &st);
        if (r < 0)
                return r;
        bind_text(st, 1, checksum);
        sqlite3_bind_int64(st, 2, uid);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc);
        return read_checkpoint(st, ret);
}

int jobstore_list_checkpoints(JobStore *s, const char *job, CheckpointRecord **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        job ? "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints WHERE job = ?1 ORDER BY time_usec DESC, rowid DESC"
                            : "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints ORDER BY time_usec DESC, rowid DESC",
                        &st);
        if (r < 0)
                return r;
        if (job)
                bind_text(st, 1, job);
        CheckpointRecord *list = NULL;
        size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                CheckpointRecord *nl = realloc(list, (n + 1) * sizeof(CheckpointRecord));
                if (!nl) {
                        checkpoint_records_free(list, n);
                        return -ENOMEM;
                }
                list = nl;
                r = read_checkpoint(st, &list[n]);
                if (r < 0) {
                        checkpoint_records_free(list, n);
                        return r;
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                checkpoint_records_free(list, n);
                return sqlite_to_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int jobstore_delete_checkpoint(JobStore *s, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM checkpoints WHERE id = ?1", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, id);
        return step_done(s, st);
}

int jobstore_add_staging(JobStore *s, const char *dir, const char *name, uid_t uid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "INSERT OR REPLACE INTO staging (dir, name, uid) VALUES (?1, ?2, ?3)", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, dir);
        bind_text(st, 2, name);
        sqlite3_bind_int64(st, 3, uid);
        return step_done(s, st);
}

int jobstore_remove_staging(JobStore *s, const char *dir, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM staging WHERE dir = ?1 AND name = ?2", &st);
        if (r < 0)
                return r;
        bind_text(st, 1, dir);
        bind_text(st, 2, name);
        return step_done(s, st);
}

void staging_records_free(StagingRecord *r, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(r[i].dir);
                free(r[i].name);
        }
        free(r);
}

int jobstore_list_staging(JobStore *s, StagingRecord **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT dir, name, uid FROM staging", &st);
        if (r < 0)
                return r;
        StagingRecord *list = NULL;
        size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StagingRecord *nl = realloc(list, (n + 1) * sizeof(StagingRecord));
                if (!nl) {
                        staging_records_free(list, n);
                        return -ENOMEM;
                }
                list = nl;
                list[n] = (StagingRecord) {
                        .dir = column_strdup(st, 0),
                        .name = column_strdup(st, 1),
                        .uid = (uid_t) sqlite3_column_int64(st, 2),
                };
                n++;
                if (!list[n - 1].dir || !list[n - 1].name) {
                        staging_records_free(list, n);
                        return -ENOMEM;
                }
        }
        if (rc != SQLITE_DONE) {
                staging_records_free(list, n);
                return sqlite_to_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}
