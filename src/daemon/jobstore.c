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
        /* 4: names per owner; checkpoints recorded through intent, synced and complete, bound to
         * their content; restores in flight; what the staging table tracked becomes intents */
        "CREATE TABLE checkpoints4 ("
        "  uid INTEGER NOT NULL,"
        "  id TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  job TEXT,"
        "  job_uid INTEGER,"
        "  path TEXT NOT NULL,"
        "  staging_name TEXT,"
        "  partial_name TEXT,"
        "  process_uid INTEGER,"
        "  time_usec INTEGER NOT NULL,"
        "  size INTEGER NOT NULL,"
        "  compression TEXT NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  digest TEXT,"
        "  dev INTEGER NOT NULL DEFAULT 0,"
        "  ino INTEGER NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (uid, id));"
        "INSERT INTO checkpoints4 (uid, id, state, job, job_uid, path, time_usec, size, compression, pid, digest)"
        "  SELECT c.uid, c.id, 'complete', c.job, (SELECT j.uid FROM jobs j WHERE j.id = c.job), c.path,"
        "         c.time_usec, c.size, c.compression, c.pid, c.metadata_checksum FROM checkpoints c;"
        "INSERT INTO checkpoints4 (uid, id, state, path, staging_name, process_uid, time_usec, size, compression, pid)"
        "  SELECT uid, '.interrupted-' || rowid, 'intent', dir || '/' || name, name, uid, 0, 0, 'none', 0 FROM staging;"
        "DROP TABLE checkpoints;"
        "DROP TABLE staging;"
        "ALTER TABLE checkpoints4 RENAME TO checkpoints;"
        "CREATE INDEX checkpoints_by_job ON checkpoints(job_uid, job, time_usec);"
        "CREATE TABLE jobs4 ("
        "  uid INTEGER NOT NULL,"
        "  id TEXT NOT NULL,"
        "  type TEXT NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  pid_start_time INTEGER NOT NULL,"
        "  state TEXT NOT NULL,"
        "  exit_status INTEGER NOT NULL DEFAULT -1,"
        "  gpu INTEGER NOT NULL DEFAULT 0,"
        "  unit TEXT,"
        "  log_path TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  ended_usec INTEGER NOT NULL DEFAULT 0,"
        "  attach INTEGER NOT NULL DEFAULT 0,"
        "  attach_in_key TEXT,"
        "  attach_out_key TEXT,"
        "  attach_holder INTEGER NOT NULL DEFAULT 0,"
        "  halt_pending INTEGER NOT NULL DEFAULT 0,"
        "  resume_pending INTEGER NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (uid, id));"
        "INSERT INTO jobs4 (uid, id, type, pid, pid_start_time, state, exit_status, gpu, unit, log_path, created_usec,"
        "                   attach, attach_in_key, attach_out_key, halt_pending)"
        "  SELECT uid, id, type, pid, pid_start_time, state, exit_status, gpu, unit, log_path, created_usec, attach,"
        "         attach_in_key, attach_out_key, halt_pending FROM jobs;"
        "DROP TABLE jobs;"
        "ALTER TABLE jobs4 RENAME TO jobs;"
        "CREATE TABLE restores ("
        "  rowid INTEGER PRIMARY KEY,"
        "  uid INTEGER NOT NULL,"
        "  job TEXT NOT NULL,"
        "  unit TEXT,"
        "  pids TEXT,"
        "  created_usec INTEGER NOT NULL);",
        /* 5: where a restored job came from */
        "ALTER TABLE jobs ADD COLUMN restored_from TEXT;",
        /* 6: container jobs: which container, in which runc root, from which bundle */
        ("ALTER TABLE jobs ADD COLUMN container_id TEXT;"
         "ALTER TABLE jobs ADD COLUMN runc_root TEXT;"
         "ALTER TABLE jobs ADD COLUMN bundle TEXT;"),
        /* 7: scheduled checkpoints, and jobs that outlive a reboot */
        ("ALTER TABLE jobs ADD COLUMN schedule_usec INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE jobs ADD COLUMN schedule_keep INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE jobs ADD COLUMN schedule_compression TEXT;"
         "ALTER TABLE jobs ADD COLUMN schedule_dir TEXT;"
         "ALTER TABLE jobs ADD COLUMN schedule_last_usec INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE jobs ADD COLUMN schedule_last_result TEXT;"
         "ALTER TABLE jobs ADD COLUMN persist INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE jobs ADD COLUMN restore_at_boot INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE checkpoints ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0;"),
        /* 8: containerd container jobs: in which namespace */
        "ALTER TABLE jobs ADD COLUMN container_namespace TEXT;",
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

