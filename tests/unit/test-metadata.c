/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for cedana.json and the verifier: the format and its digest (checked against GLib's own
 * SHA-256 and the documented rule), the format of cedana 0.1, every kind of damage to a
 * checkpoint directory, and a record's digest that must match. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "json-util.h"
#include "metadata.h"
#include "strv.h"
#include "verifier.h"

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

#include "test-util.h"

#define PAGES_SIZE (2 * 1024 * 1024)

typedef struct Fixture {
        char *path;
        int fd;
} Fixture;

static char *fixture_file(Fixture *f, const char *name) {
        return g_build_filename(f->path, name, NULL);
}

static void write_file(Fixture *f, const char *name, const void *data, size_t size) {
        g_autofree char *p = fixture_file(f, name);
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_set_contents(p, data, (gssize) size, &error));
        g_assert_no_error(error);
}

static char *read_text(Fixture *f, const char *name, size_t *ret_size) {
        g_autofree char *p = fixture_file(f, name);
        g_autoptr(GError) error = NULL;
        char *text = NULL;
        gsize n = 0;
        g_assert_true(g_file_get_contents(p, &text, &n, &error));
        g_assert_no_error(error);
        if (ret_size)
                *ret_size = n;
        return text;
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

static char *sha256_of(const void *data, size_t size) {
        return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
}

static CheckpointMetadata *new_metadata(void) {
        CheckpointMetadata *m = NULL;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("dump-process-4242-1700000000");
        m->type = g_strdup("process");
        m->pid = 4242;
        m->uid = 1000;
        m->time_usec = UINT64_C(1700000000123456);
        m->hostname = g_strdup("builder");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.2.0");
        m->command = strv_copy((char *[]) { (char *) "python3", (char *) "-c", (char *) "print(1)", NULL });
        m->options.compression = COMPRESSION_ZSTD;
        m->options.tcp_established = true;
        m->options.link_remap = true;
        g_assert_cmpint(strv_extend(&m->options.external, "unix[12345]"), ==, 0);
        return m;
}

/* The fixture's files, hashed here with GLib: what a dump records. */
static CheckpointMetadata *scan(Fixture *f) {
        CheckpointMetadata *m = new_metadata();
        const char *names[] = { "core-1.img", "empty.img", "inventory.img", "pages-1.img" };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                size_t n;
                g_autofree char *text = read_text(f, names[i], &n);
                g_autofree char *sha = sha256_of(text, n);
                g_assert_cmpint(metadata_add_file(m, names[i], n, sha), ==, 0);
        }
        return m;
}

static void write_metadata(Fixture *f, CheckpointMetadata *m) {
        g_assert_cmpint(metadata_write(m, f->fd, NULL), ==, 0);
}

/* The documented rule, on its own: the document without "checksum", pretty-printed, gets the
 * member appended, and the digest covers every byte before it. */
static char *seal(json_t *v) {
        (void) json_object_del(v, "checksum");
        _cleanup_free_ char *body = NULL;
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &body), ==, 0);
        size_t l = strlen(body);
        g_assert_cmpstr(body + l - 3, ==, "\n}\n");
        g_autofree char *prefix = g_strdup_printf("%.*s,\n  ", (int) (l - 3), body);
        g_autofree char *sha = sha256_of(prefix, strlen(prefix));
        return g_strdup_printf("%s\"checksum\": \"sha256:%s\"\n}\n", prefix, sha);
}

static void assert_parse_fails(const char *text, size_t n, int error, const char *expected) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(metadata_parse(text, n, &m, &err), ==, error);
        g_assert_null(m);
        g_assert_nonnull(err);
        if (!strstr(err, expected))
                g_test_message("unexpected error: %s", err);
        g_assert_nonnull(strstr(err, expected));
}

