/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the daemon's logic, on a Manager without a bus (the daemon core is a library):
 * generated names never fail and never collide, names are per owner and resolve as documented,
 * idleness follows live state, pruning picks what it promises, and a signal that cannot be sent
 * is an error. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "bus-error.h"
#include "hygiene.h"
#include "job-run.h"
#include "job.h"
#include "jobstore.h"
#include "macro.h"
#include "manager.h"
#include "names.h"
#include "operation.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct Fixture {
        char *dir;
        Manager *m;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;
        f->dir = g_dir_make_tmp("test-daemon-XXXXXX", &error);
        g_assert_no_error(error);
        g_assert_cmpint(manager_new(&f->m), ==, 0);
        Manager *m = f->m;
        m->state_dir = g_strdup(f->dir);
        m->log_dir = g_build_filename(f->dir, "log", NULL);
        g_assert_cmpint(g_mkdir(m->log_dir, 0755), ==, 0);
        m->state_dir_fd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        m->log_dir_fd = open(m->log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(m->state_dir_fd, >=, 0);
        g_assert_cmpint(m->log_dir_fd, >=, 0);
        g_assert_cmpint(jobstore_open(m->state_dir_fd, &m->store), ==, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        manager_free(f->m);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
}

/* A job as Run would leave it, recorded. */
static Job *add_job(Manager *m, uid_t uid, const char *id, JobState state) {
        Job *j = NULL;
        g_assert_cmpint(job_new(m, uid, id, &j), ==, 0);
        j->state = state;
        j->pid = 0;
        g_assert_cmpint(job_save(j), ==, 0);
        return j;
}

static void test_generated_job_names(Fixture *f, gconstpointer data) {
        /* Far more jobs than the generator has short names for two digits of: every pick is
         * free, and becomes a job at once. */
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                char *name = NULL;
                g_assert_cmpint(names_pick_job(f->m, 1000, NULL, &name, &error), ==, 0);
                g_assert_false(g_hash_table_contains(seen, name));
                add_job(f->m, 1000, name, JOB_EXITED);
                g_hash_table_add(seen, name);
        }
        g_assert_cmpuint(f->m->n_jobs, ==, 3000);
}

static void test_requested_names_are_per_owner(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char *name = NULL;
        add_job(f->m, 1000, "web", JOB_RUNNING);
        /* Another user's job of that name is no obstacle, and not revealed. */
        g_assert_cmpint(names_pick_job(f->m, 1001, "web", &name, &error), ==, 0);
        g_assert_cmpstr(name, ==, "web");
        free(name);
        g_assert_cmpint(names_pick_job(f->m, 1000, "web", &name, &error), <, 0);
        g_assert_cmpstr(error.name, ==, BUS_ERROR_NAME_TAKEN);
}

static void test_parse(Fixture *f, gconstpointer data) {
        Manager *m = f->m;
        add_job(m, 1000, "only-alice", JOB_RUNNING);
        add_job(m, 1000, "both", JOB_RUNNING);
        add_job(m, 1001, "both", JOB_RUNNING);
        add_job(m, 0, "mine", JOB_RUNNING);
        add_job(m, 1000, "mine", JOB_RUNNING);
        static const struct {
                uid_t caller;
                const char *spec;
                int ok;         /* 1: resolves to uid */
                uid_t uid;
                const char *error;
        } cases[] = {
                { 1000, "only-alice", 1, 1000, NULL },
                { 1001, "only-alice", 1, 1001, NULL },  /* one's own namespace: simply not found later */
                { 0, "only-alice", 1, 1000, NULL },     /* root: the one user who has it */
                { 0, "both", 0, 0, SD_BUS_ERROR_INVALID_ARGS }, /* ambiguous: say USER/NAME */
                { 0, "1001/both", 1, 1001, NULL },
                { 0, "mine", 1, 0, NULL },              /* root's own comes first */
                { 0, "1000/mine", 1, 1000, NULL },
                { 1000, "../etc", 0, 0, SD_BUS_ERROR_INVALID_ARGS },
                { 1000, "a/b/c", 0, 0, SD_BUS_ERROR_INVALID_ARGS },
                { 1000, "no-such-user-xyz/job", 0, 0, BUS_ERROR_NO_SUCH_JOB },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *name = NULL;
                uid_t uid = 4242;
                int r = names_parse(m, cases[i].caller, cases[i].spec, true, &uid, &name, &error);
                g_test_message("%u %s: %d %s", (unsigned) cases[i].caller, cases[i].spec, r, strna(error.message));
                if (cases[i].ok) {
                        g_assert_cmpint(r, ==, 0);
                        g_assert_cmpuint(uid, ==, cases[i].uid);
                } else {
                        g_assert_cmpint(r, <, 0);
                        g_assert_cmpstr(error.name, ==, cases[i].error);
                }
        }
        /* An unqualified name is the caller's own: another user's job of it is not found. */
        _cleanup_free_ char *name = NULL;
        uid_t uid;
        g_assert_cmpint(names_parse(m, 1001, "only-alice", true, &uid, &name, NULL), ==, 0);
        g_assert_null(manager_get_job(m, uid, name));
}

