/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for cedana.json: recording a checkpoint directory, round trips, and refusing every kind
 * of damage (a flipped byte, truncation, missing, extra or swapped files, edited metadata). */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "metadata.h"
#include "strv.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PAGES_SIZE (2 * 1024 * 1024)

typedef struct Fixture {
        char *path;
        int fd;
} Fixture;

static void rm_rf(const char *path) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;

        if (d) {
                while ((name = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(path, name, NULL);
                        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                                rm_rf(p);
                        else
                                g_assert_cmpint(g_unlink(p), ==, 0);
                }
                g_dir_close(d);
        }
        g_assert_cmpint(g_rmdir(path), ==, 0);
}

static char *fixture_file(Fixture *f, const char *name) {
        return g_build_filename(f->path, name, NULL);
}

static void write_file(Fixture *f, const char *name, const void *data, size_t size) {
        g_autofree char *p = fixture_file(f, name);
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(p, data, (gssize) size, &error));
        g_assert_no_error(error);
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *pages = g_malloc(PAGES_SIZE);

        f->path = g_dir_make_tmp("cedana-test-metadata-XXXXXX", &error);
        g_assert_no_error(error);
        f->fd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->fd, >=, 0);

        for (size_t i = 0; i < PAGES_SIZE; i++)
                pages[i] = (char) (i * 7 + i / 4096);
        write_file(f, "pages-1.img", pages, PAGES_SIZE);
        write_file(f, "core-1.img", "hello", 5);
        write_file(f, "inventory.img", "inventory", 9);
        write_file(f, "empty.img", "", 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        close(f->fd);
        rm_rf(f->path);
        g_free(f->path);
}

/* A metadata record of the fixture's directory, as a dump would make it. */
static CheckpointMetadata *scan(Fixture *f) {
        CheckpointMetadata *m = NULL;

        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, 0);
        m->id = g_strdup("dump-process-4242-1700000000");
        m->type = g_strdup("process");
        m->pid = 4242;
        m->uid = 1000;
        m->time_usec = UINT64_C(1700000000123456);
        m->hostname = g_strdup("builder");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.1.0");
        m->options.compression = COMPRESSION_ZSTD;
        m->options.tcp_established = true;
        m->options.link_remap = true;
        g_assert_cmpint(strv_extend(&m->options.external, "unix[12345]"), ==, 0);
        return m;
}

static CheckpointMetadata *scan_and_write(Fixture *f) {
        CheckpointMetadata *m = scan(f);

        g_assert_cmpint(metadata_write(m, f->fd), ==, 0);
        return m;
}

static uint32_t crc_of(const void *data, size_t size) {
        return (uint32_t) crc32(crc32(0, Z_NULL, 0), data, (uInt) size);
}

static char *read_metadata_text(Fixture *f) {
        g_autofree char *p = fixture_file(f, METADATA_FILENAME);
        g_autoptr(GError) error = NULL;
        char *text = NULL;

        g_assert_true(g_file_get_contents(p, &text, NULL, &error));
        g_assert_no_error(error);
        return text;
}

/* Puts the checksum right again after a test edited a document, computed here from the
 * documented rule, so that the edit itself is what gets refused. */
static void reseal(JsonVariant *v) {
        _cleanup_free_ char *compact = NULL;
        char checksum[32];

        g_assert_cmpint(json_object_remove(v, "checksum"), ==, 1);
        g_assert_cmpint(json_format(v, 0, &compact), ==, 0);
        g_snprintf(checksum, sizeof(checksum), "crc32:%08x", crc_of(compact, strlen(compact)));
        g_assert_cmpint(json_object_set_string(v, "checksum", checksum), ==, 0);
}

