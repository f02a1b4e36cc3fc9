/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the job store: jobs and checkpoint records survive closing and reopening, names are
 * per owner, checkpoints go through intent, synced and complete, restores in flight are kept,
 * a store of the previous schema is migrated (staging names becoming intents), newer refuse. */

#include "job.h"
#include "jobstore.h"
#include "macro.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdlib.h>

typedef struct Fixture {
        char *dir;
        int dir_fd;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;
        f->dir = g_dir_make_tmp("test-jobstore-XXXXXX", &error);
        g_assert_no_error(error);
        f->dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->dir_fd, >=, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        const char *names[] = { "cedana.db", "cedana.db-wal", "cedana.db-shm" };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
                (void) unlinkat(f->dir_fd, names[i], 0);
        close(f->dir_fd);
        g_assert_cmpint(g_rmdir(f->dir), ==, 0);
        g_free(f->dir);
}

static Job *make_job(uid_t uid, const char *id, JobState state, pid_t pid) {
        Job *j = NULL;
        g_assert_cmpint(job_alloc(&j), ==, 0);
        j->id = g_strdup(id);
        j->type = g_strdup("process");
        j->uid = uid;
        j->pid = pid;
        j->pid_start_time = 4242;
        j->state = state;
        j->unit = g_strdup_printf("cedana-%u-%s.scope", (unsigned) uid, id);
        j->log_path = g_strdup_printf("/var/log/cedana/%u/%s.log", (unsigned) uid, id);
        j->created_usec = 1000 + (uint64_t) pid;
        return j;
}

static int collect(Job *j, void *userdata) {
        g_ptr_array_add(userdata, j);
        return 0;
}

static void job_free_void(void *j) {
        job_free(j);
}

static GPtrArray *load_all(JobStore *s) {
        GPtrArray *a = g_ptr_array_new_with_free_func(job_free_void);
        g_assert_cmpint(jobstore_load_jobs(s, collect, a), ==, 0);
        return a;
}

static void test_jobs_roundtrip(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        Job *a = make_job(1000, "train", JOB_RUNNING, 100), *b = make_job(1001, "train", JOB_HALTED, 200);
        b->gpu = true;
        b->resume_pending = true;
        b->restored_from = g_strdup("/var/lib/cedana/checkpoints/bob/train.tar.zst");
        g_assert_cmpint(jobstore_save_job(s, a), ==, 0);
        /* the same name, another owner: another job */
        g_assert_cmpint(jobstore_save_job(s, b), ==, 0);
        /* an update replaces, it does not duplicate */
        a->state = JOB_EXITED;
        a->exit_status = 256;
        a->ended_usec = 5;
        g_assert_cmpint(jobstore_save_job(s, a), ==, 0);
        jobstore_free(s);

        /* what a restarted daemon sees */
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        g_autoptr(GPtrArray) l = load_all(s);
        g_assert_cmpuint(l->len, ==, 2);
        Job *x = l->pdata[0], *y = l->pdata[1];
        g_assert_cmpstr(x->id, ==, "train");
        g_assert_cmpuint(x->uid, ==, 1000);
        g_assert_cmpint(x->state, ==, JOB_EXITED);
        g_assert_cmpint(x->exit_status, ==, 256);
        g_assert_cmpuint(x->ended_usec, ==, 5);
        g_assert_cmpuint(x->pid_start_time, ==, 4242);
        g_assert_cmpuint(y->uid, ==, 1001);
        g_assert_true(y->gpu && y->resume_pending);
        g_assert_cmpstr(y->unit, ==, "cedana-1001-train.scope");
        g_assert_null(x->restored_from);
        g_assert_cmpstr(y->restored_from, ==, "/var/lib/cedana/checkpoints/bob/train.tar.zst");

        g_assert_cmpint(jobstore_delete_job(s, 1000, "train"), ==, 0);
        g_autoptr(GPtrArray) l2 = load_all(s);
        g_assert_cmpuint(l2->len, ==, 1);
        g_assert_cmpuint(((Job *) l2->pdata[0])->uid, ==, 1001);
        jobstore_free(s);
        job_free(a);
        job_free(b);
}