static void test_layout_and_digest(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        char digest[METADATA_DIGEST_SIZE];
        size_t n;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("dump-job-famous_hopper7-1");
        m->type = g_strdup("job");
        m->job = g_strdup("famous_hopper7");
        m->pid = 77;
        m->time_usec = 1;
        m->hostname = g_strdup("h");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.2.0");
        m->options.compression = COMPRESSION_NONE;
        m->options.leave_running = true;
        m->options.file_locks = true;
        const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        g_assert_cmpint(metadata_add_file(m, "core-1.img", 123, sha), ==, 0);
        g_assert_cmpint(metadata_format(m, &text, &n, digest), ==, 0);

        const char *prefix =
                "{\n"
                "  \"format_version\": 3,\n"
                "  \"id\": \"dump-job-famous_hopper7-1\",\n"
                "  \"type\": \"job\",\n"
                "  \"pid\": 77,\n"
                "  \"job\": \"famous_hopper7\",\n"
                "  \"uid\": 0,\n"
                "  \"time_usec\": 1,\n"
                "  \"hostname\": \"h\",\n"
                "  \"criu_version\": \"4.2.1\",\n"
                "  \"cedana_version\": \"0.2.0\",\n"
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
                "      \"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n"
                "    }\n"
                "  ],\n"
                "  ";
        g_autofree char *expected_sha = sha256_of(prefix, strlen(prefix));
        g_autofree char *expected = g_strdup_printf("%s\"checksum\": \"sha256:%s\"\n}\n", prefix, expected_sha);
        g_assert_cmpstr(text, ==, expected);
        g_assert_cmpuint(n, ==, strlen(expected));
        g_autofree char *expected_digest = g_strdup_printf("sha256:%s", expected_sha);
        g_assert_cmpstr(digest, ==, expected_digest);

        /* Read back: the same, with the same digest; with space padding (archives reserve room
         * for it) too. */
        g_assert_cmpint(metadata_parse(text, n, &back, &err), ==, 0);
        g_assert_cmpstr(back->digest, ==, digest);
        g_assert_cmpstr(back->job, ==, "famous_hopper7");
        g_assert_cmpstr(back->files[0].sha256, ==, sha);
        g_autofree char *padded = g_strdup_printf("%s        ", text);
        metadata_free(back);
        back = NULL;
        g_assert_cmpint(metadata_parse(padded, strlen(padded), &back, &err), ==, 0);
        g_assert_cmpstr(back->digest, ==, digest);

        /* Anything else after it is not the document that was written. */
        g_autofree char *tail = g_strdup_printf("%s\n", text);
        assert_parse_fails(tail, strlen(tail), -EBADMSG, "does not end with its \"checksum\" member");
        /* A flipped byte anywhere before the checksum. */
        for (size_t i = 0; i < n - 90; i += 97) {
                g_autofree char *flip = g_strdup(text);
                flip[i] ^= 0x01;
                _cleanup_(metadata_freep) CheckpointMetadata *bad = NULL;
                _cleanup_free_ char *e = NULL;
                g_assert_cmpint(metadata_parse(flip, n, &bad, &e), ==, -EBADMSG);
        }
}

/* text with its "checksum" member computed again, as a forger would. */
static char *reseal(const char *text) {
        const char *c = strstr(text, "\"checksum\"");
        g_assert_nonnull(c);
        g_autofree char *prefix = g_strndup(text, (gsize) (c - text));
        g_autofree char *sha = sha256_of(prefix, strlen(prefix));
        return g_strdup_printf("%s\"checksum\": \"sha256:%s\"\n}\n", prefix, sha);
}

/* Format 3: where each entry starts in the archive, when known; read back as written. A format 2
 * document knows no such member. */