static void assert_metadata_equal(const CheckpointMetadata *a, const CheckpointMetadata *b) {
        g_assert_cmpuint(a->format_version, ==, b->format_version);
        g_assert_cmpstr(a->id, ==, b->id);
        g_assert_cmpstr(a->type, ==, b->type);
        g_assert_cmpint(a->pid, ==, b->pid);
        g_assert_cmpstr(a->job, ==, b->job);
        g_assert_cmpuint(a->uid, ==, b->uid);
        g_assert_cmpuint(a->time_usec, ==, b->time_usec);
        g_assert_cmpstr(a->hostname, ==, b->hostname);
        g_assert_cmpstr(a->criu_version, ==, b->criu_version);
        g_assert_cmpstr(a->cedana_version, ==, b->cedana_version);
        g_assert_cmpint(a->options.compression, ==, b->options.compression);
        g_assert_cmpint(a->options.leave_running, ==, b->options.leave_running);
        g_assert_cmpint(a->options.tcp_established, ==, b->options.tcp_established);
        g_assert_cmpint(a->options.file_locks, ==, b->options.file_locks);
        g_assert_cmpint(a->options.shell_job, ==, b->options.shell_job);
        g_assert_cmpint(a->options.link_remap, ==, b->options.link_remap);
        g_assert_cmpuint(strv_length(a->options.external), ==, strv_length(b->options.external));
        for (size_t i = 0; i < strv_length(a->options.external); i++)
                g_assert_cmpstr(a->options.external[i], ==, b->options.external[i]);
        g_assert_cmpuint(a->n_files, ==, b->n_files);
        for (size_t i = 0; i < a->n_files; i++) {
                g_assert_cmpstr(a->files[i].name, ==, b->files[i].name);
                g_assert_cmpuint(a->files[i].size, ==, b->files[i].size);
                g_assert_cmpuint(a->files[i].crc32, ==, b->files[i].crc32);
        }
        g_assert_cmpuint(a->size, ==, b->size);
}

static void assert_verify_fails(Fixture *f, const CheckpointMetadata *m, const char *expected) {
        _cleanup_free_ char *err = NULL;

        g_assert_cmpint(metadata_verify(m, f->fd, &err), ==, -EBADMSG);
        g_assert_cmpstr(err, ==, expected);
}

static void assert_read_fails(Fixture *f, int error, const char *expected) {
        CheckpointMetadata *m = NULL;
        _cleanup_free_ char *err = NULL;

        g_assert_cmpint(metadata_read(f->fd, &m, &err), ==, error);
        g_assert_null(m);
        g_assert_nonnull(err);
        if (expected)
                g_assert_cmpstr(err, ==, expected);
}

static void test_scan(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;

        /* cedana.json itself is never recorded. */
        write_file(f, METADATA_FILENAME, "{}", 2);
        m = scan(f);

        g_assert_cmpuint(m->n_files, ==, 4);
        g_assert_cmpstr(m->files[0].name, ==, "core-1.img");
        g_assert_cmpstr(m->files[1].name, ==, "empty.img");
        g_assert_cmpstr(m->files[2].name, ==, "inventory.img");
        g_assert_cmpstr(m->files[3].name, ==, "pages-1.img");
        g_assert_cmpuint(m->files[0].size, ==, 5);
        /* The well-known CRC-32 of "hello". */
        g_assert_cmpuint(m->files[0].crc32, ==, 0x3610a686);
        g_assert_cmpuint(m->files[1].size, ==, 0);
        g_assert_cmpuint(m->files[1].crc32, ==, 0);
        g_assert_cmpuint(m->files[3].size, ==, PAGES_SIZE);
        g_assert_cmpuint(m->size, ==, 5 + 0 + 9 + PAGES_SIZE);
        {
                g_autofree char *p = fixture_file(f, "pages-1.img");
                g_autofree char *pages = NULL;
                gsize l;

                g_assert_true(g_file_get_contents(p, &pages, &l, NULL));
                g_assert_cmpuint(m->files[3].crc32, ==, crc_of(pages, l));
        }
}

static void test_scan_refuses_special(Fixture *f, gconstpointer data) {
        g_autofree char *link = fixture_file(f, "link.img");
        g_autofree char *fifo = fixture_file(f, "fifo.img");
        g_autofree char *sub = fixture_file(f, "sub");
        CheckpointMetadata *m = NULL;

        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(symlink("core-1.img", link), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, -EBADMSG);
        metadata_free(m);
        g_assert_cmpint(unlink(link), ==, 0);

        /* A fifo must not hang the scan. */
        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, -EBADMSG);
        metadata_free(m);
        g_assert_cmpint(unlink(fifo), ==, 0);

        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, -EBADMSG);
        metadata_free(m);
        g_assert_cmpint(g_rmdir(sub), ==, 0);

        write_file(f, "bad name.img", "x", 1);
        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, -EBADMSG);
        metadata_free(m);
}