static void test_checkpoint_names(Fixture *f, gconstpointer data) {
        Manager *m = f->m;
        int dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(dir_fd, >=, 0);
        /* Something else at the generated name in the directory, and a record of the next. */
        g_autofree char *taken = g_build_filename(f->dir, "dump-job-x-1.tar.zst", NULL);
        g_assert_true(g_file_set_contents(taken, "x", 1, NULL));
        CheckpointRecord c = { .uid = 1000, .id = (char *) "dump-job-x-1-2", .state = CHECKPOINT_COMPLETE,
                               .path = (char *) "/nonexistent/dump-job-x-1-2.tar.zst", .compression = (char *) "zstd",
                               .time_usec = 1 };
        g_assert_cmpint(jobstore_add_checkpoint(m->store, &c), ==, 0);
        /* The record's file is gone: its name is free again. */
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *name = NULL;
        g_assert_cmpint(names_pick_checkpoint(m, 1000, NULL, "dump-job-x-1", dir_fd, ".tar.zst", &name, &error), ==, 0);
        g_assert_cmpstr(name, ==, "dump-job-x-1-2");
        /* A requested name with a record whose file is there is an error, not renamed; another
         * user's record of that name is no obstacle. */
        CheckpointRecord kept = c;
        kept.id = (char *) "kept";
        kept.path = taken;
        g_assert_cmpint(jobstore_add_checkpoint(m->store, &kept), ==, 0);
        _cleanup_free_ char *name2 = NULL, *name3 = NULL;
        g_assert_cmpint(names_pick_checkpoint(m, 1000, "kept", NULL, dir_fd, ".tar.zst", &name2, &error), <, 0);
        g_assert_cmpstr(error.name, ==, BUS_ERROR_NAME_TAKEN);
        g_assert_cmpint(names_pick_checkpoint(m, 1001, "kept", NULL, dir_fd, ".tar.zst", &name3, NULL), ==, 0);
        close(dir_fd);
}

static void test_idle_follows_operations(Fixture *f, gconstpointer data) {
        Manager *m = f->m;
        g_assert_true(manager_is_idle(m));
        Operation *op = NULL;
        g_assert_cmpint(operation_new(m, OPERATION_RECONCILE, NULL, 0, NULL, &op), ==, 0);
        g_assert_false(manager_is_idle(m));
        operation_free(op);
        g_assert_true(manager_is_idle(m));
}

static void test_jobs_prune(Fixture *f, gconstpointer data) {
        Manager *m = f->m;
        add_job(m, 1000, "ended", JOB_EXITED);
        add_job(m, 1000, "failed", JOB_FAILED);
        add_job(m, 1000, "running", JOB_RUNNING);
        Job *halted = add_job(m, 1000, "halted", JOB_HALTED);
        add_job(m, 1001, "bobs", JOB_EXITED);
        Job *with_ck = add_job(m, 1000, "with-checkpoint", JOB_EXITED);
        with_ck->last_checkpoint_id = g_strdup("ck");
        (void) halted;

        char **removed = NULL;
        g_assert_cmpint(jobs_prune(m, 1000, &removed), ==, 0);
        g_assert_cmpuint(g_strv_length(removed), ==, 2);
        g_assert_true(g_strv_contains((const char *const *) removed, "ended"));
        g_assert_true(g_strv_contains((const char *const *) removed, "failed"));
        g_strfreev(removed);
        g_assert_nonnull(manager_get_job(m, 1001, "bobs"));
        g_assert_nonnull(manager_get_job(m, 1000, "running"));
        g_assert_nonnull(manager_get_job(m, 1000, "halted"));
        g_assert_nonnull(manager_get_job(m, 1000, "with-checkpoint"));
        /* root prunes everybody's, named as root sees them */
        g_assert_cmpint(jobs_prune(m, 0, &removed), ==, 0);
        g_assert_cmpuint(g_strv_length(removed), ==, 1);
        g_assert_true(g_str_has_suffix(removed[0], "/bobs"));
        g_strfreev(removed);
        g_assert_null(manager_get_job(m, 1001, "bobs"));
}