static void test_offsets(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        char digest[METADATA_DIGEST_SIZE];
        size_t n;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("c");
        m->type = g_strdup("process");
        m->pid = 7;
        m->hostname = g_strdup("h");
        m->criu_version = g_strdup("4.2.1");
        m->cedana_version = g_strdup("0.2.0");
        const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        g_assert_cmpint(metadata_add_file(m, "pages-1.img", 8192, sha), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "core-1.img", 10, sha), ==, 0);
        g_assert_cmpuint(m->files[0].at, ==, METADATA_NO_OFFSET);
        g_assert_cmpint(metadata_set_file_offset(m, "pages-1.img", 4608), ==, 0);
        g_assert_cmpint(metadata_set_file_offset(m, "mm-1.img", 1), ==, -ENOENT);
        const uint64_t frames[] = { 4608, 5129, 7000, 9000 }, backwards[] = { 4608, 5000, 4900 };
        g_assert_cmpint(metadata_set_file_frames(m, "pages-1.img", backwards, 3), ==, -EINVAL);
        g_assert_cmpint(metadata_set_file_frames(m, "pages-1.img", frames + 1, 3), ==, -EINVAL);
        g_assert_cmpint(metadata_set_file_frames(m, "pages-1.img", frames, 4), ==, 0);
        g_assert_cmpint(metadata_format(m, &text, &n, digest), ==, 0);
        g_assert_nonnull(strstr(text, "\"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\n      \"at\": 4608,\n      \"frames\": [\n"));
        g_assert_cmpint(metadata_parse(text, n, &back, &err), ==, 0);
        g_assert_cmpuint(metadata_find_file(back, "pages-1.img")->at, ==, 4608);
        g_assert_cmpuint(metadata_find_file(back, "core-1.img")->at, ==, METADATA_NO_OFFSET);
        g_assert_cmpuint(metadata_find_file(back, "pages-1.img")->n_frames, ==, 4);
        g_assert_cmpuint(metadata_find_file(back, "pages-1.img")->frames[3], ==, 9000);
        /* Frames that go backwards, sealed as a forger would. */
        g_autofree char *bad_frames = g_strdup(text);
        char *seven = strstr(bad_frames, "7000");
        g_assert_nonnull(seven);
        memcpy(seven, "5000", 4);
        g_autofree char *bad_sealed = reseal(bad_frames);
        assert_parse_fails(bad_sealed, strlen(bad_sealed), -EBADMSG, "no valid \"frames\"");

        /* A negative offset, and "at" in a format 2 document. */
        g_autofree char *negative = g_strdup(text);
        char *at = strstr(negative, "\"at\": 4608");
        memcpy(at, "\"at\": -608", 10);
        g_autofree char *negative_sealed = reseal(negative);
        assert_parse_fails(negative_sealed, strlen(negative_sealed), -EBADMSG, "no valid offset");
        g_autofree char *v2 = g_strdup(text);
        strstr(v2, "\"format_version\": 3")[18] = '2';
        g_autofree char *v2_sealed = reseal(v2);
        assert_parse_fails(v2_sealed, strlen(v2_sealed), -EBADMSG, "unknown member");
}

static void test_v1_fixture(void) {
        g_autofree char *text = NULL;
        gsize n = 0;
        g_assert_true(g_file_get_contents(SRCDIR "/tests/unit/data/v1-cedana.json", &text, &n, NULL));
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_free_ char *err = NULL;
        /* Written by cedana 0.1: it still reads, crc32s and all; it vouches for nothing. */
        g_assert_cmpint(metadata_parse(text, n, &m, &err), ==, 0);
        g_assert_cmpuint(m->format_version, ==, 1);
        g_assert_cmpstr(m->digest, ==, "");
        g_assert_cmpstr(m->hostname, ==, "h\xc3\xb6st-1");
        g_assert_cmpuint(m->n_files, ==, 2);
        g_assert_cmpuint(m->files[0].crc32, ==, 0x1234abcd);
        g_assert_cmpstr(m->options.attach_pipes[1], ==, "pipe:[222]");
        /* its crc32 over the compact form still catches a flipped byte */
        char *p = strstr(text, "\"pid\": 4242");
        g_assert_nonnull(p);
        p[8] = '3';
        assert_parse_fails(text, n, -EBADMSG, "checksum mismatch");
}

