/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for archive.c: directory round trips in every format, and hostile archives (built here
 * with libarchive's writer) that must be refused without writing outside the destination. */

/* Ours first: glib redefines MIN/MAX after undefining them, macro.h does not. */
#include "archive.h"
#include "codec.h"
#include "compression.h"
#include "macro.h"
#include "metadata.h"
#include "verifier.h"

#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <libarchive.h>
#include <zlib.h>

static const Compression stream_formats[] = {
        COMPRESSION_TAR, COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_ZLIB, COMPRESSION_ZSTD,
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        /* make sure a test that left a read-only directory behind still cleans up */
        if (flag == FTW_DP)
                (void) chmod(path, 0700);
        return remove(path);
}

static void rm_tree(const char *path) {
        g_assert_cmpint(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
}

/* root/            everything a test touches
 *   etc/cron.d/    bait for "../../etc/cron.d/x"
 *   src/           directory to archive
 *   work/dest/     extraction target
 *   a.archive      archive file */
typedef struct Fixture {
        char *root;
        char *src;
        char *dest;
        char *archive;
        int src_fd;
        int dest_fd;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;
        g_autofree char *etc = NULL, *work = NULL;

        f->root = g_dir_make_tmp("cedana-test-archive-XXXXXX", &error);
        g_assert_no_error(error);
        etc = g_build_filename(f->root, "etc", "cron.d", NULL);
        g_assert_cmpint(g_mkdir_with_parents(etc, 0700), ==, 0);
        work = g_build_filename(f->root, "work", NULL);
        g_assert_cmpint(mkdir(work, 0700), ==, 0);
        f->src = g_build_filename(f->root, "src", NULL);
        g_assert_cmpint(mkdir(f->src, 0700), ==, 0);
        f->dest = g_build_filename(work, "dest", NULL);
        g_assert_cmpint(mkdir(f->dest, 0700), ==, 0);
        f->archive = g_build_filename(f->root, "a.archive", NULL);

        f->src_fd = open(f->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->src_fd, >=, 0);
        f->dest_fd = open(f->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->dest_fd, >=, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        safe_close(f->src_fd);
        safe_close(f->dest_fd);
        rm_tree(f->root);
        g_free(f->root);
        g_free(f->src);
        g_free(f->dest);
        g_free(f->archive);
}

/* Empties dest for the next case (its fd stays valid). */
static void fixture_clear_dest(Fixture *f) {
        GDir *d = g_dir_open(f->dest, 0, NULL);
        const char *name;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(f->dest, name, NULL);
                struct stat st;
                g_assert_cmpint(lstat(p, &st), ==, 0);
                if (S_ISDIR(st.st_mode))
                        rm_tree(p);
                else
                        g_assert_cmpint(unlink(p), ==, 0);
        }
        g_dir_close(d);
}

static GString *snapshot;
static const char *snapshot_skip_below, *snapshot_skip_file;

static int snapshot_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (g_str_has_prefix(path, snapshot_skip_below) || streq(path, snapshot_skip_file))
                return 0;
        /* directory sizes vary with the file system; regular file sizes do not */
        g_string_append_printf(snapshot, "%s %o %lld\n", path, (unsigned) st->st_mode,
                               S_ISREG(st->st_mode) ? (long long) st->st_size : 0LL);
        return 0;
}

/* Everything below root except dest's contents and the archive itself. */
static char *fixture_snapshot(Fixture *f) {
        g_autofree char *skip = g_strconcat(f->dest, "/", NULL);

        snapshot = g_string_new(NULL);
        snapshot_skip_below = skip;
        snapshot_skip_file = f->archive;
        g_assert_cmpint(nftw(f->root, snapshot_one, 16, FTW_PHYS), ==, 0);
        return g_string_free(g_steal_pointer(&snapshot), FALSE);
}

static char **dest_names(Fixture *f) {
        GPtrArray *a = g_ptr_array_new();
        GDir *d = g_dir_open(f->dest, 0, NULL);
        const char *name;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d)))
                g_ptr_array_add(a, g_strdup(name));
        g_dir_close(d);
        g_ptr_array_sort(a, (GCompareFunc) g_strcmp0);
        g_ptr_array_add(a, NULL);
        return (char **) g_ptr_array_free(a, FALSE);
}

static guint8 *make_random(size_t n, guint32 seed) {
        guint8 *p = g_malloc(MAX(n, (size_t) 1));
        GRand *rand = g_rand_new_with_seed(seed);
        for (size_t i = 0; i < n; i++)
                p[i] = (i >> 15) % 2 ? 0 : (guint8) g_rand_int(rand);
        g_rand_free(rand);
        return p;
}

/* Not g_file_set_contents(): its temporary name does not fit next to a 255-byte name. */
static void write_file_at(const char *dir, const char *name, const void *data, size_t n) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, data, n), ==, (ssize_t) n);
}

static guint8 *read_file_at(const char *dir, const char *name, size_t *ret_n) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        GError *error = NULL;
        gchar *data;
        gsize n;
        g_file_get_contents(p, &data, &n, &error);
        g_assert_no_error(error);
        *ret_n = n;
        return (guint8 *) data;
}

/* Writes raw bytes (a tar stream) to the archive file through the given codec. */
static void write_archive_file(Fixture *f, Compression c, const void *data, size_t n) {
        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
        _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(codec_writer_new(c, fd, 1, &w), ==, 0);
        g_assert_cmpint(codec_writer_write(w, data, n), ==, 0);
        g_assert_cmpint(codec_writer_finish(w), ==, 0);
}

static int extract_verified(Fixture *f, const ArchiveLimits *limits, Verifier *v, Compression *ret_format,
                            char **ret_reason) {
        _cleanup_close_ int fd = open(f->archive, O_RDONLY | O_CLOEXEC);
        char *reason = NULL;
        int r;

        g_assert_cmpint(fd, >=, 0);
        r = archive_extract(fd, f->dest_fd, limits, v, ret_format, &reason);
        if (r < 0 && r != -EAGAIN) {
                g_assert_nonnull(reason);
                g_test_message("refused (%s): %s", g_strerror(-r), reason);
        }
        if (ret_reason)
                *ret_reason = reason;
        else
                free(reason);
        return r;
}

