/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for streaming checkpoint archives: the tar writer with sizes patched after the fact, and
 * the collector following files while another thread writes them the way CRIU does. */

#include "archive-index.h"
#include "archive-stream.h"
#include "archive.h"
#include "capture.h"
#include "codec.h"
#include "collector.h"
#include "digest.h"
#include "fd-util.h"
#include "macro.h"
#include "metadata.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

static const Compression formats[] = {
        COMPRESSION_TAR, COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_ZLIB, COMPRESSION_ZSTD,
};

typedef struct Fixture {
        char *root;
        int root_fd;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;
        f->root = g_dir_make_tmp("test-collector-XXXXXX", &error);
        g_assert_no_error(error);
        f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->root_fd, >=, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        g_assert_cmpint(rm_rf_at(AT_FDCWD, f->root), ==, 0);
        close(f->root_fd);
        g_free(f->root);
}

static guint8 *pattern(size_t n, guint32 seed) {
        guint8 *p = g_malloc(MAX(n, (size_t) 1));
        guint32 x = seed | 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                /* half text-like, half noise: both compressible and not */
                p[i] = (i / 4096) % 2 ? (guint8) x : (guint8) ('a' + x % 7);
        }
        return p;
}

static int open_dir(Fixture *f, const char *name) {
        g_assert_cmpint(mkdirat(f->root_fd, name, 0700), ==, 0);
        int fd = openat(f->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static void assert_file(int dir_fd, const char *name, const guint8 *data, size_t n) {
        _cleanup_free_ char *got = NULL;
        size_t len = 0;
        g_assert_cmpint(read_full_file_at(dir_fd, name, n + 1, &got, &len), ==, 0);
        g_assert_cmpmem(got, len, data, n);
}

/* Entries written whole and streamed (size patched later) extract to the same files. */
static void test_stream_roundtrip(Fixture *f, gconstpointer data) {
        const size_t big = 9 * 1024 * 1024 + 77;
        g_autofree guint8 *a = pattern(1000, 1), *b = pattern(big, 2);
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                Compression c = formats[i];
                g_autofree char *dir = g_strdup_printf("out-%s", compression_to_string(c));
                _cleanup_close_ int dest = open_dir(f, dir);
                _cleanup_close_ int fd = openat(f->root_fd, "a.archive", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                _cleanup_(archive_stream_freep) ArchiveStream *s = NULL;
                g_assert_cmpint(archive_stream_new(fd, c, 2, &s), ==, 0);
                g_assert_cmpint(archive_stream_add(s, "small.img", a, 1000), ==, 0);
                g_assert_cmpint(archive_stream_begin(s, "pages-1.img"), ==, 0);
                g_assert_cmpint(archive_stream_add(s, "nested.img", a, 1), ==, -EBUSY);
                for (size_t off = 0; off < big; off += 300000)
                        g_assert_cmpint(archive_stream_write(s, b + off, MIN((size_t) 300000, big - off)), ==, 0);
                g_assert_cmpint(archive_stream_end(s), ==, 0);
                g_assert_cmpint(archive_stream_begin(s, "empty.img"), ==, 0);
                g_assert_cmpint(archive_stream_end(s), ==, 0);
                g_assert_cmpint(archive_stream_add(s, "cedana.json", "{}", 2), ==, 0);
                g_assert_cmpint(archive_stream_finish(s), ==, 0);

                g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
                char *reason = NULL;
                g_assert_cmpint(archive_extract(fd, dest, NULL, NULL, NULL, &reason), ==, 0);
                g_assert_null(reason);
                assert_file(dest, "small.img", a, 1000);
                assert_file(dest, "pages-1.img", b, big);
                assert_file(dest, "empty.img", a, 0);

                /* and GNU tar reads it too */
                g_autofree char *cmd = g_strdup_printf("tar -t -a -f %s/a.archive %s", f->root,
                                                       c == COMPRESSION_ZSTD ? "--zstd" : c == COMPRESSION_GZIP ? "-z" : "");
                if (c != COMPRESSION_LZ4 && c != COMPRESSION_ZLIB) {
                        gchar *out = NULL;
                        gint status = -1;
                        g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, NULL));
                        g_assert_true(g_spawn_check_wait_status(status, NULL));
                        g_assert_cmpstr(out, ==, "small.img\npages-1.img\nempty.img\ncedana.json\n");
                        g_free(out);
                }
        }
}