/* An attached job's terminal round-trips; a malformed one, or one beside pipes, is refused. */
static void test_attach_tty(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = new_metadata();
        m->options.attach_tty = g_strdup("tty[8803:19]");
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t n = 0;
        char digest[METADATA_DIGEST_SIZE];
        g_assert_cmpint(metadata_format(m, &text, &n, digest), ==, 0);
        _cleanup_(metadata_freep) CheckpointMetadata *back = NULL;
        g_assert_cmpint(metadata_parse(text, n, &back, &err), ==, 0);
        g_assert_cmpstr(back->options.attach_tty, ==, "tty[8803:19]");

        free(m->options.attach_tty);
        m->options.attach_tty = g_strdup("tty[8803:19]/../x");
        _cleanup_free_ char *bad = NULL;
        g_assert_cmpint(metadata_format(m, &bad, &n, digest), ==, 0);
        assert_parse_fails(bad, n, -EBADMSG, "member \"options.attach_tty\" is not a terminal");

        free(m->options.attach_tty);
        m->options.attach_tty = g_strdup("tty[8803:19]");
        g_assert_cmpint(strv_extend(&m->options.attach_pipes, "pipe:[1]"), ==, 0);
        g_assert_cmpint(strv_extend(&m->options.attach_pipes, "pipe:[2]"), ==, 0);
        _cleanup_free_ char *both = NULL;
        g_assert_cmpint(metadata_format(m, &both, &n, digest), ==, 0);
        assert_parse_fails(both, n, -EBADMSG, "exclude each other");

        /* its modes, as `stty -g` writes them, round-trip; anything else is refused */
        strv_free(m->options.attach_pipes);
        m->options.attach_pipes = NULL;
        m->options.attach_tty_modes = g_strdup("500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0");
        _cleanup_free_ char *modes = NULL, *err2 = NULL;
        g_assert_cmpint(metadata_format(m, &modes, &n, digest), ==, 0);
        _cleanup_(metadata_freep) CheckpointMetadata *back2 = NULL;
        g_assert_cmpint(metadata_parse(modes, n, &back2, &err2), ==, 0);
        g_assert_cmpstr(back2->options.attach_tty_modes, ==, m->options.attach_tty_modes);
        free(m->options.attach_tty_modes);
        m->options.attach_tty_modes = g_strdup("500:5:bf:8a3b");
        _cleanup_free_ char *short_modes = NULL;
        g_assert_cmpint(metadata_format(m, &short_modes, &n, digest), ==, 0);
        assert_parse_fails(short_modes, n, -EBADMSG, "member \"options.attach_tty_modes\" is not the modes");
}

static CheckpointMetadata *container_metadata(const char *id, const char *root, const char *bundle) {
        CheckpointMetadata *m = new_metadata();
        free(m->type);
        m->type = g_strdup("runc");
        m->container = (CheckpointContainer) { .runtime = g_strdup("runc"), .id = g_strdup(id), .root = g_strdup(root),
                                               .bundle = g_strdup(bundle) };
        return m;
}

static void assert_container_refused(CheckpointMetadata *m, const char *expected) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        char digest[METADATA_DIGEST_SIZE];
        g_assert_cmpint(metadata_format(m, &text, &n, digest), ==, 0);
        assert_parse_fails(text, n, -EBADMSG, expected);
}

/* m written as cedana.json and read back. */
static CheckpointMetadata *roundtrip(const CheckpointMetadata *m) {
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t n = 0;
        char digest[METADATA_DIGEST_SIZE];
        g_assert_cmpint(metadata_format(m, &text, &n, digest), ==, 0);
        CheckpointMetadata *back = NULL;
        g_assert_cmpint(metadata_parse(text, n, &back, &err), ==, 0);
        return back;
}

static void test_container(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = container_metadata("web-1", "/run/runc", "/srv/bundles/web");
        _cleanup_(metadata_freep) CheckpointMetadata *back = roundtrip(m);
        g_assert_cmpstr(back->type, ==, "runc");
        g_assert_cmpstr(back->container.runtime, ==, "runc");
        g_assert_cmpstr(back->container.id, ==, "web-1");
        g_assert_cmpstr(back->container.root, ==, "/run/runc");
        g_assert_cmpstr(back->container.bundle, ==, "/srv/bundles/web");

        /* A container's checkpoint says which container; nothing else claims to be one. */
        _cleanup_(metadata_freep) CheckpointMetadata *bare = new_metadata();
        free(bare->type);
        bare->type = g_strdup("runc");
        assert_container_refused(bare, "if and only if its type is a container runtime");
        _cleanup_(metadata_freep) CheckpointMetadata *process = container_metadata("web-1", "/run/runc", "/b");
        free(process->type);
        process->type = g_strdup("process");
        assert_container_refused(process, "if and only if its type is a container runtime");
        _cleanup_(metadata_freep) CheckpointMetadata *id = container_metadata("../web", "/run/runc", "/b");
        assert_container_refused(id, "member \"container.id\" is not a valid container id");
        _cleanup_(metadata_freep) CheckpointMetadata *rel = container_metadata("web", "run/runc", "/b");
        assert_container_refused(rel, "must be absolute paths");
        _cleanup_(metadata_freep) CheckpointMetadata *runtime = container_metadata("web", "/run/runc", "/b");
        free(runtime->container.runtime);
        runtime->container.runtime = g_strdup("crun");
        assert_container_refused(runtime, "member \"container.runtime\" must be \"runc\" or \"containerd\"");
}