static void test_add_file(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        g_autofree char *long_name = g_strnfill(256, 'a');

        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpuint(m->format_version, ==, METADATA_FORMAT_VERSION);
        g_assert_cmpint(metadata_add_file(m, "c.img", 3, 1), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "a.img", 1, 2), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "b.img", 2, 3), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "b.img", 2, 3), ==, -EEXIST);
        g_assert_cmpuint(m->n_files, ==, 3);
        g_assert_cmpstr(m->files[0].name, ==, "a.img");
        g_assert_cmpstr(m->files[1].name, ==, "b.img");
        g_assert_cmpstr(m->files[2].name, ==, "c.img");
        g_assert_cmpuint(m->files[1].crc32, ==, 3);
        g_assert_cmpuint(m->size, ==, 6);

        g_assert_cmpint(metadata_add_file(m, "../x", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "a/b", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, ".", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "..", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "a b", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "a\nb", 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, long_name, 1, 0), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, METADATA_FILENAME, 1, 0), ==, -EINVAL);
        long_name[255] = 0;
        g_assert_cmpint(metadata_add_file(m, long_name, 1, 0), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "huge", UINT64_MAX, 0), ==, -EOVERFLOW);
        g_assert_cmpuint(m->n_files, ==, 4);
}

static void test_json_layout(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *pretty = NULL;
        g_autofree char *expected = NULL;
        const char *compact =
                "{\"format_version\":1,\"id\":\"dump-job-famous_hopper7-1\",\"type\":\"job\",\"pid\":77,"
                "\"job\":\"famous_hopper7\",\"uid\":0,\"time_usec\":1,\"hostname\":\"h\",\"criu_version\":\"4.2.1\","
                "\"cedana_version\":\"0.1.0\",\"options\":{\"compression\":\"none\",\"leave_running\":true,"
                "\"tcp_established\":false,\"file_locks\":true,\"shell_job\":false,\"link_remap\":false,"
                "\"external\":[]},\"size\":123,\"files\":[{\"name\":\"core-1.img\",\"size\":123,\"crc32\":\"0a1b2c3d\"}]}";

        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("dump-job-famous_hopper7-1");
        m->type = g_strdup("job");
        m->job = g_strdup("famous_hopper7");
        m->pid = 77;
        m->uid = 0;
        m->time_usec = 1;
        m->hostname = g_strdup("h");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.1.0");
        m->options.compression = COMPRESSION_NONE;
        m->options.leave_running = true;
        m->options.file_locks = true;
        g_assert_cmpint(metadata_add_file(m, "core-1.img", 123, 0x0a1b2c3d), ==, 0);

        g_assert_cmpint(metadata_to_json(m, &v), ==, 0);
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &pretty), ==, 0);
        expected = g_strdup_printf(
                "{\n"
                "  \"format_version\": 1,\n"
                "  \"id\": \"dump-job-famous_hopper7-1\",\n"
                "  \"type\": \"job\",\n"
                "  \"pid\": 77,\n"
                "  \"job\": \"famous_hopper7\",\n"
                "  \"uid\": 0,\n"
                "  \"time_usec\": 1,\n"
                "  \"hostname\": \"h\",\n"
                "  \"criu_version\": \"4.2.1\",\n"
                "  \"cedana_version\": \"0.1.0\",\n"
                "  \"options\": {\n"
                "    \"compression\": \"none\",\n"
                "    \"leave_running\": true,\n"
                "    \"tcp_established\": false,\n"
                "    \"file_locks\": true,\n"
                "    \"shell_job\": false,\n"
                "    \"link_remap\": false,\n"
                "    \"external\": []\n"
                "  },\n"
                "  \"size\": 123,\n"
                "  \"files\": [\n"
                "    {\n"
                "      \"name\": \"core-1.img\",\n"
                "      \"size\": 123,\n"
                "      \"crc32\": \"0a1b2c3d\"\n"
                "    }\n"
                "  ],\n"
                "  \"checksum\": \"crc32:%08x\"\n"
                "}\n",
                crc_of(compact, strlen(compact)));
        g_assert_cmpstr(pretty, ==, expected);

        /* No job: the member is left out, and a null one reads back the same. */
        {
                _cleanup_(metadata_freep) CheckpointMetadata *back = NULL;
                _cleanup_json_ JsonVariant *w = NULL, *n = NULL;
                _cleanup_free_ char *err = NULL;

                free(m->type);
                m->type = g_strdup("process");
                free(m->job);
                m->job = NULL;
                g_assert_cmpint(metadata_to_json(m, &w), ==, 0);
                g_assert_null(json_object_get(w, "job"));
                g_assert_cmpint(metadata_from_json(w, &back, &err), ==, 0);
                g_assert_null(back->job);

                g_assert_cmpint(json_new_null(&n), ==, 0);
                g_assert_cmpint(json_object_set(w, "job", TAKE_PTR(n)), ==, 0);
                reseal(w);
                metadata_free(back);
                back = NULL;
                g_assert_cmpint(metadata_from_json(w, &back, &err), ==, 0);
                g_assert_null(back->job);
        }
}