static int extract(Fixture *f, const ArchiveLimits *limits, Compression *ret_format, char **ret_reason) {
        return extract_verified(f, limits, NULL, ret_format, ret_reason);
}

/* A cedana.json in src for the files named, each hashed here with GLib. */
static void write_metadata(Fixture *f, char *const *names, char ret_digest[METADATA_DIGEST_SIZE]) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        g_assert_cmpint(metadata_new(&m), ==, 0);
        m->id = g_strdup("a");
        m->type = g_strdup("process");
        m->pid = 1;
        for (char *const *n = names; *n; n++) {
                size_t size;
                g_autofree guint8 *data = read_file_at(f->src, *n, &size);
                g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
                g_assert_cmpint(metadata_add_file(m, *n, size, sha), ==, 0);
        }
        g_assert_cmpint(metadata_write(m, f->src_fd, ret_digest), ==, 0);
}

/* One hostile entry. */
typedef struct Entry {
        const char *name;
        unsigned type; /* AE_IF*; 0 = regular */
        const char *link; /* symlink target */
        const char *hardlink;
        unsigned mode; /* permission bits; 0 = 0644 */
        const char *data;
        int64_t size; /* -1: strlen(data) */
} Entry;

static GByteArray *build_tar(const Entry *entries, size_t n, int format) {
        struct archive *a = archive_write_new();
        size_t cap = 16 * 1024 * 1024, used = 0;
        guint8 *buf = g_malloc(cap);
        GByteArray *out;

        g_assert_nonnull(a);
        g_assert_cmpint(archive_write_set_format(a, format), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_open_memory(a, buf, cap, &used), ==, ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                const Entry *e = entries + i;
                struct archive_entry *ae = archive_entry_new();
                int64_t size = e->data ? (e->size >= 0 ? e->size : (int64_t) strlen(e->data)) : 0;

                archive_entry_set_pathname(ae, e->name);
                archive_entry_set_filetype(ae, e->type ?: AE_IFREG);
                archive_entry_set_perm(ae, e->mode ?: 0644);
                if (e->link)
                        archive_entry_set_symlink(ae, e->link);
                if (e->hardlink)
                        archive_entry_set_hardlink(ae, e->hardlink);
                if (e->type == AE_IFCHR)
                        archive_entry_set_rdev(ae, makedev(1, 3));
                archive_entry_set_size(ae, size);
                g_assert_cmpint(archive_write_header(a, ae), ==, ARCHIVE_OK);
                if (size > 0)
                        g_assert_cmpint(archive_write_data(a, e->data, (size_t) size), ==, size);
                archive_entry_free(ae);
        }
        g_assert_cmpint(archive_write_close(a), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_free(a), ==, ARCHIVE_OK);

        out = g_byte_array_new_take(buf, used);
        return out;
}

static void test_roundtrip(Fixture *f, gconstpointer user_data) {
        Compression c = GPOINTER_TO_INT(user_data);
        g_autofree guint8 *pages = make_random(3 * 1024 * 1024 + 123, 1);
        g_autofree guint8 *zeros = g_malloc0(1024 * 1024);
        g_autofree char *long_name = g_strnfill(255, 'n');
        const char *all[] = { "cedana.json", "core-1.img", "empty.img", "pages-1.img", "zero.img", long_name };
        char *order[] = { (char *) "cedana.json", (char *) "pages-1.img", (char *) "empty.img",
                          (char *) "core-1.img", (char *) "zero.img", long_name, NULL };
        uint64_t bytes_in = 0;

        write_file_at(f->src, "core-1.img", "core", 4);
        write_file_at(f->src, "empty.img", "", 0);
        write_file_at(f->src, "pages-1.img", pages, 3 * 1024 * 1024 + 123);
        write_file_at(f->src, "zero.img", zeros, 1024 * 1024);
        write_file_at(f->src, long_name, "long", 4);
        char digest[METADATA_DIGEST_SIZE];
        write_metadata(f, order + 1, digest);
        size_t json_size;
        g_free(read_file_at(f->src, "cedana.json", &json_size)); /* only its size matters here */
        /* not regular files: skipped when listing, refused when named */
        {
                g_autofree char *sub = g_build_filename(f->src, "subdir", NULL);
                g_autofree char *link = g_build_filename(f->src, "link", NULL);
                g_assert_cmpint(mkdir(sub, 0700), ==, 0);
                g_assert_cmpint(symlink("/etc/passwd", link), ==, 0);
        }

        for (int pass = 0; pass < 2; pass++) {
                _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                g_autofree char *reason = NULL;
                g_auto(GStrv) got = NULL;
                Compression detected = _COMPRESSION_INVALID;
                uint64_t expected = json_size + 4 + 0 + 3 * 1024 * 1024 + 123 + 1024 * 1024 + 4;

                fixture_clear_dest(f);
                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(archive_write_dir(f->src_fd, pass == 0 ? NULL : order, fd, c, 0, &bytes_in, &reason),
                                ==, 0);
                g_assert_null(reason);
                g_assert_cmpuint(bytes_in, ==, expected);

                /* With cedana.json first, a verifier checks every entry (and keeps cedana.json in
                 * memory); without one, everything is written. */
                _cleanup_(verifier_freep) Verifier *v = NULL;
                if (pass == 1)
                        g_assert_cmpint(verifier_new(digest, &v), ==, 0);
                g_assert_cmpint(extract_verified(f, NULL, v, &detected, NULL), ==, 0);
                g_assert_cmpint(detected, ==, c);

                got = dest_names(f);
                g_assert_cmpuint(g_strv_length(got), ==, ELEMENTSOF(all) - (pass == 1));
                for (size_t i = pass; i < ELEMENTSOF(all); i++) {
                        g_autofree guint8 *a = NULL, *b = NULL;
                        g_autofree char *p = g_build_filename(f->dest, all[i], NULL);
                        size_t na, nb;
                        struct stat st;

                        g_assert_true(g_strv_contains((const char *const *) got, all[i]));
                        a = read_file_at(f->src, all[i], &na);
                        b = read_file_at(f->dest, all[i], &nb);
                        g_assert_cmpuint(na, ==, nb);
                        g_assert_true(memcmp(a, b, na) == 0);
                        g_assert_cmpint(lstat(p, &st), ==, 0);
                        g_assert_true(S_ISREG(st.st_mode));
                        g_assert_cmpint(st.st_mode & 07777, ==, 0600);
                }
        }

        /* the order on disk is the order given: cedana.json first */
        if (c == COMPRESSION_TAR) {
                struct archive *a = archive_read_new();
                struct archive_entry *e;
                size_t i = 0;

                g_assert_cmpint(archive_read_support_format_tar(a), ==, ARCHIVE_OK);
                g_assert_cmpint(archive_read_open_filename(a, f->archive, 65536), ==, ARCHIVE_OK);
                while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                        g_assert_nonnull(order[i]);
                        g_assert_cmpstr(archive_entry_pathname(e), ==, order[i]);
                        g_assert_cmpint(archive_entry_uid(e), ==, 0);
                        g_assert_cmpint(archive_entry_gid(e), ==, 0);
                        g_assert_cmpint(archive_entry_perm(e), ==, 0600);
                        i++;
                }
                g_assert_cmpuint(i, ==, ELEMENTSOF(all));
                archive_read_free(a);
        }
}

