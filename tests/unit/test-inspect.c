/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for what `checkpoint inspect` reads: a real CRIU 4.2.1 dump (tests/unit/data/inspect,
 * its pages left out) summarised from its images, the same as a cedana directory and as a
 * .tar.zst, and images cut short or with flipped bytes, which must fail cleanly. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "archive.h"
#include "bus-error.h"
#include "fd-util.h"
#include "inspect.h"
#include "metadata.h"
#include "strv.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

#define DATA_DIR SRCDIR "/tests/unit/data/inspect"

/* The dump: /tmp/fixwl (a main thread and one more, a 1 MiB buffer, /tmp/ckfix-data.txt open
 * as fd 3, a unix socket listening on /tmp/ckfix.sock as fd 4) and a forked child. CRIU wrote
 * 1171456 bytes of pages for the parent and 1167360 for the child. */
#define ROOT_PID 19893
#define THREAD_TID 19895
#define CHILD_PID 19896
#define DUMPED_TOTAL (UINT64_C(1171456) + UINT64_C(1167360))

static const char *const fixture_names[] = {
        "core-19893.img", "core-19895.img", "core-19896.img",   "fdinfo-2.img",      "fdinfo-3.img",
        "files.img",      "ids-19893.img",  "ids-19896.img",    "inventory.img",     "mm-19893.img",
        "mm-19896.img",   "pagemap-19893.img", "pagemap-19896.img", "pstree.img",
};

static void load_fixture(ArchiveFile **ret, size_t *ret_n) {
        size_t n = G_N_ELEMENTS(fixture_names);
        ArchiveFile *files = g_new0(ArchiveFile, n);
        for (size_t i = 0; i < n; i++) {
                g_autofree char *p = g_build_filename(DATA_DIR, fixture_names[i], NULL);
                g_autoptr(GError) error = NULL;
                gsize size = 0;
                files[i].name = g_strdup(fixture_names[i]);
                g_assert_true(g_file_get_contents(p, &files[i].data, &size, &error));
                g_assert_no_error(error);
                files[i].size = size;
        }
        *ret = files;
        *ret_n = n;
}

static void free_fixture(ArchiveFile *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                g_free(files[i].name);
                g_free(files[i].data);
        }
        g_free(files);
}

static const InspectProcess *find_process(const CheckpointSummary *s, pid_t pid) {
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i].pid == pid)
                        return &s->processes[i];
        return NULL;
}

static const InspectFd *find_fd(const InspectProcess *p, uint32_t fd) {
        for (size_t i = 0; i < p->n_fds; i++)
                if (p->fds[i].fd == fd)
                        return &p->fds[i];
        return NULL;
}

/* What the fixture holds, however it was read. */
static void assert_fixture_summary(const CheckpointSummary *s) {
        g_assert_cmpuint(s->n_processes, ==, 2);
        g_assert_cmpint(s->processes[0].pid, ==, ROOT_PID);

        const InspectProcess *root = find_process(s, ROOT_PID), *child = find_process(s, CHILD_PID);
        g_assert_nonnull(root);
        g_assert_nonnull(child);
        g_assert_cmpint(child->ppid, ==, ROOT_PID);
        g_assert_cmpuint(root->n_threads, ==, 2);
        g_assert_cmpint(root->threads[0], ==, ROOT_PID);
        g_assert_cmpint(root->threads[1], ==, THREAD_TID);
        g_assert_cmpuint(child->n_threads, ==, 1);
        g_assert_cmpstr(root->command, ==, "fixwl");
        g_assert_cmpstr(child->command, ==, "fixwl");

        const InspectFd *file = find_fd(root, 3), *sock = find_fd(root, 4);
        g_assert_nonnull(file);
        g_assert_cmpstr(file->type, ==, "file");
        g_assert_cmpstr(file->name, ==, "/tmp/ckfix-data.txt");
        g_assert_null(file->state);
        g_assert_nonnull(sock);
        g_assert_cmpstr(sock->type, ==, "unix");
        g_assert_cmpstr(sock->name, ==, "/tmp/ckfix.sock");
        g_assert_cmpstr(sock->state, ==, "listening");
        /* The child inherited both. */
        g_assert_nonnull(find_fd(child, 3));
        g_assert_nonnull(find_fd(child, 4));

        /* The 1 MiB buffer is mapped and, written to, dumped. */
        g_assert_cmpuint(root->mapped, >=, UINT64_C(1) << 20);
        g_assert_cmpuint(root->dumped, >=, UINT64_C(1) << 20);
        g_assert_cmpuint(root->dumped, <=, root->mapped);
        g_assert_cmpuint(s->dumped, ==, DUMPED_TOTAL);
        g_assert_cmpuint(s->mapped, ==, root->mapped + child->mapped);
}