static void test_json_roundtrip(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f), *back = NULL;
        _cleanup_json_ JsonVariant *v = NULL, *reparsed = NULL;
        _cleanup_free_ char *err = NULL, *text = NULL;
        const char *checksum;

        g_assert_cmpint(metadata_to_json(m, &v), ==, 0);
        /* The checksum is last, and covers the compact form of the rest. */
        g_assert_cmpstr(json_object_key_at(v, json_elements(v) - 1), ==, "checksum");
        checksum = json_string(json_object_get(v, "checksum"));
        g_assert_nonnull(checksum);
        g_assert_true(g_str_has_prefix(checksum, "crc32:"));
        g_assert_cmpuint(strlen(checksum), ==, 14);

        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, 0);
        g_assert_null(err);
        assert_metadata_equal(m, back);

        /* Through text and back. */
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &text), ==, 0);
        g_assert_cmpint(json_parse(text, strlen(text), &reparsed, NULL), ==, 0);
        metadata_free(back);
        back = NULL;
        g_assert_cmpint(metadata_from_json(reparsed, &back, &err), ==, 0);
        assert_metadata_equal(m, back);
}

static void test_write_read_verify(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        _cleanup_free_ char *err = NULL;
        g_autofree char *p = fixture_file(f, METADATA_FILENAME);
        GDir *d;
        const char *name;
        unsigned n = 0;
        struct stat st;

        g_assert_cmpint(metadata_read(f->fd, &back, &err), ==, 0);
        g_assert_null(err);
        assert_metadata_equal(m, back);
        g_assert_cmpint(metadata_verify(back, f->fd, &err), ==, 0);
        g_assert_null(err);

        /* No temporary file left behind, and cedana.json is a regular file. */
        d = g_dir_open(f->path, 0, NULL);
        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d)))
                n++;
        g_dir_close(d);
        g_assert_cmpuint(n, ==, 5);
        g_assert_cmpint(lstat(p, &st), ==, 0);
        g_assert_true(S_ISREG(st.st_mode));

        /* Writing again replaces it. */
        m->pid = 99;
        g_assert_cmpint(metadata_write(m, f->fd), ==, 0);
        metadata_free(back);
        back = NULL;
        g_assert_cmpint(metadata_read(f->fd, &back, &err), ==, 0);
        g_assert_cmpint(back->pid, ==, 99);
}

static void test_corrupt_byte(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        g_autofree char *p = fixture_file(f, "pages-1.img");
        int fd;
        char c;

        g_assert_cmpint(metadata_read(f->fd, &back, NULL), ==, 0);

        fd = open(p, O_RDWR | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pread(fd, &c, 1, 1024 * 1024 + 5), ==, 1);
        c ^= 0x01;
        g_assert_cmpint(pwrite(fd, &c, 1, 1024 * 1024 + 5), ==, 1);
        close(fd);

        assert_verify_fails(f, back, "Checkpoint file pages-1.img is corrupt (checksum mismatch).");
}

static void test_truncated(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        g_autofree char *p = fixture_file(f, "pages-1.img");

        g_assert_cmpint(metadata_read(f->fd, &back, NULL), ==, 0);
        g_assert_cmpint(truncate(p, 1024 * 1024), ==, 0);
        assert_verify_fails(f, back, "Checkpoint file pages-1.img is truncated: 1048576 of 2097152 bytes.");

        g_assert_cmpint(truncate(p, PAGES_SIZE + 1), ==, 0);
        assert_verify_fails(f, back, "Checkpoint file pages-1.img is larger than recorded: 2097153 instead of 2097152 bytes.");
}

static void test_missing(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        g_autofree char *p = fixture_file(f, "core-1.img");

        g_assert_cmpint(metadata_read(f->fd, &back, NULL), ==, 0);
        g_assert_cmpint(unlink(p), ==, 0);
        assert_verify_fails(f, back, "Checkpoint file core-1.img is missing.");
}

static void test_extra(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        g_autofree char *sub = fixture_file(f, "zz-dir");
        g_autofree char *extra = fixture_file(f, "extra.img");

        g_assert_cmpint(metadata_read(f->fd, &back, NULL), ==, 0);
        write_file(f, "extra.img", "x", 1);
        assert_verify_fails(f, back, "Checkpoint contains an unexpected file extra.img.");

        g_assert_cmpint(g_unlink(extra), ==, 0);
        g_assert_cmpint(metadata_verify(back, f->fd, NULL), ==, 0);

        g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
        assert_verify_fails(f, back, "Checkpoint contains an unexpected file zz-dir.");
        g_assert_cmpint(g_rmdir(sub), ==, 0);

        /* A name that would be unsafe to print is not echoed. */
        write_file(f, "evil\033[2Jname", "x", 1);
        assert_verify_fails(f, back, "Checkpoint contains an unexpected file with an invalid name.");
}