static const char *const checkpoint_state_table[_CHECKPOINT_STATE_MAX] = {
        [CHECKPOINT_INTENT] = "intent",
        [CHECKPOINT_SYNCED] = "synced",
        [CHECKPOINT_COMPLETE] = "complete",
};

const char *checkpoint_state_to_string(CheckpointState st) {
        return st >= 0 && st < _CHECKPOINT_STATE_MAX ? checkpoint_state_table[st] : NULL;
}

CheckpointState checkpoint_state_from_string(const char *str) {
        for (CheckpointState i = 0; str && i < _CHECKPOINT_STATE_MAX; i++)
                if (streq(str, checkpoint_state_table[i]))
                        return i;
        return _CHECKPOINT_STATE_INVALID;
}

#define JOB_COLUMNS                                                                                         \
        "uid, id, type, pid, pid_start_time, state, exit_status, gpu, unit, log_path, created_usec, ended_usec, " \
        "attach, attach_in_key, attach_out_key, halt_pending, resume_pending, attach_holder, restored_from, "      \
        "container_id, runc_root, bundle, schedule_usec, schedule_keep, schedule_compression, schedule_dir, "     \
        "schedule_last_usec, schedule_last_result, persist, restore_at_boot, container_namespace"

int jobstore_save_job(JobStore *s, const Job *j) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "INSERT OR REPLACE INTO jobs (" JOB_COLUMNS ") VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
                        "?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, j->uid);
        bind_text(st, 2, j->id);
        bind_text(st, 3, j->type);
        sqlite3_bind_int64(st, 4, j->pid);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) j->pid_start_time);
        bind_text(st, 6, job_state_to_string(j->state));
        sqlite3_bind_int(st, 7, j->exit_status);
        sqlite3_bind_int(st, 8, j->gpu);
        bind_text(st, 9, j->unit);
        bind_text(st, 10, j->log_path);
        sqlite3_bind_int64(st, 11, (sqlite3_int64) j->created_usec);
        sqlite3_bind_int64(st, 12, (sqlite3_int64) j->ended_usec);
        sqlite3_bind_int(st, 13, j->attach);
        bind_text(st, 14, j->attach_in_key);
        bind_text(st, 15, j->attach_out_key);
        sqlite3_bind_int(st, 16, j->halt_pending);
        sqlite3_bind_int(st, 17, j->resume_pending);
        sqlite3_bind_int64(st, 18, j->attach_holder);
        bind_text(st, 19, j->restored_from);
        bind_text(st, 20, j->container_id);
        bind_text(st, 21, j->runc_root);
        bind_text(st, 22, j->bundle);
        sqlite3_bind_int64(st, 23, (sqlite3_int64) j->schedule_usec);
        sqlite3_bind_int64(st, 24, j->schedule_keep);
        bind_text(st, 25, j->schedule_compression);
        bind_text(st, 26, j->schedule_dir);
        sqlite3_bind_int64(st, 27, (sqlite3_int64) j->schedule_last_usec);
        bind_text(st, 28, j->schedule_last_result);
        sqlite3_bind_int(st, 29, j->persist);
        sqlite3_bind_int(st, 30, j->restore_at_boot);
        bind_text(st, 31, j->container_namespace);
        return step_done(s, st);
}

int jobstore_delete_job(JobStore *s, uid_t uid, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM jobs WHERE uid = ?1 AND id = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, uid);
        bind_text(st, 2, id);
        return step_done(s, st);
}