static void test_images(void) {
        ArchiveFile *files;
        size_t n;
        load_fixture(&files, &n);
        CheckpointSummary *s = g_new0(CheckpointSummary, 1);
        g_autofree char *err = NULL;
        g_assert_cmpint(inspect_images(files, n, s, &err), ==, 0);
        g_assert_null(err);
        assert_fixture_summary(s);
        checkpoint_summary_free(s);
        free_fixture(files, n);
}

static void test_wants_file(void) {
        g_assert_true(inspect_wants_file("cedana.json"));
        g_assert_true(inspect_wants_file("pstree.img"));
        g_assert_true(inspect_wants_file("core-1.img"));
        g_assert_true(inspect_wants_file("pagemap-1.img"));
        g_assert_false(inspect_wants_file("pages-1.img"));
        g_assert_false(inspect_wants_file("pagemap-shmem-1.img"));
        g_assert_false(inspect_wants_file("core-1.imgx"));
        g_assert_false(inspect_wants_file("stats-dump"));
}

/* Every image cut at every length, and every byte flipped: a clean error or a summary, never a
 * crash (the test runs under the sanitizers in CI) and never an unbounded allocation. */
static void test_damaged_images(void) {
        ArchiveFile *files;
        size_t n;
        load_fixture(&files, &n);
        size_t failures = 0;
        for (size_t i = 0; i < n; i++) {
                ArchiveFile saved = files[i];
                char *copy = g_memdup2(saved.data, saved.size);
                for (size_t cut = 0; cut < saved.size; cut++) {
                        files[i].size = cut;
                        CheckpointSummary *s = g_new0(CheckpointSummary, 1);
                        char *err = NULL;
                        int r = inspect_images(files, n, s, &err);
                        g_assert_true(r == 0 || (r == -EBADMSG && err));
                        failures += r != 0;
                        free(err);
                        checkpoint_summary_free(s);
                }
                files[i].size = saved.size;
                files[i].data = copy;
                for (size_t at = 0; at < saved.size; at++) {
                        copy[at] ^= 0x5a;
                        CheckpointSummary *s = g_new0(CheckpointSummary, 1);
                        char *err = NULL;
                        int r = inspect_images(files, n, s, &err);
                        g_assert_true(r == 0 || (r == -EBADMSG && err));
                        free(err);
                        checkpoint_summary_free(s);
                        copy[at] ^= 0x5a;
                }
                files[i] = saved;
                g_free(copy);
        }
        /* Truncation of the tree itself always shows. */
        g_assert_cmpuint(failures, >, 0);
        free_fixture(files, n);
}

static void test_no_pstree(void) {
        ArchiveFile *files;
        size_t n;
        load_fixture(&files, &n);
        g_free(files[n - 1].name);
        files[n - 1].name = g_strdup("pstree-gone.img");
        CheckpointSummary *s = g_new0(CheckpointSummary, 1);
        g_autofree char *err = NULL;
        g_assert_cmpint(inspect_images(files, n, s, &err), ==, -EBADMSG);
        g_assert_nonnull(strstr(err, "pstree.img"));
        checkpoint_summary_free(s);
        free_fixture(files, n);
}

/* ---- whole checkpoints ---- */

typedef struct Fixture {
        char *path;
        int fd;
} Fixture;

/* The fixture as cedana writes a directory checkpoint: the images, a stand-in pages file and
 * cedana.json listing them with their SHA-256. */