static void test_symlink(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f), *back = NULL;
        g_autofree char *p = fixture_file(f, "core-1.img");
        g_autofree char *outside = g_strconcat(f->path, "-outside", NULL);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(metadata_read(f->fd, &back, NULL), ==, 0);

        /* The target has the very same content, so only the type gives it away. */
        g_assert_true(g_file_set_contents(outside, "hello", 5, &error));
        g_assert_cmpint(unlink(p), ==, 0);
        g_assert_cmpint(symlink(outside, p), ==, 0);
        assert_verify_fails(f, back, "Checkpoint file core-1.img is not a regular file.");
        g_assert_cmpint(g_unlink(outside), ==, 0);

        /* A fifo in its place is refused without blocking. */
        g_assert_cmpint(unlink(p), ==, 0);
        g_assert_cmpint(mkfifo(p, 0600), ==, 0);
        assert_verify_fails(f, back, "Checkpoint file core-1.img is not a regular file.");
}

static void test_metadata_flip(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f);
        g_autofree char *text = read_metadata_text(f);
        char *pid = strstr(text, "\"pid\": 4242,");

        /* One digit of the pid: still valid JSON, still a valid pid, but not what was written. */
        g_assert_nonnull(pid);
        pid[STRLEN("\"pid\": 42")] = '5';
        write_file(f, METADATA_FILENAME, text, strlen(text));
        assert_read_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is corrupt: checksum mismatch.");
}

static void test_metadata_flip_file_crc(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f);
        g_autofree char *text = read_metadata_text(f);
        char *crc = strstr(text, "\"crc32\": \"3610a686\"");

        /* Someone "fixing" a file's recorded checksum is caught too. */
        g_assert_nonnull(crc);
        crc[STRLEN("\"crc32\": \"")] = '4';
        write_file(f, METADATA_FILENAME, text, strlen(text));
        assert_read_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is corrupt: checksum mismatch.");
}

static void test_metadata_not_json(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f);
        g_autofree char *text = read_metadata_text(f);

        /* A flipped byte that breaks the syntax. */
        text[0] = '[';
        write_file(f, METADATA_FILENAME, text, strlen(text));
        assert_read_fails(f, -EBADMSG,
                          "The checkpoint's metadata (cedana.json) is not valid JSON: "
                          "line 2, column 19: unexpected character ':', expected ',' or ']'.");

        write_file(f, METADATA_FILENAME, "", 0);
        assert_read_fails(f, -EBADMSG,
                          "The checkpoint's metadata (cedana.json) is not valid JSON: "
                          "line 1, column 1: unexpected end of input, expected a value.");
}

static void test_metadata_missing(Fixture *f, gconstpointer data) {
        g_autofree char *p = fixture_file(f, METADATA_FILENAME);
        g_autofree char *big = NULL;

        assert_read_fails(f, -ENOENT, "Not a cedana checkpoint: cedana.json is missing.");

        g_assert_cmpint(symlink("core-1.img", p), ==, 0);
        assert_read_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is not a regular file.");
        g_assert_cmpint(unlink(p), ==, 0);

        g_assert_cmpint(g_mkdir(p, 0700), ==, 0);
        assert_read_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is not a regular file.");
        g_assert_cmpint(g_rmdir(p), ==, 0);

        big = g_strnfill(METADATA_MAX_SIZE + 1, ' ');
        write_file(f, METADATA_FILENAME, big, METADATA_MAX_SIZE + 1);
        assert_read_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is too large (more than 4194304 bytes).");
}

static void test_newer_version(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f);
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *text = read_metadata_text(f), *out = NULL, *err = NULL;
        CheckpointMetadata *back = NULL;

        g_assert_cmpint(json_parse(text, strlen(text), &v, NULL), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(v, "format_version", METADATA_FORMAT_VERSION + 1), ==, 0);
        /* A newer format may add members we do not know. */
        g_assert_cmpint(json_object_set_string(v, "future", "x"), ==, 0);
        reseal(v);
        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, -EPROTONOSUPPORT);
        g_assert_null(back);
        g_assert_nonnull(strstr(err, "written by a newer cedana"));

        /* The same from disk, even with the checksum left stale. */
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &out), ==, 0);
        write_file(f, METADATA_FILENAME, out, strlen(out));
        assert_read_fails(f, -EPROTONOSUPPORT,
                          "The checkpoint was written by a newer cedana (metadata format version 2, this cedana "
                          "reads up to version 1); upgrade cedana to restore it.");
}