int jobstore_load_jobs(JobStore *s, int (*f)(Job *j, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT " JOB_COLUMNS " FROM jobs ORDER BY created_usec", &st);
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                Job *j;
                r = job_alloc(&j);
                if (r < 0)
                        return r;
                j->uid = (uid_t) sqlite3_column_int64(st, 0);
                j->id = column_strdup(st, 1);
                j->type = column_strdup(st, 2);
                j->pid = (pid_t) sqlite3_column_int64(st, 3);
                j->pid_start_time = (uint64_t) sqlite3_column_int64(st, 4);
                j->state = job_state_from_string((const char *) sqlite3_column_text(st, 5));
                if (j->state < 0)
                        j->state = JOB_UNKNOWN;
                j->exit_status = sqlite3_column_int(st, 6);
                j->gpu = sqlite3_column_int(st, 7);
                j->unit = column_strdup(st, 8);
                j->log_path = column_strdup(st, 9);
                j->created_usec = (uint64_t) sqlite3_column_int64(st, 10);
                j->ended_usec = (uint64_t) sqlite3_column_int64(st, 11);
                j->attach = sqlite3_column_int(st, 12);
                j->attach_in_key = column_strdup(st, 13);
                j->attach_out_key = column_strdup(st, 14);
                j->halt_pending = sqlite3_column_int(st, 15);
                j->resume_pending = sqlite3_column_int(st, 16);
                j->attach_holder = (pid_t) sqlite3_column_int64(st, 17);
                j->restored_from = column_strdup(st, 18);
                j->container_id = column_strdup(st, 19);
                j->runc_root = column_strdup(st, 20);
                j->bundle = column_strdup(st, 21);
                j->schedule_usec = (uint64_t) sqlite3_column_int64(st, 22);
                j->schedule_keep = (unsigned) sqlite3_column_int64(st, 23);
                j->schedule_compression = column_strdup(st, 24);
                j->schedule_dir = column_strdup(st, 25);
                j->schedule_last_usec = (uint64_t) sqlite3_column_int64(st, 26);
                j->schedule_last_result = column_strdup(st, 27);
                j->persist = sqlite3_column_int(st, 28);
                j->restore_at_boot = sqlite3_column_int(st, 29);
                j->container_namespace = column_strdup(st, 30);
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
        free(c->staging_name);
        free(c->partial_name);
        free(c->compression);
        free(c->digest);
        *c = (CheckpointRecord) {};
}

void checkpoint_records_free(CheckpointRecord *c, size_t n) {
        for (size_t i = 0; i < n; i++)
                checkpoint_record_done(&c[i]);
        free(c);
}

bool checkpoint_record_is_bound(const CheckpointRecord *c) {
        return c->digest && startswith(c->digest, "sha256:") && c->ino != 0;
}

#define CHECKPOINT_COLUMNS                                                                                \
        "uid, id, state, job, job_uid, path, staging_name, partial_name, process_uid, time_usec, size, " \
        "compression, pid, digest, dev, ino, scheduled"

int jobstore_add_checkpoint(JobStore *s, const CheckpointRecord *c) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "INSERT INTO checkpoints (" CHECKPOINT_COLUMNS ") VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->uid);
        bind_text(st, 2, c->id);
        bind_text(st, 3, checkpoint_state_to_string(c->state));
        bind_text(st, 4, c->job);
        if (c->job)
                sqlite3_bind_int64(st, 5, c->job_uid);
        else
                sqlite3_bind_null(st, 5);
        bind_text(st, 6, c->path);
        bind_text(st, 7, c->staging_name);
        bind_text(st, 8, c->partial_name);
        sqlite3_bind_int64(st, 9, c->process_uid);
        sqlite3_bind_int64(st, 10, (sqlite3_int64) c->time_usec);
        sqlite3_bind_int64(st, 11, (sqlite3_int64) c->size);
        bind_text(st, 12, c->compression);
        sqlite3_bind_int64(st, 13, c->pid);
        bind_text(st, 14, c->digest);
        sqlite3_bind_int64(st, 15, (sqlite3_int64) c->dev);
        sqlite3_bind_int64(st, 16, (sqlite3_int64) c->ino);
        sqlite3_bind_int(st, 17, c->scheduled);
        return step_done(s, st);
}

int jobstore_update_checkpoint(JobStore *s, const CheckpointRecord *c) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "UPDATE checkpoints SET state = ?3, path = ?4, digest = ?5, dev = ?6, ino = ?7, time_usec = ?8, "
                        "size = ?9, staging_name = ?10, partial_name = ?11 WHERE uid = ?1 AND id = ?2",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, c->uid);
        bind_text(st, 2, c->id);
        bind_text(st, 3, checkpoint_state_to_string(c->state));
        bind_text(st, 4, c->path);
        bind_text(st, 5, c->digest);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) c->dev);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) c->ino);
        sqlite3_bind_int64(st, 8, (sqlite3_int64) c->time_usec);
        sqlite3_bind_int64(st, 9, (sqlite3_int64) c->size);
        bind_text(st, 10, c->staging_name);
        bind_text(st, 11, c->partial_name);
        r = step_done(s, st);
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                return -ENOENT;
        return r;
}

static int read_checkpoint(sqlite3_stmt *st, CheckpointRecord *c) {
        *c = (CheckpointRecord) {
                .uid = (uid_t) sqlite3_column_int64(st, 0),
                .id = column_strdup(st, 1),
                .state = checkpoint_state_from_string((const char *) sqlite3_column_text(st, 2)),
                .job = column_strdup(st, 3),
                .job_uid = (uid_t) sqlite3_column_int64(st, 4),
                .path = column_strdup(st, 5),
                .staging_name = column_strdup(st, 6),
                .partial_name = column_strdup(st, 7),
                .process_uid = (uid_t) sqlite3_column_int64(st, 8),
                .time_usec = (uint64_t) sqlite3_column_int64(st, 9),
                .size = (uint64_t) sqlite3_column_int64(st, 10),
                .compression = column_strdup(st, 11),
                .pid = (pid_t) sqlite3_column_int64(st, 12),
                .digest = column_strdup(st, 13),
                .dev = (uint64_t) sqlite3_column_int64(st, 14),
                .ino = (uint64_t) sqlite3_column_int64(st, 15),
                .scheduled = sqlite3_column_int(st, 16),
        };
        if (!c->id || !c->path || !c->compression) {
                checkpoint_record_done(c);
                return -ENOMEM;
        }
        if (c->state < 0)
                c->state = CHECKPOINT_INTENT; /* what we cannot read is finished or removed at start */
        return 0;
}