static void test_write_refusals(Fixture *f, gconstpointer user_data) {
        _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_autofree char *sub = g_build_filename(f->src, "subdir", NULL);
        g_autofree char *link = g_build_filename(f->src, "link", NULL);
        g_autofree char *fifo = g_build_filename(f->src, "fifo", NULL);
        static const struct {
                const char *names[4];
                int error;
                const char *reason;
        } cases[] = {
                { { "a", "link" }, -ELOOP, "File 'link' is a symbolic link; checkpoints contain only regular files." },
                { { "subdir" }, -EBADFD, "File 'subdir' is not a regular file." },
                { { "fifo" }, -EBADFD, "File 'fifo' is not a regular file." },
                { { "a", "b", "a" }, -EINVAL, "File 'a' is listed more than once." },
                { { "../a" }, -EINVAL, "File '../a' has a name that a checkpoint archive cannot hold." },
                { { "missing" }, -ENOENT, "Failed to open file 'missing': No such file or directory." },
        };

        g_assert_cmpint(fd, >=, 0);
        write_file_at(f->src, "a", "a", 1);
        write_file_at(f->src, "b", "b", 1);
        g_assert_cmpint(mkdir(sub, 0700), ==, 0);
        g_assert_cmpint(symlink("a", link), ==, 0);
        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *reason = NULL;
                g_assert_cmpint(archive_write_dir(f->src_fd, (char **) cases[i].names, fd, COMPRESSION_ZSTD, 1, NULL,
                                                  &reason),
                                ==, cases[i].error);
                g_assert_cmpstr(reason, ==, cases[i].reason);
        }

        /* a name outside the allowed set in the directory makes listing fail too */
        write_file_at(f->src, "bad name", "x", 1);
        {
                g_autofree char *reason = NULL;
                g_assert_cmpint(archive_write_dir(f->src_fd, NULL, fd, COMPRESSION_TAR, 1, NULL, &reason), ==, -EINVAL);
                g_assert_cmpstr(reason, ==, "File 'bad name' has a name that a checkpoint archive cannot hold.");
        }

        g_assert_cmpint(archive_write_dir(f->src_fd, NULL, fd, COMPRESSION_NONE, 1, NULL, NULL), ==, -EINVAL);
}

static void test_write_enospc(Fixture *f, gconstpointer user_data) {
        g_autofree guint8 *data = make_random(4 * 1024 * 1024, 3);

        write_file_at(f->src, "pages-1.img", data, 4 * 1024 * 1024);
        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                _cleanup_close_ int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
                g_autofree char *reason = NULL;

                if (fd < 0) {
                        g_test_skip("no /dev/full");
                        return;
                }
                g_assert_cmpint(archive_write_dir(f->src_fd, NULL, fd, stream_formats[i], 1, NULL, &reason), ==,
                                -ENOSPC);
                g_assert_nonnull(reason);
                g_assert_nonnull(strstr(reason, "No space left on device"));
        }
}

typedef struct HostileCase {
        const char *what;
        Entry entries[3];
        size_t n_entries;
        int error;
        const char *reason;
        const char *const *leftover; /* files that may be in dest before the refusal */
} HostileCase;

static const char *const only_a[] = { "a", NULL };