static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        f->path = g_dir_make_tmp("cedana-test-inspect-XXXXXX", &error);
        g_assert_no_error(error);
        f->fd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->fd, >=, 0);

        CheckpointMetadata *m = NULL;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("fixwl-1");
        m->type = g_strdup("process");
        m->pid = ROOT_PID;
        m->uid = 0;
        m->time_usec = UINT64_C(1700000000123456);
        m->hostname = g_strdup("builder");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.2.0");
        m->command = strv_copy((char *[]) { (char *) "/tmp/fixwl", NULL });
        m->options.compression = COMPRESSION_NONE;
        for (size_t i = 0; i < G_N_ELEMENTS(fixture_names) + 1; i++) {
                const char *name = i < G_N_ELEMENTS(fixture_names) ? fixture_names[i] : "pages-1.img";
                g_autofree char *text = NULL;
                gsize size = 0;
                if (i < G_N_ELEMENTS(fixture_names)) {
                        g_autofree char *p = g_build_filename(DATA_DIR, name, NULL);
                        g_assert_true(g_file_get_contents(p, &text, &size, NULL));
                } else {
                        text = g_strdup("not read by inspect");
                        size = strlen(text);
                }
                g_autofree char *dest = g_build_filename(f->path, name, NULL);
                g_assert_true(g_file_set_contents(dest, text, (gssize) size, NULL));
                g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) text, size);
                g_assert_cmpint(metadata_add_file(m, name, size, sha), ==, 0);
        }
        g_assert_cmpint(metadata_write(m, f->fd, NULL), ==, 0);
        metadata_free(m);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        close(f->fd);
        rm_rf(f->path);
        g_free(f->path);
}

static void assert_metadata(const CheckpointSummary *s) {
        g_assert_cmpstr(s->metadata->id, ==, "fixwl-1");
        g_assert_cmpint(s->metadata->pid, ==, ROOT_PID);
        g_assert_cmpstr(s->metadata->criu_version, ==, "4.2.1");
        g_assert_cmpuint(s->metadata->n_files, ==, G_N_ELEMENTS(fixture_names) + 1);
        g_assert_true(g_str_has_prefix(s->metadata->digest, "sha256:"));
}

static void test_directory(Fixture *f, gconstpointer data) {
        CheckpointSummary *s = NULL;
        g_autofree char *err = NULL;
        g_assert_cmpint(checkpoint_inspect(f->fd, &s, &err), ==, 0);
        g_assert_null(err);
        g_assert_cmpint(s->format, ==, COMPRESSION_NONE);
        assert_metadata(s);
        assert_fixture_summary(s);
        checkpoint_summary_free(s);
}

static void test_archive(Fixture *f, gconstpointer data) {
        g_autofree char *archive = g_strdup_printf("%s.tar.zst", f->path);
        int fd = open(archive, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(archive_write_dir(f->fd, NULL, fd, COMPRESSION_ZSTD, 1, NULL, NULL), ==, 0);
        CheckpointSummary *s = NULL;
        g_autofree char *err = NULL;
        g_assert_cmpint(checkpoint_inspect(fd, &s, &err), ==, 0);
        g_assert_null(err);
        g_assert_cmpint(s->format, ==, COMPRESSION_ZSTD);
        struct stat st;
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_assert_cmpuint(s->stored_size, ==, (uint64_t) st.st_size);
        assert_metadata(s);
        assert_fixture_summary(s);
        checkpoint_summary_free(s);

        /* Cut in half: corrupt, with the reason. */
        g_assert_cmpint(ftruncate(fd, st.st_size / 2), ==, 0);
        g_autofree char *err2 = NULL;
        s = NULL;
        g_assert_cmpint(checkpoint_inspect(fd, &s, &err2), ==, CEDANA_E_CHECKPOINT_CORRUPT);
        g_assert_nonnull(err2);
        g_assert_null(s);
        close(fd);
        g_assert_cmpint(unlink(archive), ==, 0);
}

static void test_not_a_checkpoint(Fixture *f, gconstpointer data) {
        CheckpointSummary *s = NULL;
        g_assert_cmpint(unlinkat(f->fd, METADATA_FILENAME, 0), ==, 0);
        g_autofree char *err = NULL;
        g_assert_cmpint(checkpoint_inspect(f->fd, &s, &err), ==, CEDANA_E_NOT_A_CHECKPOINT);
        g_assert_nonnull(strstr(err, "cedana.json"));

        /* Some text is no archive. */
        int fd = openat(f->fd, "text", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, "hello\n", 6), ==, 6);
        g_autofree char *err2 = NULL;
        g_assert_cmpint(checkpoint_inspect(fd, &s, &err2), ==, CEDANA_E_NOT_A_CHECKPOINT);
        g_assert_nonnull(err2);
        close(fd);
        g_assert_null(s);
}

