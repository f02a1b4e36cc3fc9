/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the job store: jobs and checkpoint records survive closing and reopening, updates
 * replace, deletes delete, names are unique, staging records round-trip, newer schemas refuse. */

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

static Job *make_job(const char *id, JobState state, pid_t pid) {
        Job *j = g_new0(Job, 1);
        j->id = g_strdup(id);
        j->type = g_strdup("process");
        j->uid = 1000;
        j->pid = pid;
        j->pid_start_time = 4242;
        j->state = state;
        j->exit_status = -1;
        j->unit = g_strdup_printf("cedana-%s.scope", id);
        j->log_path = g_strdup_printf("/var/log/cedana/%s.log", id);
        j->created_usec = 1000 + (uint64_t) pid;
        j->pidfd = j->attach_in_fd = j->attach_out_fd = -1;
        return j;
}

static void free_job(Job *j) {
        g_free(j->id);
        g_free(j->type);
        g_free(j->unit);
        g_free(j->log_path);
        g_free(j);
}

static int collect(Job *j, void *userdata) {
        GPtrArray *a = userdata;
        g_ptr_array_add(a, j);
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
        Job *a = make_job("famous_hopper7", JOB_RUNNING, 100), *b = make_job("train", JOB_HALTED, 200);
        b->gpu = true;
        g_assert_cmpint(jobstore_save_job(s, a), ==, 0);
        g_assert_cmpint(jobstore_save_job(s, b), ==, 0);
        /* an update replaces, it does not duplicate */
        a->state = JOB_EXITED;
        a->exit_status = 256;
        g_assert_cmpint(jobstore_save_job(s, a), ==, 0);
        jobstore_free(s);

        /* what a restarted daemon sees */
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        GPtrArray *l = load_all(s);
        g_assert_cmpuint(l->len, ==, 2);
        Job *x = l->pdata[0], *y = l->pdata[1];
        g_assert_cmpstr(x->id, ==, "famous_hopper7");
        g_assert_cmpint(x->state, ==, JOB_EXITED);
        g_assert_cmpint(x->exit_status, ==, 256);
        g_assert_cmpint(x->pid, ==, 100);
        g_assert_cmpuint(x->pid_start_time, ==, 4242);
        g_assert_cmpuint(x->uid, ==, 1000);
        g_assert_cmpstr(x->unit, ==, "cedana-famous_hopper7.scope");
        g_assert_cmpstr(y->id, ==, "train");
        g_assert_cmpint(y->state, ==, JOB_HALTED);
        g_assert_true(y->gpu);
        g_ptr_array_free(l, true);

        g_assert_cmpint(jobstore_delete_job(s, "famous_hopper7"), ==, 0);
        l = load_all(s);
        g_assert_cmpuint(l->len, ==, 1);
        g_assert_cmpstr(((Job *) l->pdata[0])->id, ==, "train");
        g_ptr_array_free(l, true);
        jobstore_free(s);
        free_job(a);
        free_job(b);
}

static void test_checkpoints(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        CheckpointRecord c1 = { .id = (char *) "c1", .job = (char *) "train", .uid = 1000, .path = (char *) "/tmp/c1.tar.zst",
                                .time_usec = 10, .size = 100, .compression = (char *) "zstd", .pid = 5,
                                .metadata_checksum = (char *) "crc32:00000001" };
        CheckpointRecord c2 = c1, c3 = c1;
        c2.id = (char *) "c2";
        c2.time_usec = 20;
        c2.path = (char *) "/tmp/c2";
        c3.id = (char *) "p1";
        c3.job = NULL;
        c3.time_usec = 15;
        c3.uid = 0;
        c3.metadata_checksum = (char *) "crc32:00000003";
        g_assert_cmpint(jobstore_add_checkpoint(s, &c1), ==, 0);
        g_assert_cmpint(jobstore_add_checkpoint(s, &c2), ==, 0);
        g_assert_cmpint(jobstore_add_checkpoint(s, &c3), ==, 0);
        /* ids are unique */
        g_assert_cmpint(jobstore_add_checkpoint(s, &c1), ==, -EEXIST);

        CheckpointRecord *l = NULL;
        size_t n = 0;
        g_assert_cmpint(jobstore_list_checkpoints(s, "train", &l, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmpstr(l[0].id, ==, "c2"); /* newest first */
        g_assert_cmpstr(l[1].id, ==, "c1");
        checkpoint_records_free(l, n);
        g_assert_cmpint(jobstore_list_checkpoints(s, NULL, &l, &n), ==, 0);
        g_assert_cmpuint(n, ==, 3);
        g_assert_null(l[1].job);
        checkpoint_records_free(l, n);

        CheckpointRecord r = {};
        g_assert_cmpint(jobstore_get_checkpoint(s, "p1", &r), ==, 0);
        g_assert_cmpstr(r.path, ==, "/tmp/c1.tar.zst");
        g_assert_cmpuint(r.size, ==, 100);
        checkpoint_record_done(&r);
        g_assert_cmpint(jobstore_get_checkpoint(s, "nope", &r), ==, -ENOENT);
        g_assert_cmpint(jobstore_find_checkpoint_by_checksum(s, "crc32:00000003", 0, &r), ==, 0);
        g_assert_cmpstr(r.id, ==, "p1");
        checkpoint_record_done(&r);
        /* the checksum alone does not vouch: it must be the same owner */
        g_assert_cmpint(jobstore_find_checkpoint_by_checksum(s, "crc32:00000003", 1000, &r), ==, -ENOENT);

        g_assert_cmpint(jobstore_delete_checkpoint(s, "c2"), ==, 0);
        g_assert_cmpint(jobstore_list_checkpoints(s, "train", &l, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpstr(l[0].id, ==, "c1");
        checkpoint_records_free(l, n);
        jobstore_free(s);
}

static void test_staging(Fixture *f, gconstpointer data) {
        JobStore *s = NULL;
        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        g_assert_cmpint(jobstore_add_staging(s, "/tmp", ".cedana-staging-x-1", 1000), ==, 0);
        g_assert_cmpint(jobstore_add_staging(s, "/tmp", ".x.tar.zst.partial-1", 1000), ==, 0);
        g_assert_cmpint(jobstore_add_staging(s, "/home/a", ".cedana-staging-y-2", 0), ==, 0);
        g_assert_cmpint(jobstore_remove_staging(s, "/tmp", ".x.tar.zst.partial-1"), ==, 0);
        jobstore_free(s);

        g_assert_cmpint(jobstore_open(f->dir_fd, &s), ==, 0);
        StagingRecord *l = NULL;
        size_t n = 0;
        g_assert_cmpint(jobstore_list_staging(s, &l, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        bool saw_x = false, saw_y = false;
        for (size_t i = 0; i < n; i++) {
                saw_x = saw_x || (streq(l[i].dir, "/tmp") && streq(l[i].name, ".cedana-staging-x-1") && l[i].uid == 1000);
                saw_y = saw_y || (streq(l[i].dir, "/home/a") && l[i].uid == 0);
        }
        g_assert_true(saw_x && saw_y);
        staging_records_free(l, n);
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
        g_test_add("/jobstore/checkpoints", Fixture, NULL, setup, test_checkpoints, teardown);
        g_test_add("/jobstore/staging", Fixture, NULL, setup, test_staging, teardown);
        g_test_add("/jobstore/newer-schema", Fixture, NULL, setup, test_newer_schema, teardown);
        return g_test_run();
}