static void add_record(Fixture *f, uid_t uid, const char *job, const char *id, uint64_t t, bool file) {
        g_autofree char *path = g_build_filename(f->dir, id, NULL);
        if (file)
                g_assert_true(g_file_set_contents(path, "x", 1, NULL));
        struct stat st = {};
        if (file)
                g_assert_cmpint(stat(path, &st), ==, 0);
        CheckpointRecord c = { .uid = uid, .id = (char *) id, .state = CHECKPOINT_COMPLETE, .job = (char *) job,
                               .job_uid = uid, .path = path, .compression = (char *) "zstd", .time_usec = t,
                               .dev = st.st_dev, .ino = st.st_ino, .digest = (char *) "sha256:00" };
        g_assert_cmpint(jobstore_add_checkpoint(f->m->store, &c), ==, 0);
}

static char **select_ids(Fixture *f, uid_t uid, uint32_t keep) {
        CheckpointFilter filter = { .by_uid = uid != 0, .uid = uid };
        CheckpointRecord *list = NULL;
        size_t n = 0;
        g_assert_cmpint(checkpoints_prune_select(f->m, &filter, keep, &list, &n), ==, 0);
        char **ids = g_new0(char *, n + 1);
        for (size_t i = 0; i < n; i++)
                ids[i] = g_strdup(list[i].id);
        checkpoint_records_free(list, n);
        return ids;
}

static void test_checkpoints_prune_select(Fixture *f, gconstpointer data) {
        /* job a: four, the second newest missing; job b: one; a process dump, old; bob's. */
        add_record(f, 1000, "a", "a1", 1, true);
        add_record(f, 1000, "a", "a2", 2, true);
        add_record(f, 1000, "a", "a3", 3, false);
        add_record(f, 1000, "a", "a4", 4, true);
        add_record(f, 1000, "b", "b1", 5, true);
        add_record(f, 1000, NULL, "p1", 0, true);
        add_record(f, 1001, "a", "bob-a1", 1, true);
        /* a file something else replaced is left alone */
        add_record(f, 1000, "a", "a0", 0, true);
        g_autofree char *a0 = g_build_filename(f->dir, "a0", NULL);
        g_autofree char *a0_new = g_build_filename(f->dir, "a0.new", NULL);
        g_assert_true(g_file_set_contents(a0_new, "replaced", 8, NULL));
        g_assert_cmpint(g_rename(a0_new, a0), ==, 0); /* while a0 exists: another inode for sure */

        g_auto(GStrv) only_missing = select_ids(f, 1000, UINT32_MAX);
        g_assert_cmpuint(g_strv_length(only_missing), ==, 1);
        g_assert_cmpstr(only_missing[0], ==, "a3");

        g_auto(GStrv) keep1 = select_ids(f, 1000, 1);
        /* a4 and b1 kept (newest intact of each job), p1 kept (no job), a0 changed */
        const char *want[] = { "a3", "a2", "a1", NULL };
        g_assert_cmpuint(g_strv_length(keep1), ==, 3);
        for (size_t i = 0; want[i]; i++)
                g_assert_true(g_strv_contains((const char *const *) keep1, want[i]));

        g_auto(GStrv) keep2 = select_ids(f, 1000, 2);
        g_assert_cmpuint(g_strv_length(keep2), ==, 2);
        g_assert_true(g_strv_contains((const char *const *) keep2, "a1"));
        g_assert_true(g_strv_contains((const char *const *) keep2, "a3"));

        /* root's choice covers bob's too */
        g_auto(GStrv) root = select_ids(f, 0, 1);
        g_assert_false(g_strv_contains((const char *const *) root, "bob-a1"));
        g_assert_cmpuint(g_strv_length(root), ==, 3);
}

static void test_kill_without_process_is_an_error(Fixture *f, gconstpointer data) {
        Job *j = add_job(f->m, 1000, "gone", JOB_RUNNING);
        j->pidfd = -EBADF;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        errno = 0; /* a stale errno must not turn this into success */
        g_assert_cmpint(job_kill(j, SIGTERM, &error), <, 0);
        g_assert_cmpstr(error.name, ==, BUS_ERROR_NO_SUCH_PROCESS);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
        ADD("/daemon/names/generated-jobs", test_generated_job_names);
        ADD("/daemon/names/per-owner", test_requested_names_are_per_owner);
        ADD("/daemon/names/parse", test_parse);
        ADD("/daemon/names/checkpoints", test_checkpoint_names);
        ADD("/daemon/idle", test_idle_follows_operations);
        ADD("/daemon/prune/jobs", test_jobs_prune);
        ADD("/daemon/prune/checkpoints", test_checkpoints_prune_select);
        ADD("/daemon/kill-without-process", test_kill_without_process_is_an_error);
        return g_test_run();
}