static const HostileCase hostile_cases[] = {
        { "dotdot", { { .name = "../../etc/cron.d/x", .data = "* * * * * root sh\n", .size = -1 } }, 1, -EBADMSG,
          "Archive entry '../../etc/cron.d/x' is not a plain file name." },
        { "absolute", { { .name = "/etc/passwd", .data = "root::0:0::/:/bin/sh\n", .size = -1 } }, 1, -EBADMSG,
          "Archive entry '/etc/passwd' is not a plain file name." },
        { "dotdot-inside", { { .name = "a/../../b", .data = "x", .size = -1 } }, 1, -EBADMSG,
          "Archive entry 'a/../../b' is not a plain file name." },
        { "subdir", { { .name = "sub/file", .data = "x", .size = -1 } }, 1, -EBADMSG,
          "Archive entry 'sub/file' is a subdirectory or in one; a checkpoint archive holds its files at the top "
          "(archive the directory's content: tar -C DIR -czf FILE .)." },
        { "dot", { { .name = ".", .data = "x", .size = -1 } }, 1, -EBADMSG,
          "Archive entry '.' is not a plain file name." },
        /* the root of "tar -C dir ." is skipped: what it holds counts */
        { "dot-dir", { { .name = ".", .type = AE_IFDIR } }, 1, 0, NULL },
        { "dotdot-only", { { .name = "..", .data = "x", .size = -1 } }, 1, -EBADMSG,
          "Archive entry '..' is not a plain file name." },
        { "newline", { { .name = "a\nb", .data = "x", .size = -1 } }, 1, -EBADMSG,
          "Archive entry 'a\\x0ab' is not a plain file name." },
        { "symlink-then-file",
          { { .name = "a", .type = AE_IFLNK, .link = "/etc" }, { .name = "a/passwd", .data = "x", .size = -1 } }, 2,
          -EBADMSG, "Archive entry 'a' is a symbolic link; checkpoints contain only regular files." },
        { "symlink-relative", { { .name = "a", .type = AE_IFLNK, .link = "../../etc/cron.d" } }, 1, -EBADMSG,
          "Archive entry 'a' is a symbolic link; checkpoints contain only regular files." },
        { "hardlink",
          { { .name = "a", .data = "x", .size = -1 }, { .name = "b", .hardlink = "a" } }, 2, -EBADMSG,
          "Archive entry 'b' is a hard link; checkpoints contain only regular files.", only_a },
        { "hardlink-outside", { { .name = "b", .hardlink = "../../etc/cron.d/x" } }, 1, -EBADMSG,
          "Archive entry 'b' is a hard link; checkpoints contain only regular files." },
        { "device", { { .name = "null", .type = AE_IFCHR } }, 1, -EBADMSG,
          "Archive entry 'null' is a device node; checkpoints contain only regular files." },
        { "block-device", { { .name = "sda", .type = AE_IFBLK } }, 1, -EBADMSG,
          "Archive entry 'sda' is a device node; checkpoints contain only regular files." },
        { "fifo", { { .name = "p", .type = AE_IFIFO } }, 1, -EBADMSG,
          "Archive entry 'p' is a FIFO; checkpoints contain only regular files." },
        /* libarchive's writer adds the '/'; test_raw_types has one without */
        { "directory", { { .name = "d", .type = AE_IFDIR, .mode = 0755 } }, 1, -EBADMSG,
          "Archive entry 'd/' is a subdirectory or in one; a checkpoint archive holds its files at the top "
          "(archive the directory's content: tar -C DIR -czf FILE .)." },
        { "duplicate",
          { { .name = "a", .data = "first", .size = -1 }, { .name = "a", .data = "second", .size = -1 } }, 2,
          -EBADMSG, "Archive entry 'a' appears more than once.", only_a },
};

static void test_hostile(Fixture *f, gconstpointer user_data) {
        static const int formats[] = { ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FORMAT_TAR_GNUTAR };
        g_autofree char *before = fixture_snapshot(f);

        for (size_t i = 0; i < ELEMENTSOF(hostile_cases); i++)
                for (size_t j = 0; j < ELEMENTSOF(formats); j++)
                        for (size_t k = 0; k < ELEMENTSOF(stream_formats); k += 2) { /* tar, lz4, zstd */
                                const HostileCase *h = hostile_cases + i;
                                g_autoptr(GByteArray) tar = build_tar(h->entries, h->n_entries, formats[j]);
                                g_autofree char *reason = NULL, *after = NULL;
                                g_auto(GStrv) left = NULL;

                                g_test_message("case %s, tar format %d, %s", h->what, formats[j],
                                               compression_to_string(stream_formats[k]));
                                fixture_clear_dest(f);
                                write_archive_file(f, stream_formats[k], tar->data, tar->len);

                                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, h->error);
                                g_assert_cmpstr(reason, ==, h->reason);

                                after = fixture_snapshot(f);
                                g_assert_cmpstr(after, ==, before);
                                left = dest_names(f);
                                g_assert_true(g_strv_equal((const char *const *) left,
                                                           h->leftover ?: (const char *const[]) { NULL }));
                        }
}

/* A ustar header made by hand, for what libarchive's writer will not produce. */
static void raw_header(guint8 h[512], const char *name, char type, size_t size) {
        unsigned sum = 0;

        memset(h, 0, 512);
        strncpy((char *) h, name, 100);
        memcpy(h + 100, "0000644", 8);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        g_snprintf((char *) h + 124, 12, "%011zo", size);
        memcpy(h + 136, "14707526640", 12);
        memset(h + 148, ' ', 8);
        h[156] = (guint8) type;
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        g_snprintf((char *) h + 148, 8, "%06o", sum);
}

static void test_raw_types(Fixture *f, gconstpointer user_data) {
        static const struct {
                char type;
                const char *reason;
        } cases[] = {
                { '5', "Archive entry 'd' is a directory; checkpoints contain only regular files." },
                { '3', "Archive entry 'd' is a device node; checkpoints contain only regular files." },
                { '4', "Archive entry 'd' is a device node; checkpoints contain only regular files." },
                { '6', "Archive entry 'd' is a FIFO; checkpoints contain only regular files." },
                { '2', "Archive entry 'd' is a symbolic link; checkpoints contain only regular files." },
                { '1', "Archive entry 'd' is a hard link; checkpoints contain only regular files." },
        };
        g_autofree char *before = fixture_snapshot(f);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                guint8 tar[4 * 512] = {};
                g_autofree char *reason = NULL, *after = NULL;

                raw_header(tar, "d", cases[i].type, 0);
                if (cases[i].type == '1' || cases[i].type == '2')
                        strcpy((char *) tar + 157, "../../etc/cron.d/x");
                /* fix the checksum after the link name */
                raw_header(tar + 512, "ignored", '0', 0);
                {
                        unsigned sum = 0;
                        memset(tar + 148, ' ', 8);
                        for (size_t k = 0; k < 512; k++)
                                sum += tar[k];
                        g_snprintf((char *) tar + 148, 8, "%06o", sum);
                }
                memset(tar + 512, 0, 512);

                fixture_clear_dest(f);
                write_archive_file(f, COMPRESSION_TAR, tar, sizeof(tar));
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                g_assert_cmpstr(reason, ==, cases[i].reason);
                after = fixture_snapshot(f);
                g_assert_cmpstr(after, ==, before);
        }

        /* and the hand-made header is sound: as a regular file it extracts */
        {
                guint8 tar[5 * 512] = {};
                g_autofree guint8 *data = NULL;
                size_t n;

                raw_header(tar, "d", '0', 5);
                memcpy(tar + 512, "hello", 5);
                fixture_clear_dest(f);
                write_archive_file(f, COMPRESSION_TAR, tar, sizeof(tar));
                g_assert_cmpint(extract(f, NULL, NULL, NULL), ==, 0);
                data = read_file_at(f->dest, "d", &n);
                g_assert_cmpuint(n, ==, 5);
                g_assert_true(memcmp(data, "hello", 5) == 0);
        }
}