static void test_checkpoint_states(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        CheckpointRecord c = {
                .uid = 1000,
                .id = (char *) "ck",
                .state = CHECKPOINT_INTENT,
                .job = (char *) "train",
                .job_uid = 1000,
                .path = (char *) "/var/tmp/ck.tar.zst",
                .staging_name = (char *) ".cedana-staging-ck-x",
                .partial_name = (char *) ".ck.tar.zst.partial-x",
                .process_uid = 1000,
                .time_usec = 10,
                .compression = (char *) "zstd",
                .pid = 77,
        };
        g_assert_cmpint(jobstore_add_checkpoint(s, &c), ==, 0);
        /* the intent reserves the name, for its owner only */
        g_assert_cmpint(jobstore_add_checkpoint(s, &c), ==, -EEXIST);
        c.uid = 1001;
        g_assert_cmpint(jobstore_add_checkpoint(s, &c), ==, 0);
        c.uid = 1000;

        /* in flight: not listed with the complete ones */
        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter job = { .job = "train", .job_uid = 1000 }, incomplete = { .incomplete = true };
        g_assert_cmpint(jobstore_list_checkpoints(s, &job, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 0);
        checkpoint_records_free(list, n);
        g_assert_cmpint(jobstore_list_checkpoints(s, &incomplete, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        checkpoint_records_free(list, n);

        /* synced, then complete: what binds it is kept */
        c.state = CHECKPOINT_SYNCED;
        c.digest = (char *) "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        c.dev = 42;
        c.ino = 4242;
        c.size = 999;
        g_assert_cmpint(jobstore_update_checkpoint(s, &c), ==, 0);
        c.state = CHECKPOINT_COMPLETE;
        c.staging_name = c.partial_name = NULL;
        g_assert_cmpint(jobstore_update_checkpoint(s, &c), ==, 0);
        jobstore_free(s);

        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        CheckpointRecord back = {};
        g_assert_cmpint(jobstore_get_checkpoint(s, 1000, "ck", &back), ==, 0);
        g_assert_cmpint(back.state, ==, CHECKPOINT_COMPLETE);
        g_assert_cmpstr(back.digest, ==, c.digest);
        g_assert_cmpuint(back.dev, ==, 42);
        g_assert_cmpuint(back.ino, ==, 4242);
        g_assert_cmpuint(back.size, ==, 999);
        g_assert_null(back.staging_name);
        g_assert_true(checkpoint_record_is_bound(&back));
        checkpoint_record_done(&back);
        g_assert_cmpint(jobstore_get_checkpoint(s, 1002, "ck", &back), ==, -ENOENT);

        g_assert_cmpint(jobstore_list_checkpoints(s, &job, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        checkpoint_records_free(list, n);
        CheckpointFilter by_id = { .id = "ck" };
        g_assert_cmpint(jobstore_list_checkpoints(s, &by_id, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1); /* the other owner's is still an intent */
        checkpoint_records_free(list, n);

        g_assert_cmpint(jobstore_delete_checkpoint(s, 1000, "ck"), ==, 0);
        g_assert_cmpint(jobstore_get_checkpoint(s, 1000, "ck", &back), ==, -ENOENT);
        g_assert_cmpint(jobstore_get_checkpoint(s, 1001, "ck", &back), ==, 0);
        checkpoint_record_done(&back);
        jobstore_free(s);
}

static void test_restores(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        int64_t a, b;
        g_assert_cmpint(jobstore_add_restore(s, 1000, "train", &a), ==, 0);
        g_assert_cmpint(jobstore_add_restore(s, 0, "web", &b), ==, 0);
        /* the job's name may change once the checkpoint says which job it was */
        g_assert_cmpint(jobstore_update_restore(s, a, "trainer", "cedana-1000-trainer.scope", "100:5 101:6"), ==, 0);
        jobstore_free(s);
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        RestoreRecord *list = NULL;
        size_t n = 0;
        g_assert_cmpint(jobstore_list_restores(s, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmpstr(list[0].job, ==, "trainer");
        g_assert_cmpstr(list[0].pids, ==, "100:5 101:6");
        g_assert_cmpstr(list[0].unit, ==, "cedana-1000-trainer.scope");
        g_assert_null(list[1].pids);
        restore_records_free(list, n);
        g_assert_cmpint(jobstore_delete_restore(s, a), ==, 0);
        g_assert_cmpint(jobstore_list_restores(s, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        restore_records_free(list, n);
        jobstore_free(s);
}

/* A store as cedana 0.1 left it (schema 3), with a job, a checkpoint and a staging name. */
static void test_migration(Fixture *f, gconstpointer data) {
        g_autofree char *path = g_build_filename(f->dir, "cedana.db", NULL);
        sqlite3 *db;
        g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
        const char *v3 =
                "CREATE TABLE jobs (id TEXT PRIMARY KEY, type TEXT NOT NULL, uid INTEGER NOT NULL, pid INTEGER NOT "
                "NULL, pid_start_time INTEGER NOT NULL, state TEXT NOT NULL, exit_status INTEGER NOT NULL DEFAULT -1, "
                "gpu INTEGER NOT NULL DEFAULT 0, unit TEXT, log_path TEXT, created_usec INTEGER NOT NULL, attach "
                "INTEGER NOT NULL DEFAULT 0, attach_in_key TEXT, attach_out_key TEXT, halt_pending INTEGER NOT NULL "
                "DEFAULT 0);"
                "CREATE TABLE checkpoints (id TEXT PRIMARY KEY, job TEXT, uid INTEGER NOT NULL, path TEXT NOT NULL, "
                "time_usec INTEGER NOT NULL, size INTEGER NOT NULL, compression TEXT NOT NULL, pid INTEGER NOT NULL, "
                "metadata_checksum TEXT);"
                "CREATE INDEX checkpoints_by_job ON checkpoints(job, time_usec);"
                "CREATE TABLE staging (dir TEXT NOT NULL, name TEXT NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY "
                "(dir, name));"
                "INSERT INTO jobs VALUES ('train', 'process', 1000, 55, 66, 'halted', -1, 0, 'cedana-train.scope', "
                "'/var/log/cedana/train.log', 7, 0, NULL, NULL, 0);"
                "INSERT INTO checkpoints VALUES ('ck', 'train', 1000, '/var/tmp/ck.tar.zst', 8, 100, 'zstd', 55, "
                "'crc32:12345678');"
                "INSERT INTO staging VALUES ('/var/tmp', '.cedana-staging-x-1', 1000);"
                "PRAGMA user_version = 3;";
        g_assert_cmpint(sqlite3_exec(db, v3, NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);

        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        g_autoptr(GPtrArray) l = load_all(s);
        g_assert_cmpuint(l->len, ==, 1);
        Job *j = l->pdata[0];
        g_assert_cmpstr(j->id, ==, "train");
        g_assert_cmpuint(j->uid, ==, 1000);
        g_assert_cmpint(j->state, ==, JOB_HALTED);
        g_assert_cmpstr(j->unit, ==, "cedana-train.scope");

        CheckpointRecord c = {};
        g_assert_cmpint(jobstore_get_checkpoint(s, 1000, "ck", &c), ==, 0);
        g_assert_cmpint(c.state, ==, CHECKPOINT_COMPLETE);
        g_assert_cmpstr(c.job, ==, "train");
        g_assert_cmpuint(c.job_uid, ==, 1000);
        /* an earlier cedana bound nothing */
        g_assert_false(checkpoint_record_is_bound(&c));
        checkpoint_record_done(&c);

        CheckpointRecord *list = NULL;
        size_t n = 0;
        CheckpointFilter incomplete = { .incomplete = true };
        g_assert_cmpint(jobstore_list_checkpoints(s, &incomplete, &list, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpint(list[0].state, ==, CHECKPOINT_INTENT);
        g_assert_cmpstr(list[0].path, ==, "/var/tmp/.cedana-staging-x-1");
        g_assert_cmpstr(list[0].staging_name, ==, ".cedana-staging-x-1");
        checkpoint_records_free(list, n);
        jobstore_free(s);
}

static void test_newer_schema(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        jobstore_free(s);
        /* a store written by a future cedana */
        g_autofree char *path = g_build_filename(f->dir, "cedana.db", NULL);
        sqlite3 *db;
        g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 99;", NULL, NULL, NULL), ==, SQLITE_OK);
        sqlite3_close(db);
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, -EPROTONOSUPPORT);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/jobstore/jobs", Fixture, NULL, setup, test_jobs_roundtrip, teardown);
        g_test_add("/jobstore/checkpoint-states", Fixture, NULL, setup, test_checkpoint_states, teardown);
        g_test_add("/jobstore/restores", Fixture, NULL, setup, test_restores, teardown);
        g_test_add("/jobstore/migration", Fixture, NULL, setup, test_migration, teardown);
        g_test_add("/jobstore/newer-schema", Fixture, NULL, setup, test_newer_schema, teardown);
        return g_test_run();
}