static int note_offset(const char *name, uint64_t offset, const uint64_t *frames, size_t n_frames, void *userdata) {
        g_assert_cmpuint(n_frames, >=, 2);
        g_assert_cmpuint(frames[0], ==, offset);
        int r = metadata_set_file_offset(userdata, name, offset);
        if (r >= 0 && g_str_has_prefix(name, "pages-"))
                r = metadata_set_file_frames(userdata, name, frames, n_frames);
        return r;
}

static void add_listed(CheckpointMetadata *m, const char *name, const guint8 *data, size_t n) {
        char hex[SHA256_HEX_SIZE];
        g_assert_cmpint(sha256_hex(data, n, hex), ==, 0);
        g_assert_cmpint(metadata_add_file(m, name, n, hex), ==, 0);
}

static void assert_entry(int fd, Compression c, const CheckpointMetadata *m, const char *name, const guint8 *data,
                         size_t n) {
        _cleanup_(entry_reader_freep) EntryReader *e = NULL;
        _cleanup_free_ char *err = NULL;
        ArchiveSource src = { .fd = fd };
        g_assert_cmpint(entry_reader_open(&src, c, m, metadata_find_file(m, name), &e, &err), ==, 0);
        g_autofree guint8 *got = g_malloc(n + 1);
        size_t len = 0;
        for (ssize_t k; (k = entry_reader_read(e, got + len, n + 1 - len)) != 0; len += (size_t) k)
                g_assert_cmpint(k, >, 0);
        g_assert_cmpmem(got, len, data, n);
}

/* Every entry can be read on its own, in any order, from where the index says it starts: what a
 * streamed restore does; and the archive's end is checked without reading the rest. */
static void test_stream_index(Fixture *f, gconstpointer data) {
        const size_t big = 5 * 1024 * 1024 + 333;
        g_autofree guint8 *a = pattern(3000, 5), *b = pattern(big, 6);
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                Compression c = formats[i];
                _cleanup_close_ int fd = openat(f->root_fd, "i.archive", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                _cleanup_(archive_stream_freep) ArchiveStream *s = NULL;
                _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
                g_assert_cmpint(metadata_new(&m), ==, 0);
                add_listed(m, "core-1.img", a, 3000);
                add_listed(m, "pages-1.img", b, big);
                add_listed(m, "inventory.img", a, 17);
                g_assert_cmpint(archive_stream_new(fd, c, 2, &s), ==, 0);
                g_assert_cmpint(archive_stream_reserve(s, "cedana.json", 4096), ==, 0);
                const char *names[] = { "pages-1.img", "core-1.img", "inventory.img" };
                const guint8 *datas[] = { b, a, a };
                size_t sizes[] = { big, 3000, 17 };
                for (size_t k = 0; k < 3; k++) {
                        g_assert_cmpint(archive_stream_begin(s, names[k]), ==, 0);
                        for (size_t off = 0; off < sizes[k]; off += 700000)
                                g_assert_cmpint(archive_stream_write(s, datas[k] + off, MIN((size_t) 700000, sizes[k] - off)), ==, 0);
                        g_assert_cmpint(archive_stream_end(s), ==, 0);
                }
                g_assert_cmpint(archive_stream_index(s, note_offset, m), ==, 0);
                g_assert_true(archive_is_indexed(m));
                g_assert_cmpint(archive_stream_fill(s, "{\"x\": 1}", 8), ==, 0);
                g_assert_cmpint(archive_stream_finish(s), ==, 0);

                _cleanup_free_ char *text = NULL, *err = NULL;
                size_t n = 0;
                g_assert_cmpint(archive_read_leading_metadata(fd, c, &text, &n, &err), ==, 0);
                g_assert_cmpuint(n, ==, 4096);
                g_assert_true(g_str_has_prefix(text, "{\"x\": 1}    "));
                assert_entry(fd, c, m, "inventory.img", a, 17);
                assert_entry(fd, c, m, "pages-1.img", b, big);
                assert_entry(fd, c, m, "core-1.img", a, 3000);
                /* Frame by frame, as a restore decodes a page image on several cores: the header
                 * first, then the data (and the tar padding after it). */
                const CheckpointFile *pf = metadata_find_file(m, "pages-1.img");
                g_assert_cmpuint(pf->n_frames, >=, 4);
                g_autofree guint8 *whole = g_malloc(big + (4 << 20)), *in = g_malloc(8 << 20);
                size_t have = 0;
                for (size_t k = 0; k + 1 < pf->n_frames; k++) {
                        size_t len = pf->frames[k + 1] - pf->frames[k], out = 0;
                        g_assert_cmpint(pread(fd, in, len, (off_t) pf->frames[k]), ==, (ssize_t) len);
                        g_assert_cmpint(codec_decode_frame(c, in, len, whole + have, (2 << 20) + 4096, &out), ==, 0);
                        if (k == 0)
                                g_assert_true(archive_header_is(whole, out, pf));
                        else
                                have += out;
                }
                g_assert_cmpuint(have, >=, big);
                g_assert_cmpmem(whole, big, b, big);
                ArchiveSource src = { .fd = fd };
                g_assert_cmpint(archive_check_end(&src, c, m, &err), ==, 0);

                /* A place that is not the entry's, garbage after the end, a cut end. */
                CheckpointFile wrong = *metadata_find_file(m, "core-1.img");
                wrong.at = metadata_find_file(m, "inventory.img")->at;
                _cleanup_(entry_reader_freep) EntryReader *e = NULL;
                g_assert_cmpint(entry_reader_open(&src, c, m, &wrong, &e, &err), ==, -EBADMSG);
                g_assert_nonnull(strstr(err, "core-1.img is not where its metadata says it is"));
                err = mfree(err);
                struct stat st;
                g_assert_cmpint(fstat(fd, &st), ==, 0);
                g_assert_cmpint(pwrite(fd, "garbage", 7, st.st_size), ==, 7);
                g_assert_cmpint(archive_check_end(&src, c, m, &err), ==, -EBADMSG);
                g_assert_nonnull(strstr(err, "after the end"));
                err = mfree(err);
                g_assert_cmpint(ftruncate(fd, st.st_size - 20), ==, 0);
                g_assert_cmpint(archive_check_end(&src, c, m, &err), ==, -EBADMSG);
                err = mfree(err);
        }
}