static void test_setuid_stripped(Fixture *f, gconstpointer user_data) {
        /* Decision: mode bits in an archive are never applied, so setuid is stripped, not refused. */
        const Entry e[] = {
                { .name = "suid", .mode = 04755, .data = "#!/bin/sh\n", .size = -1 },
                { .name = "sgid", .mode = 02777, .data = "x", .size = -1 },
        };
        g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_USTAR);
        const char *names[] = { "suid", "sgid" };

        write_archive_file(f, COMPRESSION_GZIP, tar->data, tar->len);
        g_assert_cmpint(extract(f, NULL, NULL, NULL), ==, 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                g_autofree char *p = g_build_filename(f->dest, names[i], NULL);
                struct stat st;
                g_assert_cmpint(lstat(p, &st), ==, 0);
                g_assert_cmpint(st.st_mode & 07777, ==, 0600);
                g_assert_cmpint(st.st_uid, ==, getuid());
        }
}

static void test_limits(Fixture *f, gconstpointer user_data) {
        g_autofree char *big = g_malloc0(5000);
        g_autofree char *before = fixture_snapshot(f);
        const Entry e[] = {
                { .name = "a", .data = big, .size = 3000 },
                { .name = "b", .data = big, .size = 2000 },
                { .name = "c", .data = big, .size = 10 },
        };
        g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
        static const struct {
                ArchiveLimits limits;
                int error;
                const char *reason;
        } cases[] = {
                { { .max_bytes = 100000, .max_entries = 100, .max_entry_bytes = 2999 }, -EFBIG,
                  "Archive entry 'a' is larger than the limit of 2999 bytes." },
                { { .max_bytes = 4999, .max_entries = 100, .max_entry_bytes = 100000 }, -EFBIG,
                  "Archive entry 'b' makes the archive larger than the limit of 4999 bytes." },
                { { .max_bytes = 100000, .max_entries = 2, .max_entry_bytes = 100000 }, -EFBIG,
                  "The archive has more than 2 entries." },
                { { .max_bytes = 5010, .max_entries = 3, .max_entry_bytes = 3000 }, 0, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                g_autofree char *reason = NULL, *after = NULL;

                fixture_clear_dest(f);
                write_archive_file(f, COMPRESSION_ZSTD, tar->data, tar->len);
                g_assert_cmpint(extract(f, &cases[i].limits, NULL, &reason), ==, cases[i].error);
                g_assert_cmpstr(reason, ==, cases[i].reason);
                after = fixture_snapshot(f);
                g_assert_cmpstr(after, ==, before);
        }
}

static void write_dir_archive(Fixture *f, Compression c) {
        _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(archive_write_dir(f->src_fd, NULL, fd, c, 1, NULL, NULL), ==, 0);
}

static void fill_src(Fixture *f) {
        g_autofree guint8 *data = make_random(2 * 1024 * 1024 + 77, 5);
        write_file_at(f->src, "cedana.json", "{}", 2);
        write_file_at(f->src, "pages-1.img", data, 2 * 1024 * 1024 + 77);
        write_file_at(f->src, "pstree.img", data, 600);
}

static void test_truncated(Fixture *f, gconstpointer user_data) {
        fill_src(f);
        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                Compression c = stream_formats[i];
                g_autofree guint8 *z = NULL;
                size_t n;

                write_dir_archive(f, c);
                z = read_file_at(f->root, "a.archive", &n);

                /* for tar: inside the first header, inside data, at the start of the end marker
                 * (an entry boundary: libarchive alone would accept that), inside the marker */
                const size_t offsets[] = { 1, 100, 600, n / 2, n - 1024, n - 512, n - 100, n - 1 };
                for (size_t k = 0; k < ELEMENTSOF(offsets); k++) {
                        g_autofree char *reason = NULL;
                        int r;

                        fixture_clear_dest(f);
                        write_file_at(f->root, "a.archive", z, offsets[k]);
                        r = extract(f, NULL, NULL, &reason);
                        g_test_message("%s cut at %zu of %zu: %s", compression_to_string(c), offsets[k], n, reason);
                        if (offsets[k] < (c == COMPRESSION_TAR ? 262u : 4u)) {
                                /* too short to show its magic */
                                g_assert_cmpint(r, ==, -EMEDIUMTYPE);
                                continue;
                        }
                        g_assert_cmpint(r, ==, -EBADMSG);
                        if (c == COMPRESSION_TAR)
                                g_assert_cmpstr(reason, ==, "The archive is truncated.");
                        else
                                g_assert_nonnull(strstr(reason, "truncated"));
                }
        }
}