static CheckpointMetadata *containerd_metadata(const char *namespace) {
        CheckpointMetadata *m = new_metadata();
        free(m->type);
        m->type = g_strdup("containerd");
        m->container = (CheckpointContainer) { .runtime = g_strdup("containerd"), .id = g_strdup("web-1"),
                                               .namespace = g_strdup(namespace),
                                               .image = g_strdup("docker.io/library/nginx:1"),
                                               .snapshotter = g_strdup("overlayfs"),
                                               .parent = g_strdup("sha256:0123") };
        return m;
}

static void test_containerd(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = containerd_metadata("k8s.io");
        _cleanup_(metadata_freep) CheckpointMetadata *back = roundtrip(m);
        g_assert_cmpstr(back->type, ==, "containerd");
        g_assert_cmpstr(back->container.runtime, ==, "containerd");
        g_assert_cmpstr(back->container.id, ==, "web-1");
        g_assert_cmpstr(back->container.namespace, ==, "k8s.io");
        g_assert_cmpstr(back->container.image, ==, "docker.io/library/nginx:1");
        g_assert_cmpstr(back->container.snapshotter, ==, "overlayfs");
        g_assert_cmpstr(back->container.parent, ==, "sha256:0123");
        g_assert_null(back->container.root);

        /* A runc checkpoint is not restored as containerd's, nor the other way round. */
        _cleanup_(metadata_freep) CheckpointMetadata *mixed = containerd_metadata("default");
        free(mixed->type);
        mixed->type = g_strdup("runc");
        assert_container_refused(mixed, "if and only if its type is a container runtime");
        _cleanup_(metadata_freep) CheckpointMetadata *ns = containerd_metadata("../etc");
        assert_container_refused(ns, "member \"container.namespace\" is not a containerd namespace");
}

static void test_newer_version(void) {
        const char *text = "{\"format_version\": 4, \"checksum\": \"sha512:whatever\"}";
        assert_parse_fails(text, strlen(text), -EPROTONOSUPPORT,
                           "newer cedana (metadata format version 4, this cedana reads up to version 3)");
}

static void test_add_file(void) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = new_metadata();
        const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        g_assert_cmpint(metadata_add_file(m, "b.img", 2, sha), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "a.img", 1, sha), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "a.img", 1, sha), ==, -EEXIST);
        g_assert_cmpint(metadata_add_file(m, "../x", 1, sha), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, METADATA_FILENAME, 1, sha), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "c.img", 1, "ABC"), ==, -EINVAL);
        g_assert_cmpint(metadata_add_file(m, "c.img", INT64_MAX, sha), ==, -EOVERFLOW);
        g_assert_cmpstr(m->files[0].name, ==, "a.img");
        g_assert_cmpuint(m->size, ==, 3);
        g_assert_nonnull(metadata_find_file(m, "b.img"));
        g_assert_null(metadata_find_file(m, "c.img"));
}

/* Applies an edit to a valid document, seals it by the rule, and expects it refused with a
 * message containing what. */
static void assert_edit_refused(void (*edit)(json_t *v), const char *what) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = new_metadata();
        _cleanup_free_ char *text = NULL;
        const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        g_assert_cmpint(metadata_add_file(m, "a.img", 1, sha), ==, 0);
        g_assert_cmpint(metadata_add_file(m, "b.img", 2, sha), ==, 0);
        size_t n;
        g_assert_cmpint(metadata_format(m, &text, &n, NULL), ==, 0);
        _cleanup_json_ json_t *v = NULL;
        g_assert_cmpint(json_parse_strict(text, n, &v, NULL), ==, 0);
        /* Unedited and sealed by the rule, it is accepted: the refusal is the edit's doing. */
        g_autofree char *same = seal(v);
        g_assert_cmpstr(same, ==, text);
        edit(v);
        g_autofree char *edited = seal(v);
        assert_parse_fails(edited, strlen(edited), -EBADMSG, what);
}

static json_t *files_entry(json_t *v, size_t i) {
        return json_array_get(json_object_get(v, "files"), i);
}