/* CRIU's side of a streamed dump: each image announced on the socket, its pipe passed along. */
static int announce(int sock, const char *name) {
        /* img_streamer_request_entry { filename = 1 }, packed by hand: field 1, length, bytes */
        guint8 buf[256];
        size_t l = strlen(name);
        g_assert_cmpuint(l, <, 128);
        guint32 len = (guint32) (2 + l);
        memcpy(buf, &len, 4);
        buf[4] = 0x0a, buf[5] = (guint8) l;
        memcpy(buf + 6, name, l);
        g_assert_cmpint(loop_write(sock, buf, 4 + len), ==, 0);
        int p[2];
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        char byte = 0;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &p[0], sizeof(int));
        g_assert_cmpint(sendmsg(sock, &mh, 0), ==, 1);
        close(p[0]);
        return p[1];
}

typedef struct FakeCriu {
        int dir_fd;
        const guint8 *pages, *pagemap, *small;
        size_t pages_len, pagemap_len;
        int sock; /* left open, as CRIU keeps it until after post-dump */
} FakeCriu;

static void *fake_criu(void *userdata) {
        FakeCriu *w = userdata;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%i/" CAPTURE_SOCKET, w->dir_fd);
        w->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(connect(w->sock, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
        int core = announce(w->sock, "core-1.img");
        g_assert_cmpint(loop_write(core, w->small, 900), ==, 0);
        close(core);
        /* side by side, as CRIU writes a page image and its pagemap */
        int pages = announce(w->sock, "pages-1.img"), pagemap = announce(w->sock, "pagemap-1.img");
        size_t step = 256 * 1024;
        for (size_t a = 0, b = 0; a < w->pages_len || b < w->pagemap_len; a += step, b += step / 2) {
                if (a < w->pages_len)
                        g_assert_cmpint(loop_write(pages, w->pages + a, MIN(step, w->pages_len - a)), ==, 0);
                if (b < w->pagemap_len)
                        g_assert_cmpint(loop_write(pagemap, w->pagemap + b, MIN(step / 2, w->pagemap_len - b)), ==, 0);
        }
        close(pagemap);
        close(pages);
        int inventory = announce(w->sock, "inventory.img");
        g_assert_cmpint(loop_write(inventory, w->small, 33), ==, 0);
        close(inventory);
        return NULL;
}

/* Images from CRIU's stream go into the archive, one entry at a time whatever their order, the
 * ones that had to wait (beyond memory: in a file) right after; every digest as sent. */
static void test_capture(Fixture *f, gconstpointer data) {
        const size_t pages_len = 12 * 1024 * 1024 + 11, pagemap_len = 5 * 1024 * 1024 + 3;
        g_autofree guint8 *pages = pattern(pages_len, 7), *pagemap = pattern(pagemap_len, 8), *small = pattern(900, 9);
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                Compression c = formats[i];
                g_autofree char *name = g_strdup_printf("cap-%s", compression_to_string(c));
                _cleanup_close_ int staging = open_dir(f, name);
                _cleanup_close_ int fd = openat(staging, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                _cleanup_(archive_stream_freep) ArchiveStream *s = NULL;
                _cleanup_(capture_freep) Capture *cap = NULL;
                _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
                g_assert_cmpint(metadata_new(&m), ==, 0);
                g_assert_cmpint(archive_stream_new(fd, c, 2, &s), ==, 0);
                g_assert_cmpint(capture_start(staging, getuid(), getgid(), s, NULL, NULL, &cap), ==, 0);
                FakeCriu w = { .dir_fd = staging, .pages = pages, .pages_len = pages_len, .pagemap = pagemap,
                               .pagemap_len = pagemap_len, .small = small, .sock = -1 };
                pthread_t t;
                g_assert_cmpint(pthread_create(&t, NULL, fake_criu, &w), ==, 0);
                g_assert_cmpint(pthread_join(t, NULL), ==, 0);
                g_assert_cmpint(capture_finish(cap, m), ==, 0);
                close(w.sock);
                g_assert_cmpuint(m->n_files, ==, 4);
                char hex[SHA256_HEX_SIZE];
                g_assert_cmpint(sha256_hex(pagemap, pagemap_len, hex), ==, 0);
                g_assert_cmpstr(metadata_find_file(m, "pagemap-1.img")->sha256, ==, hex);
                g_assert_cmpuint(metadata_find_file(m, "pages-1.img")->size, ==, pages_len);
                g_assert_cmpint(archive_stream_index(s, note_offset, m), ==, 0);
                g_assert_cmpint(archive_stream_add(s, "cedana.json", "{}", 2), ==, 0);
                g_assert_cmpint(archive_stream_finish(s), ==, 0);
                assert_entry(fd, c, m, "pages-1.img", pages, pages_len);
                assert_entry(fd, c, m, "pagemap-1.img", pagemap, pagemap_len);
                assert_entry(fd, c, m, "inventory.img", small, 33);
                g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
                _cleanup_close_ int dest = open_dir(f, "out");
                _cleanup_free_ char *reason = NULL;
                g_assert_cmpint(archive_extract(fd, dest, NULL, NULL, NULL, &reason), ==, 0);
                assert_file(dest, "core-1.img", small, 900);
                assert_file(dest, "pagemap-1.img", pagemap, pagemap_len);
                g_assert_cmpint(rm_rf_at(f->root_fd, "out"), ==, 0);
        }
}

/* Like CRIU: small files written and closed, a page image appended to in pieces meanwhile. */
typedef struct Writer {
        int dir_fd;
        const guint8 *pages;
        size_t pages_len;
        const guint8 *small;
} Writer;

static void *write_images(void *userdata) {
        Writer *w = userdata;
        _cleanup_close_ int pages = openat(w->dir_fd, "pages-1.img", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        g_assert_cmpint(pages, >=, 0);
        for (size_t off = 0, i = 0; off < w->pages_len; off += 1 << 20, i++) {
                g_assert_cmpint(loop_write(pages, w->pages + off, MIN((size_t) 1 << 20, w->pages_len - off)), ==, 0);
                if (i % 3 == 0) {
                        char name[32];
                        snprintf(name, sizeof(name), "core-%zu.img", i);
                        _cleanup_close_ int s = openat(w->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                        g_assert_cmpint(loop_write(s, w->small, 100 + i), ==, 0);
                }
                g_usleep(2000);
        }
        return NULL;
}

static void test_collector(Fixture *f, gconstpointer data) {
        const size_t pages_len = 20 * 1024 * 1024 + 5;
        g_autofree guint8 *pages = pattern(pages_len, 3), *small = pattern(4096, 4);
        for (size_t i = 0; i < ELEMENTSOF(formats) + 1; i++) {
                /* the last round: no archive, checksums only (a directory checkpoint) */
                Compression c = i < ELEMENTSOF(formats) ? formats[i] : COMPRESSION_NONE;
                g_autofree char *name = g_strdup_printf("staging-%zu", i), *out = g_strdup_printf("out-%zu", i);
                _cleanup_close_ int staging = open_dir(f, name), dest = open_dir(f, out);
                _cleanup_close_ int fd = openat(f->root_fd, "b.archive", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                _cleanup_(archive_stream_freep) ArchiveStream *s = NULL;
                if (c != COMPRESSION_NONE)
                        g_assert_cmpint(archive_stream_new(fd, c, 2, &s), ==, 0);
                _cleanup_(collector_freep) Collector *col = NULL;
                g_assert_cmpint(collector_start(staging, s, NULL, NULL, &col), ==, 0);

                Writer w = { staging, pages, pages_len, small };
                pthread_t t;
                g_assert_cmpint(pthread_create(&t, NULL, write_images, &w), ==, 0);
                g_assert_cmpint(pthread_join(t, NULL), ==, 0);

                _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
                g_assert_cmpint(metadata_new(&m), ==, 0);
                g_assert_cmpint(collector_finish(col, m), ==, 0);
                /* every file, with the SHA-256 of what is on disk (computed here by GLib) */
                g_assert_cmpuint(m->n_files, ==, 1 + 7);
                for (size_t k = 0; k < m->n_files; k++) {
                        _cleanup_free_ char *content = NULL;
                        size_t n = 0;
                        g_assert_cmpint(read_full_file_at(staging, m->files[k].name, 64 << 20, &content, &n), ==, 0);
                        g_assert_cmpuint(m->files[k].size, ==, n);
                        g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guint8 *) content, n);
                        g_assert_cmpstr(m->files[k].sha256, ==, sha);
                }
                if (c == COMPRESSION_NONE)
                        continue;
                g_assert_cmpint(archive_stream_add(s, "cedana.json", "{}", 2), ==, 0);
                g_assert_cmpint(archive_stream_finish(s), ==, 0);
                g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
                g_assert_cmpint(archive_extract(fd, dest, NULL, NULL, NULL, NULL), ==, 0);
                assert_file(dest, "pages-1.img", pages, pages_len);
                assert_file(dest, "core-0.img", small, 100);
                assert_file(dest, "core-18.img", small, 118);
        }
}

/* A file that changes after it was taken in is reported, so the caller starts over. */
static void test_collector_changed_file(Fixture *f, gconstpointer data) {
        _cleanup_close_ int staging = open_dir(f, "staging");
        _cleanup_(collector_freep) Collector *col = NULL;
        g_assert_cmpint(collector_start(staging, NULL, NULL, NULL, &col), ==, 0);
        _cleanup_close_ int fd = openat(staging, "inventory.img", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        g_assert_cmpint(loop_write(fd, "abc", 3), ==, 0);
        fd = safe_close(fd);
        g_usleep(100000); /* taken in, whole, as it was closed */
        fd = openat(staging, "inventory.img", O_WRONLY | O_APPEND | O_CLOEXEC);
        g_assert_cmpint(loop_write(fd, "def", 3), ==, 0);
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        g_assert_cmpint(collector_finish(col, m), ==, -EAGAIN);
}

typedef struct Seen {
        uint64_t last;
        unsigned calls;
        uint64_t stop_after; /* bytes after which the hook asks to stop */
} Seen;

static int on_bytes(uint64_t bytes, void *userdata) {
        Seen *s = userdata;
        g_assert_cmpuint(bytes, >=, s->last);
        s->last = bytes;
        s->calls++;
        return s->stop_after > 0 && bytes >= s->stop_after ? -ECANCELED : 0;
}

/* The progress hook sees every byte taken in, growing; a negative answer stops the collector
 * with it (how a cancelled dump stops compressing). */
static void test_collector_progress_and_cancel(Fixture *f, gconstpointer data) {
        static char chunk[1 << 16];
        for (unsigned stop = 0; stop < 2; stop++) {
                g_autofree char *name = g_strdup_printf("staging-p%u", stop);
                _cleanup_close_ int staging = open_dir(f, name);
                _cleanup_(collector_freep) Collector *col = NULL;
                Seen seen = { .stop_after = stop ? sizeof(chunk) : 0 };
                g_assert_cmpint(collector_start(staging, NULL, on_bytes, &seen, &col), ==, 0);
                _cleanup_close_ int fd = openat(staging, "pages-1.img", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                for (unsigned i = 0; i < 16; i++)
                        g_assert_cmpint(loop_write(fd, chunk, sizeof(chunk)), ==, 0);
                fd = safe_close(fd);
                _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
                g_assert_cmpint(metadata_new(&m), ==, 0);
                if (stop)
                        g_assert_cmpint(collector_finish(col, m), ==, -ECANCELED);
                else {
                        g_assert_cmpint(collector_finish(col, m), ==, 0);
                        g_assert_cmpuint(seen.last, ==, 16 * sizeof(chunk));
                }
                g_assert_cmpuint(seen.calls, >, 0);
        }
}

/* A dump's archive: cedana.json reserved first and filled last, so a reader meets it before any
 * image; padded with spaces, which the metadata parser and tar accept. */
static void test_stream_reserved(Fixture *f, gconstpointer data) {
        g_autofree guint8 *b = pattern(3 * 1024 * 1024, 7);
        _cleanup_close_ int dest = open_dir(f, "out");
        _cleanup_close_ int fd = openat(f->root_fd, "r.archive", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        _cleanup_(archive_stream_freep) ArchiveStream *s = NULL;
        g_assert_cmpint(archive_stream_new(fd, COMPRESSION_ZSTD, 2, &s), ==, 0);
        g_assert_cmpint(archive_stream_reserve(s, "cedana.json", 1000), ==, -EINVAL);
        g_assert_cmpint(archive_stream_reserve(s, "cedana.json", 8192), ==, 0);
        g_assert_cmpint(archive_stream_add(s, "pages-1.img", b, 3 * 1024 * 1024), ==, 0);
        g_autofree char *big = g_malloc0(9000);
        g_assert_cmpint(archive_stream_fill(s, big, 9000), ==, -E2BIG);
        g_assert_cmpint(archive_stream_fill(s, "{\"a\": 1}\n", 9), ==, 0);
        g_assert_cmpint(archive_stream_finish(s), ==, 0);
        g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
        g_assert_cmpint(archive_extract(fd, dest, NULL, NULL, NULL, NULL), ==, 0);
        _cleanup_free_ char *json = NULL;
        size_t n = 0;
        g_assert_cmpint(read_full_file_at(dest, "cedana.json", 16384, &json, &n), ==, 0);
        g_assert_cmpuint(n, ==, 8192);
        g_assert_true(g_str_has_prefix(json, "{\"a\": 1}\n        "));
        assert_file(dest, "pages-1.img", b, 3 * 1024 * 1024);
        /* first in the archive, as GNU tar lists it */
        g_autofree char *cmd = g_strdup_printf("tar -t --zstd -f %s/r.archive", f->root);
        gchar *out = NULL;
        gint status = -1;
        g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_assert_cmpstr(out, ==, "cedana.json\npages-1.img\n");
        g_free(out);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/archive-stream/roundtrip", Fixture, NULL, setup, test_stream_roundtrip, teardown);
        g_test_add("/archive-stream/reserved", Fixture, NULL, setup, test_stream_reserved, teardown);
        g_test_add("/archive-stream/index", Fixture, NULL, setup, test_stream_index, teardown);
        g_test_add("/capture/criu-stream", Fixture, NULL, setup, test_capture, teardown);
        g_test_add("/collector/follows-writer", Fixture, NULL, setup, test_collector, teardown);
        g_test_add("/collector/progress-and-cancel", Fixture, NULL, setup, test_collector_progress_and_cancel, teardown);
        g_test_add("/collector/changed-file", Fixture, NULL, setup, test_collector_changed_file, teardown);
        return g_test_run();
}