static void test_trailing_garbage(Fixture *f, gconstpointer user_data) {
        fill_src(f);
        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                Compression c = stream_formats[i];
                g_autofree guint8 *z = NULL;
                size_t n;

                write_dir_archive(f, c);
                z = read_file_at(f->root, "a.archive", &n);
                z = g_realloc(z, n + 4096);

                /* garbage after the whole file */
                memcpy(z + n, "garbage!", 8);
                write_file_at(f->root, "a.archive", z, n + 8);
                fixture_clear_dest(f);
                {
                        g_autofree char *reason = NULL;
                        g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                        if (c == COMPRESSION_TAR)
                                g_assert_cmpstr(reason, ==, "The archive has unexpected data after its end.");
                        else
                                g_assert_nonnull(strstr(reason, "unexpected data after the end"));
                }

                /* zero padding after an uncompressed tar is how tar ends records */
                memset(z + n, 0, 4096);
                write_file_at(f->root, "a.archive", z, n + 4096);
                fixture_clear_dest(f);
                g_assert_cmpint(extract(f, NULL, NULL, NULL), ==, c == COMPRESSION_TAR ? 0 : -EBADMSG);
        }

        /* inside the tar stream (so also for compressed ones): garbage after the end marker, and
         * garbage in place of the marker's second block */
        {
                _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                g_autofree guint8 *tar = NULL;
                size_t n;

                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(archive_write_dir(f->src_fd, NULL, fd, COMPRESSION_TAR, 1, NULL, NULL), ==, 0);
                tar = read_file_at(f->root, "a.archive", &n);
                tar = g_realloc(tar, n + 8192);
                g_assert_cmpuint(n % 512, ==, 0);

                for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                        g_autofree char *reason = NULL;

                        memset(tar + n, 0, 8192);
                        memcpy(tar + n + 4000, "x", 1);
                        write_archive_file(f, stream_formats[i], tar, n + 8192);
                        fixture_clear_dest(f);
                        g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                        g_assert_cmpstr(reason, ==, "The archive has unexpected data after its end.");

                        g_clear_pointer(&reason, g_free);
                        memset(tar + n - 512, 'G', 512);
                        write_archive_file(f, stream_formats[i], tar, n);
                        fixture_clear_dest(f);
                        g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                        g_assert_cmpstr(reason, ==, "The archive has unexpected data after its end.");
                        memset(tar + n - 512, 0, 512);

                        /* a second archive appended: refused, not silently merged or ignored */
                        g_clear_pointer(&reason, g_free);
                        memcpy(tar + n, tar, MIN(n, (size_t) 8192));
                        write_archive_file(f, stream_formats[i], tar, n + MIN(n, (size_t) 8192));
                        fixture_clear_dest(f);
                        g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                        g_assert_cmpstr(reason, ==, "The archive has unexpected data after its end.");
                }
        }
}

static void test_detection(Fixture *f, gconstpointer user_data) {
        g_autofree char *named = g_build_filename(f->root, "checkpoint.tar.lz4", NULL);
        g_autofree guint8 *z = NULL;
        size_t n;

        fill_src(f);

        /* a .tar.lz4 that is really zstd is read as zstd */
        write_dir_archive(f, COMPRESSION_ZSTD);
        z = read_file_at(f->root, "a.archive", &n);
        write_file_at(f->root, "checkpoint.tar.lz4", z, n);
        {
                _cleanup_close_ int fd = open(named, O_RDONLY | O_CLOEXEC);
                Compression c = _COMPRESSION_INVALID;
                g_autofree char *reason = NULL;

                g_assert_cmpint(fd, >=, 0);
                /* a moved offset does not matter: the archive starts at 0 */
                g_assert_cmpint(lseek(fd, 100, SEEK_SET), ==, 100);
                g_assert_cmpint(archive_extract(fd, f->dest_fd, NULL, NULL, &c, &reason), ==, 0);
                g_assert_cmpint(c, ==, COMPRESSION_ZSTD);
                g_assert_null(reason);
        }

        /* dest must be empty */
        {
                _cleanup_close_ int fd = open(named, O_RDONLY | O_CLOEXEC);
                g_autofree char *reason = NULL;
                g_assert_cmpint(archive_extract(fd, f->dest_fd, NULL, NULL, NULL, &reason), ==, -ENOTEMPTY);
                g_assert_cmpstr(reason, ==, "The destination directory is not empty.");
        }

        fixture_clear_dest(f);
        {
                g_autofree char *reason = NULL;
                write_file_at(f->root, "a.archive", "", 0);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -ENODATA);
                g_assert_cmpstr(reason, ==, "The file is empty.");
        }
        {
                g_autofree char *reason = NULL;
                write_file_at(f->root, "a.archive", "just some text, definitely not an archive\n", 43);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EMEDIUMTYPE);
                g_assert_cmpstr(reason, ==, "The file is not a checkpoint archive (not tar, gzip, lz4, zlib or zstd).");
        }
        {
                g_autofree char *reason = NULL;
                g_assert_cmpint(archive_extract(f->src_fd, f->dest_fd, NULL, NULL, NULL, &reason), ==, -EISDIR);
                g_assert_nonnull(reason);
        }
        /* a compressed stream holding something that is not tar */
        {
                g_autofree char *reason = NULL;
                g_autofree guint8 *text = g_malloc(4096);
                memset(text, 'x', 4096);
                write_archive_file(f, COMPRESSION_GZIP, text, 4096);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
        }
        /* ... or nothing at all */
        {
                g_autofree char *reason = NULL;
                write_archive_file(f, COMPRESSION_LZ4, "", 0);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                g_assert_cmpstr(reason, ==, "The archive is empty.");
        }
        {
                g_auto(GStrv) left = dest_names(f);
                g_assert_null(left[0]);
        }
}

static void test_corrupt(Fixture *f, gconstpointer user_data) {
        fill_src(f);
        for (size_t i = 1; i < ELEMENTSOF(stream_formats); i++) {
                Compression c = stream_formats[i];
                g_autofree guint8 *z = NULL;
                g_autofree char *reason = NULL;
                size_t n;

                write_dir_archive(f, c);
                z = read_file_at(f->root, "a.archive", &n);
                z[n / 2] ^= 0x01;
                write_file_at(f->root, "a.archive", z, n);
                fixture_clear_dest(f);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
                g_assert_true(g_str_has_prefix(reason, "The archive is damaged: "));
        }

        /* a damaged tar header (checksum) */
        {
                g_autofree guint8 *z = NULL;
                g_autofree char *reason = NULL;
                size_t n;

                write_dir_archive(f, COMPRESSION_TAR);
                z = read_file_at(f->root, "a.archive", &n);
                z[10] ^= 0x01;
                write_file_at(f->root, "a.archive", z, n);
                fixture_clear_dest(f);
                g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, -EBADMSG);
        }
}