static void edit_dotdot(json_t *v) { json_object_set_new(files_entry(v, 0), "name", json_string("../x")); }
static void edit_slash(json_t *v) { json_object_set_new(files_entry(v, 0), "name", json_string("/etc/passwd")); }
static void edit_self(json_t *v) { json_object_set_new(files_entry(v, 0), "name", json_string(METADATA_FILENAME)); }
static void edit_duplicate(json_t *v) {
        json_object_set_new(files_entry(v, 1), "name", json_string("a.img"));
        json_object_set_new(files_entry(v, 1), "size", json_integer(1));
        json_object_set_new(v, "size", json_integer(2));
}
static void edit_size_sum(json_t *v) { json_object_set_new(v, "size", json_integer(4)); }
static void edit_sha_format(json_t *v) { json_object_set_new(files_entry(v, 0), "sha256", json_string("abc")); }
static void edit_sha_upper(json_t *v) {
        json_object_set_new(files_entry(v, 0), "sha256",
                            json_string("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"));
}
static void edit_crc_in_v2(json_t *v) { json_object_set_new(files_entry(v, 0), "crc32", json_string("11111111")); }
static void edit_negative_size(json_t *v) { json_object_set_new(files_entry(v, 0), "size", json_integer(-1)); }
static void edit_unknown_member(json_t *v) { json_object_set_new(v, "exec", json_string("/bin/sh")); }
static void edit_unknown_option(json_t *v) {
        json_object_set_new(json_object_get(v, "options"), "action_script", json_string("x"));
}
static void edit_compression(json_t *v) {
        json_object_set_new(json_object_get(v, "options"), "compression", json_string("bzip2"));
}
static void edit_pid_zero(json_t *v) { json_object_set_new(v, "pid", json_integer(0)); }
static void edit_uid_huge(json_t *v) { json_object_set_new(v, "uid", json_integer(UINT32_MAX)); }
static void edit_type(json_t *v) { json_object_set_new(v, "type", json_string("vm")); }
static void edit_job_type_without_job(json_t *v) { json_object_set_new(v, "type", json_string("job")); }
static void edit_remove_files(json_t *v) { json_object_del(v, "files"); }
static void edit_bool_type(json_t *v) { json_object_set_new(json_object_get(v, "options"), "shell_job", json_integer(1)); }
static void edit_hostname_escape(json_t *v) { json_object_set_new(v, "hostname", json_string("host\033[2J")); }
static void edit_command_escape(json_t *v) { json_object_set_new(v, "command", json_pack("[s]", "sh\nrm")); }
static void edit_id_path(json_t *v) { json_object_set_new(v, "id", json_string("../../etc")); }

static void test_refused_edits(void) {
        assert_edit_refused(edit_dotdot, "has an invalid file name");
        assert_edit_refused(edit_slash, "has an invalid file name");
        assert_edit_refused(edit_self, "has an invalid file name");
        assert_edit_refused(edit_duplicate, "file a.img is listed twice");
        assert_edit_refused(edit_size_sum, "member \"size\" is not the sum of the file sizes");
        assert_edit_refused(edit_sha_format, "file a.img has no valid sha256");
        assert_edit_refused(edit_sha_upper, "file a.img has no valid sha256");
        assert_edit_refused(edit_crc_in_v2, "unknown member \"crc32\" in an entry of \"files\"");
        assert_edit_refused(edit_negative_size, "file a.img has no valid size");
        assert_edit_refused(edit_unknown_member, "unknown member \"exec\" in the top-level object");
        assert_edit_refused(edit_unknown_option, "unknown member \"action_script\" in \"options\"");
        assert_edit_refused(edit_compression, "member \"options.compression\" is missing or unknown");
        assert_edit_refused(edit_pid_zero, "member \"pid\" must be an integer between 1 and 2147483647");
        assert_edit_refused(edit_uid_huge, "member \"uid\" must be an integer between 0 and 4294967294");
        assert_edit_refused(edit_type, "member \"type\" must be");
        assert_edit_refused(edit_job_type_without_job, "needs a member \"job\"");
        assert_edit_refused(edit_remove_files, "member \"files\" is missing");
        assert_edit_refused(edit_bool_type, "member \"shell_job\" must be a boolean");
        assert_edit_refused(edit_hostname_escape, "member \"hostname\" contains control characters");
        assert_edit_refused(edit_command_escape, "member \"command\" contains an invalid entry");
        assert_edit_refused(edit_id_path, "member \"id\" is not a valid checkpoint name");
}