/* A listed image replaced by a symlink is not followed; a missing one is named. */
static void test_symlink_and_missing(Fixture *f, gconstpointer data) {
        CheckpointSummary *s = NULL;
        g_assert_cmpint(unlinkat(f->fd, "pstree.img", 0), ==, 0);
        g_autofree char *err = NULL;
        g_assert_cmpint(checkpoint_inspect(f->fd, &s, &err), ==, CEDANA_E_CHECKPOINT_CORRUPT);
        g_assert_nonnull(strstr(err, "pstree.img"));
        g_assert_cmpint(symlinkat(DATA_DIR "/pstree.img", f->fd, "pstree.img"), ==, 0);
        g_autofree char *err2 = NULL;
        g_assert_cmpint(checkpoint_inspect(f->fd, &s, &err2), ==, CEDANA_E_CHECKPOINT_CORRUPT);
        g_assert_nonnull(strstr(err2, "not a regular file"));
        g_assert_null(s);
}

/* An image that is not the size cedana.json declares is refused before it is decoded. */
static void test_size_mismatch(Fixture *f, gconstpointer data) {
        CheckpointSummary *s = NULL;
        int fd = openat(f->fd, "files.img", O_WRONLY | O_APPEND | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, "x", 1), ==, 1);
        close(fd);
        g_autofree char *err = NULL;
        g_assert_cmpint(checkpoint_inspect(f->fd, &s, &err), ==, CEDANA_E_CHECKPOINT_CORRUPT);
        g_assert_nonnull(strstr(err, "files.img"));
}

/* Unreadable for an ordinary user: access denied, not corrupt. As root (CI), the check runs in a
 * child that became nobody, so it runs everywhere. */
static bool inspect_says_unreadable(int fd) {
        CheckpointSummary *s = NULL;
        _cleanup_free_ char *err = NULL;
        int r = checkpoint_inspect(fd, &s, &err);
        checkpoint_summary_free(s);
        return r == CEDANA_E_ACCESS_DENIED && err && strstr(err, "mm-19893.img");
}

static void test_unreadable(Fixture *f, gconstpointer data) {
        g_assert_cmpint(fchmodat(f->fd, "mm-19893.img", 0, 0), ==, 0);
        if (geteuid() != 0) {
                g_assert_true(inspect_says_unreadable(f->fd));
                return;
        }
        /* The rest stays readable to nobody. */
        g_assert_cmpint(fchmod(f->fd, 0755), ==, 0);
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                _exit(inspect_says_unreadable(f->fd) ? 0 : 1);
        }
        int status;
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/inspect/images", test_images);
        g_test_add_func("/inspect/wants-file", test_wants_file);
        g_test_add_func("/inspect/damaged-images", test_damaged_images);
        g_test_add_func("/inspect/no-pstree", test_no_pstree);
        g_test_add("/inspect/directory", Fixture, NULL, fixture_setup, test_directory, fixture_teardown);
        g_test_add("/inspect/archive", Fixture, NULL, fixture_setup, test_archive, fixture_teardown);
        g_test_add("/inspect/not-a-checkpoint", Fixture, NULL, fixture_setup, test_not_a_checkpoint, fixture_teardown);
        g_test_add("/inspect/symlink-and-missing", Fixture, NULL, fixture_setup, test_symlink_and_missing,
                   fixture_teardown);
        g_test_add("/inspect/size-mismatch", Fixture, NULL, fixture_setup, test_size_mismatch, fixture_teardown);
        g_test_add("/inspect/unreadable", Fixture, NULL, fixture_setup, test_unreadable, fixture_teardown);
        return g_test_run();
}