/* Runs a shell command; false if it failed. */
static bool run_shell(const char *cmd) {
        const char *argv[] = { "sh", "-c", cmd, NULL };
        GError *error = NULL;
        gint status = -1;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   &error));
        g_assert_no_error(error);
        return g_spawn_check_wait_status(status, NULL);
}

/* A tar written the way a dump streams it: each header goes out before its entry's size is known,
 * as a patchable segment, and is patched after the data. archive_extract() and GNU tar (where it
 * and the compressor are installed) must read it, and the extraction's checksums must match. */
static void test_patched_headers(Fixture *f, gconstpointer user_data) {
        static const struct {
                const char *name;
                size_t size;
        } entries[] = {
                { "pages-1.img", 5 * 1024 * 1024 + 5 },
                { "core-1.img", 100 },
                { "empty.img", 0 },
                { "pages-2.img", 2 * 1024 * 1024 },
                { "cedana.json", 2 },
        };
        /* each writes the decompressed stream of the file named after it to stdout */
        static const char *const decompress[_COMPRESSION_MAX] = {
                [COMPRESSION_TAR] = "cat",
                [COMPRESSION_GZIP] = "gzip -dc",
                [COMPRESSION_LZ4] = "lz4 -dc",
                [COMPRESSION_ZLIB] = "python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.decompress("
                                     "open(sys.argv[1], \"rb\").read()))'",
                [COMPRESSION_ZSTD] = "zstd -qdc",
        };
        guint8 **data = g_new0(guint8 *, ELEMENTSOF(entries));

        for (size_t i = 0; i < ELEMENTSOF(entries); i++)
                data[i] = make_random(entries[i].size, (guint32) i + 1);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++)
                for (unsigned threads = 1; threads <= 2; threads++) {
                        Compression c = stream_formats[i];
                        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                        _cleanup_close_ int fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        g_autofree char *reason = NULL;
                        static const guint8 zeros[1024] = {};
                        guint8 h[512];

                        g_test_message("%s, %u threads", compression_to_string(c), threads);
                        g_assert_cmpint(fd, >=, 0);
                        g_assert_cmpint(codec_writer_new(c, fd, threads, &w), ==, 0);
                        for (size_t k = 0; k < ELEMENTSOF(entries); k++) {
                                uint64_t handle;

                                raw_header(h, entries[k].name, '0', 0);
                                g_assert_cmpint(codec_writer_write_patchable(w, h, sizeof(h), &handle), ==, 0);
                                g_assert_cmpint(codec_writer_write(w, data[k], entries[k].size), ==, 0);
                                g_assert_cmpint(codec_writer_write(w, zeros, (512 - entries[k].size % 512) % 512), ==, 0);
                                raw_header(h, entries[k].name, '0', entries[k].size);
                                g_assert_cmpint(codec_writer_patch(w, handle, h, sizeof(h)), ==, 0);
                        }
                        g_assert_cmpint(codec_writer_write(w, zeros, sizeof(zeros)), ==, 0);
                        g_assert_cmpint(codec_writer_finish(w), ==, 0);

                        fixture_clear_dest(f);
                        g_assert_cmpint(extract(f, NULL, NULL, &reason), ==, 0);
                        for (size_t k = 0; k < ELEMENTSOF(entries); k++) {
                                g_autofree guint8 *got = NULL;
                                size_t n;

                                got = read_file_at(f->dest, entries[k].name, &n);
                                g_assert_cmpmem(got, n, data[k], entries[k].size);
                        }

                        g_autofree char *tool = g_strndup(decompress[c], strcspn(decompress[c], " "));
                        g_autofree char *tool_path = g_find_program_in_path(tool);
                        g_autofree char *tar_path = g_find_program_in_path("tar");
                        if (!tool_path || !tar_path) {
                                g_test_message("no %s or tar here", tool);
                                continue;
                        }
                        fixture_clear_dest(f);
                        g_autofree char *cmd = g_strdup_printf("%s '%s' | tar -xf - -C '%s'", decompress[c], f->archive,
                                                               f->dest);
                        g_assert_true(run_shell(cmd));
                        for (size_t k = 0; k < ELEMENTSOF(entries); k++) {
                                g_autofree guint8 *got = NULL;
                                size_t n;

                                got = read_file_at(f->dest, entries[k].name, &n);
                                g_assert_cmpmem(got, n, data[k], entries[k].size);
                        }
                }

        for (size_t i = 0; i < ELEMENTSOF(entries); i++)
                g_free(data[i]);
        g_free(data);
}

/* What cedana.json declares bounds what is written: an entry it does not list, or one larger
 * than it says, stops the extraction at once, whatever the tar header claims. */