/* Applies an edit to a valid document, reseals it, and expects metadata_from_json() to refuse
 * it with a message that contains what. */
static void assert_edit_refused(JsonVariant *(*edit)(JsonVariant *v), const char *what) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL, *back = NULL;
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *err = NULL;

        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("cp1");
        m->type = g_strdup("process");
        m->pid = 1234;
        m->uid = 1000;
        g_assert_cmpint(metadata_add_file(m, "a.img", 1, 0x11111111), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "b.img", 2, 0x22222222), ==, 0);
        g_assert_cmpint(metadata_to_json(m, &v), ==, 0);

        /* Unedited, it is accepted: the refusal below is the edit's doing. */
        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, 0);
        metadata_free(back);
        back = NULL;

        edit(v);
        reseal(v);
        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, -EBADMSG);
        g_assert_null(back);
        g_assert_nonnull(err);
        if (!strstr(err, what))
                g_test_message("unexpected error: %s", err);
        g_assert_nonnull(strstr(err, what));
}

static JsonVariant *files_entry(JsonVariant *v, size_t i) {
        return json_array_get(json_object_get(v, "files"), i);
}

static JsonVariant *edit_dotdot(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "name", "../x"), ==, 0);
        return v;
}
static JsonVariant *edit_slash(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "name", "/etc/passwd"), ==, 0);
        return v;
}
static JsonVariant *edit_dot(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "name", ".."), ==, 0);
        return v;
}
static JsonVariant *edit_self(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "name", METADATA_FILENAME), ==, 0);
        return v;
}
static JsonVariant *edit_duplicate(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 1), "name", "a.img"), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(files_entry(v, 1), "size", 1), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(v, "size", 2), ==, 0);
        return v;
}
static JsonVariant *edit_size_sum(JsonVariant *v) {
        g_assert_cmpint(json_object_set_unsigned(v, "size", 4), ==, 0);
        return v;
}
static JsonVariant *edit_crc_format(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "crc32", "1111111"), ==, 0);
        return v;
}
static JsonVariant *edit_crc_upper(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "crc32", "ABCDEF01"), ==, 0);
        return v;
}
static JsonVariant *edit_negative_size(JsonVariant *v) {
        g_assert_cmpint(json_object_set_integer(files_entry(v, 0), "size", -1), ==, 0);
        return v;
}
static JsonVariant *edit_unknown_member(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "exec", "/bin/sh"), ==, 0);
        return v;
}
static JsonVariant *edit_unknown_option(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(json_object_get(v, "options"), "action_script", "x"), ==, 0);
        return v;
}
static JsonVariant *edit_compression(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(json_object_get(v, "options"), "compression", "bzip2"), ==, 0);
        return v;
}
static JsonVariant *edit_pid_zero(JsonVariant *v) {
        g_assert_cmpint(json_object_set_unsigned(v, "pid", 0), ==, 0);
        return v;
}
static JsonVariant *edit_pid_string(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "pid", "1234"), ==, 0);
        return v;
}
static JsonVariant *edit_uid_huge(JsonVariant *v) {
        g_assert_cmpint(json_object_set_unsigned(v, "uid", UINT32_MAX), ==, 0);
        return v;
}
static JsonVariant *edit_type(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "type", "vm"), ==, 0);
        return v;
}
static JsonVariant *edit_job_type_without_job(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "type", "job"), ==, 0);
        return v;
}
static JsonVariant *edit_remove_id(JsonVariant *v) {
        g_assert_cmpint(json_object_remove(v, "id"), ==, 1);
        return v;
}
static JsonVariant *edit_remove_files(JsonVariant *v) {
        g_assert_cmpint(json_object_remove(v, "files"), ==, 1);
        return v;
}
static JsonVariant *edit_bool_type(JsonVariant *v) {
        g_assert_cmpint(json_object_set_unsigned(json_object_get(v, "options"), "shell_job", 1), ==, 0);
        return v;
}
static JsonVariant *edit_hostname_escape(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "hostname", "host\033[2J"), ==, 0);
        return v;
}
static JsonVariant *edit_version_zero(JsonVariant *v) {
        g_assert_cmpint(json_object_set_unsigned(v, "format_version", 0), ==, 0);
        return v;
}
static JsonVariant *edit_id_path(JsonVariant *v) {
        g_assert_cmpint(json_object_set_string(v, "id", "../../etc"), ==, 0);
        return v;
}