/* ---- the verifier on directories ---- */

static int check_dir(Fixture *f, const char *expected_digest, char **reterr) {
        _cleanup_(verifier_freep) Verifier *v = NULL;
        g_assert_cmpint(verifier_new(expected_digest, &v), ==, 0);
        return verifier_check_dir(v, f->fd, reterr);
}

static void assert_dir_fails(Fixture *f, int error, const char *expected) {
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(check_dir(f, NULL, &err), ==, error);
        g_assert_nonnull(err);
        if (!strstr(err, expected))
                g_test_message("unexpected error: %s", err);
        g_assert_nonnull(strstr(err, expected));
}

static void test_dir_ok(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        char digest[METADATA_DIGEST_SIZE];
        g_assert_cmpint(metadata_write(m, f->fd, digest), ==, 0);
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(check_dir(f, NULL, &err), ==, 0);
        g_assert_cmpint(check_dir(f, digest, &err), ==, 0);
        g_assert_null(err);
        /* what cedana.json says the file is, sha256sum would say too */
        size_t n;
        g_autofree char *pages = read_text(f, "pages-1.img", &n);
        g_autofree char *sha = sha256_of(pages, n);
        g_assert_cmpstr(metadata_find_file(m, "pages-1.img")->sha256, ==, sha);
}

static void test_dir_record_digest(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        write_metadata(f, m);
        /* Another valid checkpoint at the recorded place is still not the recorded one. */
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(check_dir(f, "sha256:0000000000000000000000000000000000000000000000000000000000000000", &err),
                        ==, -ESTALE);
        g_assert_nonnull(strstr(err, "changed since cedana wrote it"));
}

static void test_dir_flipped_byte(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        write_metadata(f, m);
        size_t n;
        g_autofree char *pages = read_text(f, "pages-1.img", &n);
        pages[n / 2] ^= 0x40;
        write_file(f, "pages-1.img", pages, n);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file pages-1.img is corrupt (SHA-256 mismatch).");
}

static void test_dir_truncated_and_grown(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        write_metadata(f, m);
        write_file(f, "core-1.img", "hell", 4);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file core-1.img is truncated: 4 of 5 bytes.");
        write_file(f, "core-1.img", "hello!", 6);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file core-1.img is larger than recorded");
}

static void test_dir_missing_extra(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        write_metadata(f, m);
        write_file(f, "extra.img", "x", 1);
        assert_dir_fails(f, -EBADMSG, "The checkpoint contains an unexpected file extra.img.");
        g_autofree char *extra = fixture_file(f, "extra.img");
        g_assert_cmpint(g_unlink(extra), ==, 0);
        g_autofree char *core = fixture_file(f, "core-1.img");
        g_assert_cmpint(g_unlink(core), ==, 0);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file core-1.img is missing.");
}

static void test_dir_special_files(Fixture *f, gconstpointer data) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = scan(f);
        write_metadata(f, m);
        g_autofree char *core = fixture_file(f, "core-1.img");
        g_assert_cmpint(g_unlink(core), ==, 0);
        /* a symlink to a secret, then a FIFO that would block a reader */
        g_assert_cmpint(symlink("/etc/shadow", core), ==, 0);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file core-1.img is not a regular file.");
        g_assert_cmpint(g_unlink(core), ==, 0);
        g_assert_cmpint(mkfifo(core, 0600), ==, 0);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file core-1.img is not a regular file.");
        /* cedana.json itself as a symlink */
        g_autofree char *meta = fixture_file(f, METADATA_FILENAME);
        g_autofree char *moved = fixture_file(f, "real.json");
        g_assert_cmpint(rename(meta, moved), ==, 0);
        g_assert_cmpint(symlink("real.json", meta), ==, 0);
        assert_dir_fails(f, -EBADMSG, "The checkpoint's metadata (cedana.json) is not a regular file.");
        g_assert_cmpint(g_unlink(meta), ==, 0);
        assert_dir_fails(f, -ENOENT, "Not a cedana checkpoint: cedana.json is missing.");
}