static void test_declared_sizes(Fixture *f, gconstpointer user_data) {
        g_autofree guint8 *data = make_random(64 * 1024, 9);
        write_file_at(f->src, "pages-1.img", data, 64 * 1024);
        char *names[] = { (char *) "pages-1.img", NULL };
        write_metadata(f, names, NULL);
        size_t json_size;
        g_autofree char *json = (char *) read_file_at(f->src, "cedana.json", &json_size);
        g_autofree char *bomb = g_malloc0(8 * 1024 * 1024);
        g_autofree char *pages = g_malloc0(8 * 1024 * 1024);
        memcpy(pages, data, 64 * 1024);

        /* an unlisted 8 MiB file after the metadata */
        {
                Entry e[] = { { .name = "cedana.json", .data = json, .size = (int64_t) json_size },
                              { .name = "bomb.img", .data = bomb, .size = 8 * 1024 * 1024 } };
                g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_USTAR);
                write_archive_file(f, COMPRESSION_ZSTD, tar->data, tar->len);
                _cleanup_(verifier_freep) Verifier *v = NULL;
                g_autofree char *reason = NULL;
                g_assert_cmpint(verifier_new(NULL, &v), ==, 0);
                fixture_clear_dest(f);
                g_assert_cmpint(extract_verified(f, NULL, v, NULL, &reason), ==, -EBADMSG);
                g_assert_cmpstr(reason, ==, "The checkpoint contains an unexpected file bomb.img.");
                g_auto(GStrv) left = dest_names(f);
                g_assert_null(left[0]);
        }
        /* a listed file that grows past its declared 64 KiB */
        {
                Entry e[] = { { .name = "cedana.json", .data = json, .size = (int64_t) json_size },
                              { .name = "pages-1.img", .data = pages, .size = 8 * 1024 * 1024 } };
                g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_USTAR);
                write_archive_file(f, COMPRESSION_GZIP, tar->data, tar->len);
                _cleanup_(verifier_freep) Verifier *v = NULL;
                g_autofree char *reason = NULL;
                g_assert_cmpint(verifier_new(NULL, &v), ==, 0);
                fixture_clear_dest(f);
                g_assert_cmpint(extract_verified(f, NULL, v, NULL, &reason), ==, -EFBIG);
                g_assert_nonnull(strstr(reason, "larger than the checkpoint's metadata declares (65536 bytes)"));
                g_autofree char *p = g_build_filename(f->dest, "pages-1.img", NULL);
                struct stat st;
                g_assert_cmpint(stat(p, &st), ==, 0);
                g_assert_cmpint(st.st_size, <=, 65536);
        }
        /* cedana.json after the images (repacked by hand): found first, nothing written yet */
        {
                Entry e[] = { { .name = "./", .type = AE_IFDIR },
                              { .name = "./pages-1.img", .data = (const char *) data, .size = 64 * 1024 },
                              { .name = "./cedana.json", .data = json, .size = (int64_t) json_size } };
                g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_GNUTAR);
                write_archive_file(f, COMPRESSION_ZSTD, tar->data, tar->len);
                _cleanup_(verifier_freep) Verifier *v = NULL;
                g_autofree char *reason = NULL, *text = NULL;
                size_t n;
                g_assert_cmpint(verifier_new(NULL, &v), ==, 0);
                fixture_clear_dest(f);
                g_assert_cmpint(extract_verified(f, NULL, v, NULL, &reason), ==, -EAGAIN);
                g_auto(GStrv) left = dest_names(f);
                g_assert_null(left[0]);
                _cleanup_close_ int fd = open(f->archive, O_RDONLY | O_CLOEXEC);
                g_assert_cmpint(archive_read_metadata(fd, NULL, &text, &n, &reason), ==, 0);
                g_assert_cmpmem(text, n, json, json_size);
                g_assert_cmpint(verifier_metadata(v, text, n, &reason), ==, 0);
                g_assert_cmpint(extract_verified(f, NULL, v, NULL, &reason), ==, 0);
                g_autofree guint8 *back = read_file_at(f->dest, "pages-1.img", &n);
                g_assert_cmpmem(back, n, data, 64 * 1024);
        }
        /* a flipped byte in an image: refused at that entry's end */
        {
                g_autofree guint8 *flipped = g_memdup2(data, 64 * 1024);
                flipped[100] ^= 1;
                Entry e[] = { { .name = "cedana.json", .data = json, .size = (int64_t) json_size },
                              { .name = "pages-1.img", .data = (const char *) flipped, .size = 64 * 1024 } };
                g_autoptr(GByteArray) tar = build_tar(e, ELEMENTSOF(e), ARCHIVE_FORMAT_TAR_USTAR);
                write_archive_file(f, COMPRESSION_LZ4, tar->data, tar->len);
                _cleanup_(verifier_freep) Verifier *v = NULL;
                g_autofree char *reason = NULL;
                g_assert_cmpint(verifier_new(NULL, &v), ==, 0);
                fixture_clear_dest(f);
                g_assert_cmpint(extract_verified(f, NULL, v, NULL, &reason), ==, -EBADMSG);
                g_assert_cmpstr(reason, ==, "Checkpoint file pages-1.img is corrupt (SHA-256 mismatch).");
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                g_autofree char *name =
                        g_strdup_printf("/archive/roundtrip/%s", compression_to_string(stream_formats[i]));
                g_test_add(name, Fixture, GINT_TO_POINTER(stream_formats[i]), fixture_setup, test_roundtrip,
                           fixture_teardown);
        }
        g_test_add("/archive/write-refusals", Fixture, NULL, fixture_setup, test_write_refusals, fixture_teardown);
        g_test_add("/archive/write-enospc", Fixture, NULL, fixture_setup, test_write_enospc, fixture_teardown);
        g_test_add("/archive/hostile", Fixture, NULL, fixture_setup, test_hostile, fixture_teardown);
        g_test_add("/archive/raw-types", Fixture, NULL, fixture_setup, test_raw_types, fixture_teardown);
        g_test_add("/archive/setuid-stripped", Fixture, NULL, fixture_setup, test_setuid_stripped, fixture_teardown);
        g_test_add("/archive/limits", Fixture, NULL, fixture_setup, test_limits, fixture_teardown);
        g_test_add("/archive/truncated", Fixture, NULL, fixture_setup, test_truncated, fixture_teardown);
        g_test_add("/archive/trailing-garbage", Fixture, NULL, fixture_setup, test_trailing_garbage,
                   fixture_teardown);
        g_test_add("/archive/detection", Fixture, NULL, fixture_setup, test_detection, fixture_teardown);
        g_test_add("/archive/corrupt", Fixture, NULL, fixture_setup, test_corrupt, fixture_teardown);
        g_test_add("/archive/patched-headers", Fixture, NULL, fixture_setup, test_patched_headers, fixture_teardown);
        g_test_add("/archive/declared-sizes", Fixture, NULL, fixture_setup, test_declared_sizes, fixture_teardown);

        return g_test_run();
}