static void test_refused_edits(void) {
        assert_edit_refused(edit_dotdot, "has an invalid file name");
        assert_edit_refused(edit_slash, "has an invalid file name");
        assert_edit_refused(edit_dot, "has an invalid file name");
        assert_edit_refused(edit_self, "has an invalid file name");
        assert_edit_refused(edit_duplicate, "file a.img is listed twice");
        assert_edit_refused(edit_size_sum, "member \"size\" is not the sum of the file sizes");
        assert_edit_refused(edit_crc_format, "file a.img has no valid crc32");
        assert_edit_refused(edit_crc_upper, "file a.img has no valid crc32");
        assert_edit_refused(edit_negative_size, "file a.img has no valid size");
        assert_edit_refused(edit_unknown_member, "unknown member \"exec\" in the top-level object");
        assert_edit_refused(edit_unknown_option, "unknown member \"action_script\" in \"options\"");
        assert_edit_refused(edit_compression, "member \"options.compression\" is missing or unknown");
        assert_edit_refused(edit_pid_zero, "member \"pid\" must be an integer between 1 and 2147483647");
        assert_edit_refused(edit_pid_string, "member \"pid\" must be an integer");
        assert_edit_refused(edit_uid_huge, "member \"uid\" must be an integer between 0 and 4294967294");
        assert_edit_refused(edit_type, "member \"type\" must be");
        assert_edit_refused(edit_job_type_without_job, "needs a member \"job\"");
        assert_edit_refused(edit_remove_id, "member \"id\" is missing");
        assert_edit_refused(edit_remove_files, "member \"files\" is missing");
        assert_edit_refused(edit_bool_type, "member \"shell_job\" must be a boolean");
        assert_edit_refused(edit_hostname_escape, "member \"hostname\" contains control characters");
        assert_edit_refused(edit_version_zero, "member \"format_version\" is missing or not a positive integer");
        assert_edit_refused(edit_id_path, "member \"id\" is not a valid checkpoint name");
}

static void test_bad_name_on_disk(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) _unused_ CheckpointMetadata *m = scan_and_write(f);
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *text = read_metadata_text(f), *out = NULL;

        /* "../x" in a checkpoint read from disk, with a correct checksum. */
        g_assert_cmpint(json_parse(text, strlen(text), &v, NULL), ==, 0);
        g_assert_cmpint(json_object_set_string(files_entry(v, 0), "name", "../x"), ==, 0);
        reseal(v);
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &out), ==, 0);
        write_file(f, METADATA_FILENAME, out, strlen(out));
        assert_read_fails(f, -EBADMSG,
                          "The checkpoint's metadata (cedana.json) is invalid: entry 0 of \"files\" has an invalid "
                          "file name.");
}

static void test_missing_checksum(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *err = NULL;
        CheckpointMetadata *back = NULL;

        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("cp1");
        m->type = g_strdup("runc");
        m->pid = 1;
        g_assert_cmpint(metadata_to_json(m, &v), ==, 0);

        g_assert_cmpint(json_object_remove(v, "checksum"), ==, 1);
        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, -EBADMSG);
        g_assert_cmpstr(err, ==,
                        "The checkpoint's metadata (cedana.json) is invalid: member \"checksum\" is missing or not a "
                        "string.");
        free(err);
        err = NULL;

        g_assert_cmpint(json_object_set_string(v, "checksum", "md5:00000000"), ==, 0);
        g_assert_cmpint(metadata_from_json(v, &back, &err), ==, -EBADMSG);
        g_assert_nonnull(strstr(err, "crc32:xxxxxxxx"));
        g_assert_null(back);
}

/* Big files are checksummed in two halves on two threads; the combination must be the crc32
 * of the whole, and verification must still catch a flipped byte in either half. */
static void test_big_file_crc(Fixture *f, gconstpointer data) {
        const size_t size = (100u << 20) + 12345;
        g_autofree unsigned char *buf = g_malloc(size);
        uint64_t x = 88172645463325252ULL;
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (unsigned char) x;
        }
        g_autofree char *path = g_build_filename(f->path, "pages-9.img", NULL);
        g_assert_true(g_file_set_contents(path, (const char *) buf, (gssize) size, NULL));
        uint32_t want = (uint32_t) crc32_z(crc32_z(0, Z_NULL, 0), buf, size);

        CheckpointMetadata *m = NULL;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(metadata_scan_dir(m, f->fd), ==, 0);
        const CheckpointFile *big = NULL;
        for (size_t i = 0; i < m->n_files; i++)
                if (streq(m->files[i].name, "pages-9.img"))
                        big = &m->files[i];
        g_assert_nonnull(big);
        g_assert_cmpuint(big->size, ==, size);
        g_assert_cmphex(big->crc32, ==, want);
        g_assert_cmpint(metadata_verify(m, f->fd, NULL), ==, 0);

        for (size_t at = 0; at < 2; at++) {
                size_t off = at == 0 ? 1000 : size - 1000;
                buf[off] ^= 0x20;
                g_assert_true(g_file_set_contents(path, (const char *) buf, (gssize) size, NULL));
                char *err = NULL;
                g_assert_cmpint(metadata_verify(m, f->fd, &err), ==, -EBADMSG);
                g_assert_nonnull(strstr(err, "pages-9.img"));
                free(err);
                buf[off] ^= 0x20;
        }
        metadata_free(m);
}