/* A directory checkpoint as cedana 0.1 wrote it: crc32s, and a crc32 over the compact form (the
 * rule test_v1_fixture checks against that version's own output). */
static void test_dir_v1(Fixture *f, gconstpointer data) {
        const char *names[] = { "core-1.img", "empty.img", "inventory.img", "pages-1.img" };
        _cleanup_json_ json_t *files = json_array();
        uint64_t total = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                size_t n;
                g_autofree char *text = read_text(f, names[i], &n);
                char crc[9];
                g_snprintf(crc, sizeof(crc), "%08lx", crc32(crc32(0, NULL, 0), (const Bytef *) text, (uInt) n));
                json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name", names[i], "size", (json_int_t) n,
                                                       "crc32", crc));
                total += n;
        }
        _cleanup_json_ json_t *v = json_pack(
                "{s:i, s:s, s:s, s:i, s:i, s:I, s:s, s:s, s:s, s:{s:s, s:b, s:b, s:b, s:b, s:b, s:[]}, s:I, s:O}",
                "format_version", 1, "id", "old", "type", "process", "pid", 7, "uid", 0, "time_usec", (json_int_t) 1,
                "hostname", "h", "criu_version", "4.2.1", "cedana_version", "0.1.0", "options", "compression", "none",
                "leave_running", 0, "tcp_established", 0, "file_locks", 0, "shell_job", 0, "link_remap", 0,
                "external", "size", (json_int_t) total, "files", files);
        _cleanup_free_ char *compact = NULL, *pretty = NULL;
        g_assert_cmpint(json_format(v, 0, &compact), ==, 0);
        char checksum[16];
        g_snprintf(checksum, sizeof(checksum), "crc32:%08lx",
                   crc32(crc32(0, NULL, 0), (const Bytef *) compact, (uInt) strlen(compact)));
        json_object_set_new(v, "checksum", json_string(checksum));
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &pretty), ==, 0);
        write_file(f, METADATA_FILENAME, pretty, strlen(pretty));

        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(check_dir(f, NULL, &err), ==, 0);
        /* nothing vouches for it: a record's digest never matches */
        g_assert_cmpint(check_dir(f, "sha256:0000000000000000000000000000000000000000000000000000000000000000", &err),
                        ==, -ESTALE);
        size_t n;
        g_autofree char *pages = read_text(f, "pages-1.img", &n);
        pages[1] ^= 0x01;
        write_file(f, "pages-1.img", pages, n);
        assert_dir_fails(f, -EBADMSG, "Checkpoint file pages-1.img is corrupt (checksum mismatch).");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/metadata/layout-and-digest", test_layout_and_digest);
        g_test_add_func("/metadata/offsets", test_offsets);
        g_test_add_func("/metadata/v1-fixture", test_v1_fixture);
        g_test_add_func("/metadata/newer-version", test_newer_version);
        g_test_add_func("/metadata/attach-tty", test_attach_tty);
        g_test_add_func("/metadata/container", test_container);
        g_test_add_func("/metadata/containerd", test_containerd);
        g_test_add_func("/metadata/add-file", test_add_file);
        g_test_add_func("/metadata/refused-edits", test_refused_edits);
        g_test_add("/verifier/dir-ok", Fixture, NULL, fixture_setup, test_dir_ok, fixture_teardown);
        g_test_add("/verifier/dir-record-digest", Fixture, NULL, fixture_setup, test_dir_record_digest, fixture_teardown);
        g_test_add("/verifier/dir-flipped-byte", Fixture, NULL, fixture_setup, test_dir_flipped_byte, fixture_teardown);
        g_test_add("/verifier/dir-truncated-and-grown", Fixture, NULL, fixture_setup, test_dir_truncated_and_grown,
                   fixture_teardown);
        g_test_add("/verifier/dir-missing-extra", Fixture, NULL, fixture_setup, test_dir_missing_extra, fixture_teardown);
        g_test_add("/verifier/dir-special-files", Fixture, NULL, fixture_setup, test_dir_special_files, fixture_teardown);
        g_test_add("/verifier/dir-v1", Fixture, NULL, fixture_setup, test_dir_v1, fixture_teardown);
        return g_test_run();
}