int jobstore_get_checkpoint(JobStore *s, uid_t uid, const char *id, CheckpointRecord *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints WHERE uid = ?1 AND id = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, uid);
        bind_text(st, 2, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc);
        return read_checkpoint(st, ret);
}

int jobstore_list_checkpoints(JobStore *s, const CheckpointFilter *f, CheckpointRecord **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s,
                        "SELECT " CHECKPOINT_COLUMNS " FROM checkpoints WHERE "
                        "(?1 IS NULL OR (job = ?1 AND job_uid = ?2)) AND (?3 = 0 OR uid = ?4) AND "
                        "(?5 IS NULL OR id = ?5) AND ((?6 = 0) = (state = 'complete')) AND (?7 = 0 OR scheduled = 1) "
                        "ORDER BY time_usec DESC, rowid DESC",
                        &st);
        if (r < 0)
                return r;
        bind_text(st, 1, f ? f->job : NULL);
        sqlite3_bind_int64(st, 2, f ? f->job_uid : 0);
        sqlite3_bind_int(st, 3, f && f->by_uid);
        sqlite3_bind_int64(st, 4, f ? f->uid : 0);
        bind_text(st, 5, f ? f->id : NULL);
        sqlite3_bind_int(st, 6, f && f->incomplete);
        sqlite3_bind_int(st, 7, f && f->scheduled);
        CheckpointRecord *list = NULL;
        size_t n = 0, allocated = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (!GREEDY_REALLOC(list, allocated, n + 1)) {
                        checkpoint_records_free(list, n);
                        return -ENOMEM;
                }
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

int jobstore_delete_checkpoint(JobStore *s, uid_t uid, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM checkpoints WHERE uid = ?1 AND id = ?2", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, uid);
        bind_text(st, 2, id);
        return step_done(s, st);
}

void restore_record_done(RestoreRecord *r) {
        free(r->job);
        free(r->unit);
        free(r->pids);
        *r = (RestoreRecord) {};
}

void restore_records_free(RestoreRecord *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                restore_record_done(&r[i]);
        free(r);
}

int jobstore_add_restore(JobStore *s, uid_t uid, const char *job, int64_t *ret_rowid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "INSERT INTO restores (uid, job, created_usec) VALUES (?1, ?2, ?3)", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, uid);
        bind_text(st, 2, job);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) now_realtime_usec());
        r = step_done(s, st);
        if (r < 0)
                return r;
        *ret_rowid = (int64_t) sqlite3_last_insert_rowid(s->db);
        return 0;
}

int jobstore_update_restore(JobStore *s, int64_t rowid, const char *job, const char *unit, const char *pids) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "UPDATE restores SET job = ?2, unit = ?3, pids = ?4 WHERE rowid = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rowid);
        bind_text(st, 2, job);
        bind_text(st, 3, unit);
        bind_text(st, 4, pids);
        return step_done(s, st);
}

int jobstore_delete_restore(JobStore *s, int64_t rowid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "DELETE FROM restores WHERE rowid = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rowid);
        return step_done(s, st);
}

int jobstore_list_restores(JobStore *s, RestoreRecord **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, "SELECT rowid, uid, job, unit, pids FROM restores ORDER BY rowid", &st);
        if (r < 0)
                return r;
        RestoreRecord *list = NULL;
        size_t n = 0, allocated = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (!GREEDY_REALLOC(list, allocated, n + 1)) {
                        restore_records_free(list, n);
                        return -ENOMEM;
                }
                list[n++] = (RestoreRecord) {
                        .rowid = sqlite3_column_int64(st, 0),
                        .uid = (uid_t) sqlite3_column_int64(st, 1),
                        .job = column_strdup(st, 2),
                        .unit = column_strdup(st, 3),
                        .pids = column_strdup(st, 4),
                };
                if (!list[n - 1].job) {
                        restore_records_free(list, n);
                        return -ENOMEM;
                }
        }
        if (rc != SQLITE_DONE) {
                restore_records_free(list, n);
                return sqlite_to_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}