/* The list archive_extract() hands back: m's files as they were, plus cedana.json. */
static ArchiveFileList *extracted_list(const CheckpointMetadata *m) {
        ArchiveFileList *l = g_new0(ArchiveFileList, 1);

        l->n_allocated = m->n_files + 2;
        l->files = g_new0(ArchiveFile, l->n_allocated);
        for (size_t i = 0; i < m->n_files; i++)
                l->files[l->n_files++] = (ArchiveFile) {
                        .name = strdup(m->files[i].name), .size = m->files[i].size, .crc32 = m->files[i].crc32
                };
        l->files[l->n_files++] = (ArchiveFile) { .name = strdup(METADATA_FILENAME), .size = 1234 };
        return l;
}

static void assert_extracted_fails(const CheckpointMetadata *m, const ArchiveFileList *l, const char *expected) {
        _cleanup_free_ char *err = NULL;

        g_assert_cmpint(metadata_verify_extracted(m, l, &err), ==, -EBADMSG);
        g_assert_cmpstr(err, ==, expected);
}

static ssize_t index_of(const ArchiveFileList *l, const char *name) {
        const ArchiveFile *a = archive_file_list_find(l, name);
        g_assert_nonnull(a);
        return a - l->files;
}

static void test_verify_extracted(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        _cleanup_(archive_file_list_freep) ArchiveFileList *l = extracted_list(m);
        ssize_t pages = index_of(l, "pages-1.img");

        g_assert_cmpint(metadata_verify_extracted(m, l, NULL), ==, 0);

        l->files[pages].crc32 ^= 1;
        assert_extracted_fails(m, l, "Checkpoint file pages-1.img is corrupt (checksum mismatch).");
        l->files[pages].crc32 ^= 1;

        l->files[pages].size--;
        assert_extracted_fails(m, l, "Checkpoint file pages-1.img is truncated: 2097151 of 2097152 bytes.");
        l->files[pages].size++;

        l->files[l->n_files++] = (ArchiveFile) { .name = strdup("stray.img") };
        assert_extracted_fails(m, l, "Checkpoint contains an unexpected file stray.img.");
        free(l->files[--l->n_files].name);

        /* Dropping an entry: swap the last one into its place. */
        free(l->files[pages].name);
        l->files[pages] = l->files[--l->n_files];
        assert_extracted_fails(m, l, "Checkpoint file pages-1.img is missing.");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/metadata/scan", test_scan);
        ADD("/metadata/scan-refuses-special", test_scan_refuses_special);
        g_test_add_func("/metadata/add-file", test_add_file);
        g_test_add_func("/metadata/json-layout", test_json_layout);
        ADD("/metadata/json-roundtrip", test_json_roundtrip);
        ADD("/metadata/write-read-verify", test_write_read_verify);
        ADD("/metadata/corrupt-byte", test_corrupt_byte);
        ADD("/metadata/truncated", test_truncated);
        ADD("/metadata/missing", test_missing);
        ADD("/metadata/extra", test_extra);
        ADD("/metadata/symlink", test_symlink);
        ADD("/metadata/metadata-flip", test_metadata_flip);
        ADD("/metadata/metadata-flip-file-crc", test_metadata_flip_file_crc);
        ADD("/metadata/metadata-not-json", test_metadata_not_json);
        ADD("/metadata/metadata-missing", test_metadata_missing);
        ADD("/metadata/newer-version", test_newer_version);
        g_test_add_func("/metadata/refused-edits", test_refused_edits);
        ADD("/metadata/bad-name-on-disk", test_bad_name_on_disk);
        g_test_add_func("/metadata/missing-checksum", test_missing_checksum);
        ADD("/metadata/big-file-crc", test_big_file_crc);
        ADD("/metadata/verify-extracted", test_verify_extracted);
#undef ADD

        return g_test_run();
}
