/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for codec.c and compression.c: detection from content, round trips of every format,
 * and refusal of truncated, corrupt and padded streams. */

/* Ours first: glib redefines MIN/MAX after undefining them, macro.h does not. */
#include "codec.h"
#include "compression.h"
#include "macro.h"

#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const Compression stream_formats[] = {
        COMPRESSION_TAR, COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_ZLIB, COMPRESSION_ZSTD,
};
static const Compression compressed_formats[] = {
        COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_ZLIB, COMPRESSION_ZSTD,
};

typedef enum DataKind {
        DATA_RANDOM,
        DATA_ZEROS,
        DATA_TEXT,
        DATA_MIXED,
} DataKind;

static guint8 *make_data(DataKind kind, size_t n, guint32 seed) {
        guint8 *p = g_malloc(MAX(n, (size_t) 1));
        GRand *rand = g_rand_new_with_seed(seed);
        static const char text[] =
                "CRIU dumps the memory of a process tree into page images; cedana packs them into one archive.\n";

        for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case DATA_RANDOM:
                        p[i] = (guint8) g_rand_int(rand);
                        break;
                case DATA_ZEROS:
                        p[i] = 0;
                        break;
                case DATA_TEXT:
                        p[i] = (guint8) text[i % STRLEN(text)];
                        break;
                case DATA_MIXED:
                        /* 64 KiB runs of each kind, like page images with zero pages and code */
                        switch ((i >> 16) % 3) {
                        case 0:
                                p[i] = (guint8) g_rand_int(rand);
                                break;
                        case 1:
                                p[i] = 0;
                                break;
                        default:
                                p[i] = (guint8) text[i % STRLEN(text)];
                        }
                }
        }
        g_rand_free(rand);
        return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void rm_tree(const char *path) {
        g_assert_cmpint(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
}

typedef struct Fixture {
        char *dir;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        GError *error = NULL;

        f->dir = g_dir_make_tmp("cedana-test-codec-XXXXXX", &error);
        g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        rm_tree(f->dir);
        g_free(f->dir);
}

static char *fixture_path(Fixture *f, const char *name) {
        return g_build_filename(f->dir, name, NULL);
}

/* Writes data in uneven pieces so that buffer boundaries fall everywhere. */
static void compress_to_file(Compression c, const char *path, const guint8 *data, size_t n, unsigned threads) {
        static const size_t pieces[] = { 1, 7, 4096, 65536 + 3, 1024 * 1024 + 17, 3 * 1024 * 1024 };
        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(codec_writer_new(c, fd, threads, &w), ==, 0);
        for (unsigned i = 0; done < n; i++) {
                size_t k = MIN(pieces[i % ELEMENTSOF(pieces)], n - done);
                g_assert_cmpint(codec_writer_write(w, data + done, k), ==, 0);
                done += k;
        }
        g_assert_cmpint(codec_writer_finish(w), ==, 0);
        g_assert_cmpuint(codec_writer_bytes_in(w), ==, n);

        struct stat st;
        g_assert_cmpint(fstat(fd, &st), ==, 0);
        g_assert_cmpuint(codec_writer_bytes_out(w), ==, (guint64) st.st_size);
}

/* Reads the whole stream that starts at offset; returns 0 or the reader's error, with the reason
 * in *ret_reason. */
static int decompress_file_at(Compression c, const char *path, off_t offset, GByteArray **ret_data,
                              char **ret_reason) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        _cleanup_close_ int fd = -EBADF;
        GByteArray *out = g_byte_array_new();
        size_t chunk = 100000;
        guint8 *buf = g_malloc(2 * 1024 * 1024);
        int result = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(lseek(fd, offset, SEEK_SET), ==, offset);
        g_assert_cmpint(codec_reader_new(fd, c, &r), ==, 0);
        for (;;) {
                ssize_t k = codec_reader_read(r, buf, chunk);
                if (k < 0) {
                        result = (int) k;
                        g_assert_nonnull(codec_reader_error(r));
                        /* sticky */
                        g_assert_cmpint(codec_reader_read(r, buf, chunk), ==, k);
                        break;
                }
                if (k == 0) {
                        g_assert_null(codec_reader_error(r));
                        break;
                }
                g_byte_array_append(out, buf, (guint) k);
                /* vary the request size too */
                chunk = chunk == 100000 ? 2 * 1024 * 1024 : 100000;
        }

        if (ret_reason)
                *ret_reason = result < 0 ? g_strdup(codec_reader_error(r)) : NULL;
        if (ret_data)
                *ret_data = out;
        else
                g_byte_array_unref(out);
        g_free(buf);
        return result;
}

static int decompress_file(Compression c, const char *path, GByteArray **ret_data, char **ret_reason) {
        return decompress_file_at(c, path, 0, ret_data, ret_reason);
}

static void assert_detects(const char *path, Compression expected) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        Compression c = _COMPRESSION_INVALID;

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(codec_detect(fd, &c), ==, 0);
        g_assert_cmpstr(compression_to_string(c), ==, compression_to_string(expected));
        /* detection must not move the offset */
        g_assert_cmpint(lseek(fd, 0, SEEK_CUR), ==, 0);
}

static int detect_path(const char *path, Compression *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        g_assert_cmpint(fd, >=, 0);
        return codec_detect(fd, ret);
}

static void write_bytes(const char *path, const void *data, size_t n) {
        GError *error = NULL;
        g_file_set_contents(path, data, (gssize) n, &error);
        g_assert_no_error(error);
}

static guint8 *read_bytes(const char *path, size_t *ret_n) {
        GError *error = NULL;
        gchar *data;
        gsize n;

        g_file_get_contents(path, &data, &n, &error);
        g_assert_no_error(error);
        *ret_n = n;
        return (guint8 *) data;
}

static void test_compression_names(void) {
        for (Compression c = 0; c < _COMPRESSION_MAX; c++) {
                const char *s = compression_to_string(c);
                g_assert_nonnull(s);
                g_assert_cmpint(compression_from_string(s), ==, c);
                g_assert_nonnull(compression_suffix(c));
        }
        g_assert_cmpstr(compression_suffix(COMPRESSION_NONE), ==, "");
        g_assert_cmpstr(compression_suffix(COMPRESSION_ZSTD), ==, ".tar.zst");
        g_assert_cmpstr(compression_suffix(COMPRESSION_LZ4), ==, ".tar.lz4");
        g_assert_cmpint(compression_from_string("zst"), ==, _COMPRESSION_INVALID);
        g_assert_cmpint(compression_from_string(""), ==, _COMPRESSION_INVALID);
        g_assert_cmpint(compression_from_string(NULL), ==, _COMPRESSION_INVALID);
        g_assert_null(compression_to_string(_COMPRESSION_MAX));
        g_assert_null(compression_to_string(_COMPRESSION_INVALID));
        g_assert_null(compression_suffix(_COMPRESSION_MAX));
}

static void roundtrip_one(Fixture *f, Compression c, DataKind kind, size_t n, unsigned threads) {
        g_autofree char *path = fixture_path(f, "stream");
        g_autofree guint8 *data = make_data(kind, n, (guint32) (n + kind));
        g_autoptr(GByteArray) out = NULL;
        g_autofree char *reason = NULL;

        compress_to_file(c, path, data, n, threads);
        if (c != COMPRESSION_TAR)
                assert_detects(path, c);
        if (decompress_file(c, path, &out, &reason) < 0)
                g_error("%s, %zu bytes of kind %d: %s", compression_to_string(c), n, kind, reason);
        g_assert_cmpuint(out->len, ==, n);
        g_assert_true(n == 0 || memcmp(out->data, data, n) == 0);
}

static void test_roundtrip(Fixture *f, gconstpointer user_data) {
        Compression c = GPOINTER_TO_INT(user_data);
        static const size_t sizes[] = { 0, 1, 1024 * 1024 + 1, 20 * 1024 * 1024 + 5 };
        static const DataKind kinds[] = { DATA_RANDOM, DATA_ZEROS, DATA_TEXT, DATA_MIXED };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++)
                        roundtrip_one(f, c, kinds[j], sizes[i], 1);
}

/* The writer's chunk size: chunks are compressed on their own, by as many threads as asked for. */
#define CHUNK ((size_t) 2 * 1024 * 1024)

static void test_roundtrip_threads(Fixture *f, gconstpointer user_data) {
        static const size_t sizes[] = { CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 9 * 1024 * 1024 + 11 };

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                for (unsigned threads = 1; threads <= 3; threads++)
                        for (size_t j = 0; j < ELEMENTSOF(sizes); j++)
                                roundtrip_one(f, stream_formats[i], DATA_MIXED, sizes[j], threads);
                /* 0: all CPUs; more threads than chunks */
                roundtrip_one(f, stream_formats[i], DATA_MIXED, 9 * 1024 * 1024 + 11, 0);
                roundtrip_one(f, stream_formats[i], DATA_TEXT, 100, 4);
                /* past the point where writeback starts (32 MiB written) */
                roundtrip_one(f, stream_formats[i], DATA_ZEROS, 40 * 1024 * 1024 + 3, 2);
        }
}

/* Chunks are compressed independently and their boundaries depend on the input alone, so the
 * output is the same, byte for byte, for any number of threads: a checkpoint is reproducible. */
static void test_threads_same_output(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        const size_t n = 7 * CHUNK + 12345;
        g_autofree guint8 *data = make_data(DATA_MIXED, n, 17);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                Compression c = stream_formats[i];
                g_autofree guint8 *one = NULL;
                size_t n_one;

                compress_to_file(c, path, data, n, 1);
                one = read_bytes(path, &n_one);
                for (unsigned threads = 2; threads <= 4; threads++) {
                        g_autofree guint8 *other = NULL;
                        g_autoptr(GByteArray) out = NULL;
                        size_t n_other;

                        compress_to_file(c, path, data, n, threads);
                        other = read_bytes(path, &n_other);
                        g_assert_cmpmem(one, n_one, other, n_other);
                        g_assert_cmpint(decompress_file(c, path, &out, NULL), ==, 0);
                        g_assert_cmpmem(out->data, out->len, data, n);
                }
        }
}

/* Deflate takes shortcuts on data where string matching gains little: stored pieces for random
 * data, Huffman coding alone for text whose redundancy is all in its letter frequencies. Whatever
 * it chose, the result must read back, and must not be bigger than the data by more than the
 * stored blocks' overhead. */
static void test_deflate_shortcuts(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        const size_t n = 3 * CHUNK;
        g_autofree guint8 *random = make_data(DATA_RANDOM, n, 3);
        g_autofree guint8 *letters = g_malloc(n);
        GRand *rand = g_rand_new_with_seed(5);

        /* 16 letters, uniformly: 4 bits a byte, and next to nothing for lz4 to match */
        for (size_t i = 0; i < n; i++)
                letters[i] = (guint8) ('a' + g_rand_int_range(rand, 0, 16));
        g_rand_free(rand);

        static const Compression deflates[] = { COMPRESSION_GZIP, COMPRESSION_ZLIB };

        for (size_t i = 0; i < ELEMENTSOF(deflates); i++) {
                Compression c = deflates[i];
                g_autoptr(GByteArray) out = NULL;
                struct stat st;

                for (unsigned threads = 1; threads <= 2; threads++) {
                        roundtrip_one(f, c, DATA_RANDOM, n, threads);
                        compress_to_file(c, path, random, n, threads);
                        g_assert_cmpint(stat(path, &st), ==, 0);
                        g_assert_cmpint(st.st_size, <, (off_t) (n + n / 1000));

                        compress_to_file(c, path, letters, n, threads);
                        g_assert_cmpint(stat(path, &st), ==, 0);
                        /* Huffman coding alone reaches the 4 bits */
                        g_assert_cmpint(st.st_size, <, (off_t) (n / 2 + n / 50));
                        g_clear_pointer(&out, g_byte_array_unref);
                        g_assert_cmpint(decompress_file(c, path, &out, NULL), ==, 0);
                        g_assert_cmpmem(out->data, out->len, letters, n);
                }
        }
}

static void test_writer_invalid(void) {
        CodecWriter *w = NULL;
        CodecReader *r = NULL;

        g_assert_cmpint(codec_writer_new(COMPRESSION_NONE, 1, 1, &w), ==, -EINVAL);
        g_assert_cmpint(codec_writer_new(_COMPRESSION_MAX, 1, 1, &w), ==, -EINVAL);
        g_assert_cmpint(codec_writer_new(COMPRESSION_GZIP, -1, 1, &w), ==, -EINVAL);
        g_assert_null(w);
        g_assert_cmpint(codec_reader_new(0, COMPRESSION_NONE, &r), ==, -EINVAL);
        g_assert_null(r);
        g_assert_null(codec_writer_free(NULL));
        g_assert_null(codec_reader_free(NULL));
}

static void test_detect(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "x");
        g_autofree char *lz4_named = fixture_path(f, "checkpoint.tar.lz4");
        g_autofree char *fifo = fixture_path(f, "fifo");
        g_autofree guint8 *data = make_data(DATA_TEXT, 5000, 1);
        Compression c;

        /* each format from its content */
        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++) {
                compress_to_file(compressed_formats[i], path, data, 5000, 1);
                assert_detects(path, compressed_formats[i]);
                /* even an empty payload has a recognisable header */
                compress_to_file(compressed_formats[i], path, data, 0, 1);
                assert_detects(path, compressed_formats[i]);
        }

        /* the name means nothing */
        compress_to_file(COMPRESSION_ZSTD, lz4_named, data, 5000, 1);
        assert_detects(lz4_named, COMPRESSION_ZSTD);
        compress_to_file(COMPRESSION_GZIP, lz4_named, data, 5000, 1);
        assert_detects(lz4_named, COMPRESSION_GZIP);

        /* an uncompressed tar: "ustar" at 257 */
        {
                guint8 h[1024] = {};
                memcpy(h, "cedana.json", 11);
                memcpy(h + 257, "ustar\0" "00", 8);
                write_bytes(path, h, sizeof(h));
                assert_detects(path, COMPRESSION_TAR);
                /* too short to hold the magic */
                write_bytes(path, h, 261);
                g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);
        }

        /* zlib headers: 78 01, 78 9c, 78 da, 58 85 (CINFO 5) */
        {
                static const guint8 good[][2] = { { 0x78, 0x01 }, { 0x78, 0x9c }, { 0x78, 0xda }, { 0x58, 0x85 } };
                static const guint8 bad[][2] = {
                        { 0x78, 0x9d },  /* FCHECK wrong */
                        { 0x79, 0x18 },  /* CM 9 */
                        { 0x88, 0x1c },  /* CINFO 8: window too large */
                        { 0x78, 0xbb },  /* FDICT set */
                };
                for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                        guint8 b[8] = { good[i][0], good[i][1], 1, 2, 3, 4, 5, 6 };
                        write_bytes(path, b, sizeof(b));
                        assert_detects(path, COMPRESSION_ZLIB);
                }
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        guint8 b[8] = { bad[i][0], bad[i][1], 1, 2, 3, 4, 5, 6 };
                        g_assert_cmpint(((unsigned) bad[i][0] * 256 + bad[i][1]) % 31 == 0, ==, i != 0);
                        write_bytes(path, b, sizeof(b));
                        g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);
                }
        }

        /* skippable frames in front: shared by zstd and lz4, so detection looks behind them */
        {
                guint8 b[32] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'c', 'e', 'd', 'a' };
                memcpy(b + 12, "\x28\xb5\x2f\xfd", 4);
                write_bytes(path, b, sizeof(b));
                assert_detects(path, COMPRESSION_ZSTD);
                memcpy(b + 12, "\x04\x22\x4d\x18", 4);
                write_bytes(path, b, sizeof(b));
                assert_detects(path, COMPRESSION_LZ4);
                memcpy(b + 12, "junk", 4);
                write_bytes(path, b, sizeof(b));
                g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);
        }

        /* gzip needs CM 8 too */
        write_bytes(path, "\x1f\x8b\x07\x00\x00\x00\x00\x00", 8);
        g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);

        write_bytes(path, "", 0);
        g_assert_cmpint(detect_path(path, &c), ==, -ENODATA);
        write_bytes(path, "x", 1);
        g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);
        write_bytes(path, "hello, this is not an archive\n", 30);
        g_assert_cmpint(detect_path(path, &c), ==, -EMEDIUMTYPE);

        g_assert_cmpint(detect_path(f->dir, &c), ==, 0);
        g_assert_cmpint(c, ==, COMPRESSION_NONE);

        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        g_assert_cmpint(detect_path(fifo, &c), ==, -EBADFD);
}

static void test_truncated(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        g_autofree char *cut = fixture_path(f, "cut");
        static const DataKind kinds[] = { DATA_TEXT, DATA_RANDOM };

        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++)
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++) {
                        Compression c = compressed_formats[i];
                        g_autofree guint8 *data = make_data(kinds[j], 1024 * 1024 + 1, 7);
                        g_autofree guint8 *z = NULL;
                        size_t n;

                        compress_to_file(c, path, data, 1024 * 1024 + 1, 1);
                        z = read_bytes(path, &n);

                        const size_t offsets[] = { 0, 1, 2, 3, 10, 100, n / 3, n / 2, n - 8, n - 4, n - 1 };
                        for (size_t k = 0; k < ELEMENTSOF(offsets); k++) {
                                g_autofree char *reason = NULL;

                                write_bytes(cut, z, offsets[k]);
                                g_assert_cmpint(decompress_file(c, cut, NULL, &reason), ==, -EBADMSG);
                                g_test_message("%s cut at %zu: %s", compression_to_string(c), offsets[k], reason);
                                g_assert_nonnull(strstr(reason, "truncated"));
                                g_assert_nonnull(strstr(reason, compression_to_string(c)));
                        }
                }
}

static void test_corrupt(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        static const DataKind kinds[] = { DATA_TEXT, DATA_RANDOM, DATA_MIXED };

        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++)
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++) {
                        Compression c = compressed_formats[i];
                        g_autofree guint8 *data = make_data(kinds[j], 3 * 1024 * 1024, 11);

                        compress_to_file(c, path, data, 3 * 1024 * 1024, 1);
                        g_autofree guint8 *z = NULL;
                        size_t n;
                        z = read_bytes(path, &n);

                        /* past header fields no checksum covers (gzip mtime, ...), and not the
                         * padding bits of the last deflate byte: inside the data and inside the
                         * trailing checksum */
                        const size_t offsets[] = { n / 2, n / 3, n - 3 };
                        for (size_t k = 0; k < ELEMENTSOF(offsets); k++) {
                                g_autofree char *reason = NULL;
                                g_autoptr(GByteArray) out = NULL;
                                int r;

                                z[offsets[k]] ^= 0x10;
                                write_bytes(path, z, n);
                                z[offsets[k]] ^= 0x10;

                                r = decompress_file(c, path, &out, &reason);
                                g_test_message("%s flip at %zu: %s", compression_to_string(c), offsets[k], reason);
                                g_assert_cmpint(r, ==, -EBADMSG);
                                g_assert_nonnull(reason);
                        }
                }
}

static void test_trailing_garbage(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        g_autofree guint8 *data = make_data(DATA_MIXED, 300000, 3);
        static const struct {
                const char *bytes;
                size_t n;
        } tails[] = {
                { "garbage", 7 }, { "\0\0\0\0\0\0\0\0", 8 }, { "\n", 1 }, { "\x1f", 1 }, { "\x1f\x8b", 2 },
                { "\x28\xb5\x2f", 3 }, { "PK\3\4", 4 },
        };

        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++) {
                Compression c = compressed_formats[i];
                g_autofree guint8 *z = NULL;
                size_t n;

                compress_to_file(c, path, data, 300000, 1);
                z = read_bytes(path, &n);

                for (size_t k = 0; k < ELEMENTSOF(tails); k++) {
                        g_autofree guint8 *padded = g_malloc(n + tails[k].n);
                        g_autofree char *reason = NULL;
                        g_autoptr(GByteArray) out = NULL;

                        memcpy(padded, z, n);
                        memcpy(padded + n, tails[k].bytes, tails[k].n);
                        write_bytes(path, padded, n + tails[k].n);

                        g_assert_cmpint(decompress_file(c, path, &out, &reason), ==, -EBADMSG);
                        g_test_message("%s + %zu bytes: %s", compression_to_string(c), tails[k].n, reason);
                        g_assert_nonnull(strstr(reason, "unexpected data after the end"));
                        /* the data itself came through before the complaint */
                        g_assert_cmpuint(out->len, ==, 300000);
                }
        }
}

static void test_concatenated(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        g_autofree guint8 *data = make_data(DATA_MIXED, 200000, 5);

        /* gzip members, lz4 frames and zstd frames concatenate; zlib streams do not */
        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++) {
                Compression c = compressed_formats[i];
                g_autofree guint8 *a = NULL, *b = NULL, *both = NULL;
                g_autoptr(GByteArray) out = NULL;
                g_autofree char *reason = NULL;
                size_t na, nb;
                int r;

                compress_to_file(c, path, data, 100000, 1);
                a = read_bytes(path, &na);
                compress_to_file(c, path, data + 100000, 100000, 1);
                b = read_bytes(path, &nb);
                both = g_malloc(na + nb);
                memcpy(both, a, na);
                memcpy(both + na, b, nb);
                write_bytes(path, both, na + nb);

                r = decompress_file(c, path, &out, &reason);
                if (c == COMPRESSION_ZLIB) {
                        g_assert_cmpint(r, ==, -EBADMSG);
                        g_assert_nonnull(strstr(reason, "unexpected data after the end of the zlib stream"));
                } else {
                        g_assert_cmpint(r, ==, 0);
                        g_assert_cmpuint(out->len, ==, 200000);
                        g_assert_true(memcmp(out->data, data, 200000) == 0);
                }
        }

        /* a zstd skippable frame between two frames is part of the stream */
        {
                g_autofree guint8 *a = NULL;
                size_t na;
                GByteArray *s = g_byte_array_new();
                g_autoptr(GByteArray) out = NULL;

                compress_to_file(COMPRESSION_ZSTD, path, data, 1000, 1);
                a = read_bytes(path, &na);
                g_byte_array_append(s, a, (guint) na);
                g_byte_array_append(s, (const guint8 *) "\x5e\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);
                g_byte_array_append(s, a, (guint) na);
                write_bytes(path, s->data, s->len);
                g_byte_array_unref(s);
                g_assert_cmpint(decompress_file(COMPRESSION_ZSTD, path, &out, NULL), ==, 0);
                g_assert_cmpuint(out->len, ==, 2000);
        }
}

static void test_wrong_format(Fixture *f, gconstpointer user_data) {
        g_autofree char *path = fixture_path(f, "stream");
        g_autofree guint8 *data = make_data(DATA_TEXT, 10000, 5);

        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++)
                for (size_t j = 0; j < ELEMENTSOF(compressed_formats); j++) {
                        g_autofree char *reason = NULL;

                        if (i == j)
                                continue;
                        compress_to_file(compressed_formats[i], path, data, 10000, 1);
                        g_assert_cmpint(decompress_file(compressed_formats[j], path, NULL, &reason), ==, -EBADMSG);
                        g_assert_nonnull(strstr(reason, "not a"));
                }

        /* an empty file is no stream at all */
        write_bytes(path, "", 0);
        for (size_t i = 0; i < ELEMENTSOF(compressed_formats); i++) {
                g_autofree char *reason = NULL;
                g_assert_cmpint(decompress_file(compressed_formats[i], path, NULL, &reason), ==, -EBADMSG);
                g_assert_nonnull(strstr(reason, "truncated"));
        }

        /* while for identity, empty is just empty */
        g_assert_cmpint(decompress_file(COMPRESSION_TAR, path, NULL, NULL), ==, 0);
}

/* What a standard tool makes of a file, or NULL when the tool is not installed. */
static GByteArray *decompress_with_tool(Compression c, const char *path) {
        static const char *const tools[_COMPRESSION_MAX] = {
                [COMPRESSION_TAR] = "cat",
                [COMPRESSION_GZIP] = "gzip -dc",
                [COMPRESSION_LZ4] = "lz4 -dc",
                [COMPRESSION_ZSTD] = "zstd -qdc",
                [COMPRESSION_ZLIB] = "python3 -c 'import sys, zlib; "
                                     "sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], \"rb\").read()))'",
        };
        g_autofree char *name = g_strndup(tools[c], strcspn(tools[c], " "));
        g_autofree char *tool = g_find_program_in_path(name);
        if (!tool)
                return NULL;
        g_autofree char *out = g_strconcat(path, ".out", NULL);
        g_autofree char *cmd = g_strdup_printf("%s '%s' > '%s'", tools[c], path, out);
        const char *argv[] = { "sh", "-c", cmd, NULL };
        gint status = -1;
        GError *error = NULL;
        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                                   &error));
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        gchar *data = NULL;
        gsize len = 0;
        g_assert_true(g_file_get_contents(out, &data, &len, NULL));
        (void) unlink(out);
        return g_byte_array_new_take((guint8 *) data, len);
}

static void assert_tools_read(Compression c, const char *path, const GByteArray *want) {
        g_autoptr(GByteArray) tool = decompress_with_tool(c, path);

        if (!tool) {
                /* The archives' promise is that standard tools read them: not checked is failed. */
                g_test_fail_printf("no tool to read %s with here (tools/setup installs them)", compression_to_string(c));
                return;
        }
        g_assert_cmpmem(tool->data, tool->len, want->data, want->len);
}

/* Tar headers are patched once an entry's size is known: the segment's new bytes must be what
 * our reader and the standard tools decompress, for any number of threads, wherever the segment
 * sits: first, between chunks, next to another one, last; patched while its bytes still wait in
 * the pipeline or after they reached the file. */
static void test_patchable(Fixture *f, gconstpointer user_data) {
        const size_t a_len = 5 * 1024 * 1024 + 123, b_len = 1024 * 1024 + 7;
        g_autofree guint8 *a = make_data(DATA_MIXED, a_len, 1), *b = make_data(DATA_MIXED, b_len, 2);
        g_autofree guint8 *big_before = g_malloc(4096), *big_after = g_malloc(4096);
        guint8 before[512], after[512];

        memset(before, 'x', sizeof(before));
        memset(after, 'y', sizeof(after));
        after[0] = 0, after[511] = 0xff;
        memset(big_before, 0, 4096);
        for (size_t i = 0; i < 4096; i++)
                big_after[i] = (guint8) (i * 7);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++)
                for (unsigned threads = 1; threads <= 3; threads++) {
                        Compression c = stream_formats[i];
                        g_autofree char *path = fixture_path(f, "patched");
                        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        g_autoptr(GByteArray) want = g_byte_array_new();
                        g_autoptr(GByteArray) got = NULL;
                        uint64_t h1, h2, h3, h4;
                        struct stat st;

                        g_test_message("%s, %u threads", compression_to_string(c), threads);
                        g_assert_cmpint(fd, >=, 0);
                        g_assert_cmpint(codec_writer_new(c, fd, threads, &w), ==, 0);
                        g_assert_cmpint(codec_writer_write_patchable(w, before, sizeof(before), &h1), ==, 0);
                        g_assert_cmpint(codec_writer_write(w, a, a_len), ==, 0);
                        g_assert_cmpint(codec_writer_write_patchable(w, before, sizeof(before), &h2), ==, 0);
                        g_assert_cmpint(codec_writer_write_patchable(w, big_before, 4096, &h3), ==, 0);
                        /* right away: probably still in the pipeline */
                        g_assert_cmpint(codec_writer_patch(w, h3, big_after, 4096), ==, 0);
                        g_assert_cmpint(codec_writer_write(w, b, b_len), ==, 0);
                        g_assert_cmpint(codec_writer_patch(w, h2, before, sizeof(before)), ==, 0);
                        g_assert_cmpint(codec_writer_patch(w, h2, after, sizeof(after)), ==, 0);
                        g_assert_cmpint(codec_writer_patch(w, h1, after, sizeof(after)), ==, 0);
                        g_assert_cmpint(codec_writer_write_patchable(w, before, 100, &h4), ==, 0);
                        g_assert_cmpint(codec_writer_patch(w, h4, after, 100), ==, 0);

                        g_assert_cmpint(codec_writer_patch(w, h1, after, 100), ==, -EINVAL);
                        g_assert_cmpint(codec_writer_patch(w, h4 + 1, after, 100), ==, -EINVAL);
                        g_assert_cmpint(codec_writer_write_patchable(w, before, 0, &h4), ==, -EINVAL);
                        g_assert_cmpint(codec_writer_write_patchable(w, big_before, 4097, &h4), ==, -EINVAL);
                        g_assert_cmpint(codec_writer_finish(w), ==, 0);
                        /* too late: the trailer is written */
                        g_assert_cmpint(codec_writer_patch(w, h1, after, sizeof(after)), ==, -EINVAL);

                        g_byte_array_append(want, after, sizeof(after));
                        g_byte_array_append(want, a, (guint) a_len);
                        g_byte_array_append(want, after, sizeof(after));
                        g_byte_array_append(want, big_after, 4096);
                        g_byte_array_append(want, b, (guint) b_len);
                        g_byte_array_append(want, after, 100);
                        g_assert_cmpuint(codec_writer_bytes_in(w), ==, want->len);
                        g_assert_cmpint(fstat(fd, &st), ==, 0);
                        g_assert_cmpuint(codec_writer_bytes_out(w), ==, (guint64) st.st_size);

                        g_assert_cmpint(decompress_file(c, path, &got, NULL), ==, 0);
                        g_assert_cmpmem(got->data, got->len, want->data, want->len);
                        assert_tools_read(c, path, want);
                }
}

/* Nothing but patchable segments, and a writer that starts in the middle of a file: a segment's
 * place is where the writer put it, not counted from the file's start. */
static void test_patchable_offset(Fixture *f, gconstpointer user_data) {
        static const char prefix[] = "a header of the caller's own, before the stream\n";
        guint8 seg[300];

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                Compression c = stream_formats[i];
                g_autofree char *path = fixture_path(f, "offset");
                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                g_autoptr(GByteArray) want = g_byte_array_new();
                g_autoptr(GByteArray) got = NULL;
                uint64_t h[3];
                struct stat st;

                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(write(fd, prefix, STRLEN(prefix)), ==, (ssize_t) STRLEN(prefix));
                g_assert_cmpint(codec_writer_new(c, fd, 2, &w), ==, 0);
                for (size_t k = 0; k < ELEMENTSOF(h); k++) {
                        memset(seg, 'a' + (int) k, sizeof(seg));
                        g_assert_cmpint(codec_writer_write_patchable(w, seg, sizeof(seg), &h[k]), ==, 0);
                }
                for (size_t k = 0; k < ELEMENTSOF(h); k++) {
                        memset(seg, 'A' + (int) k, sizeof(seg));
                        g_assert_cmpint(codec_writer_patch(w, h[k], seg, sizeof(seg)), ==, 0);
                        g_byte_array_append(want, seg, sizeof(seg));
                }
                g_assert_cmpint(codec_writer_finish(w), ==, 0);
                g_assert_cmpint(fstat(fd, &st), ==, 0);
                g_assert_cmpuint(codec_writer_bytes_out(w), ==, (guint64) st.st_size - STRLEN(prefix));

                g_assert_cmpint(decompress_file_at(c, path, STRLEN(prefix), &got, NULL), ==, 0);
                g_assert_cmpmem(got->data, got->len, want->data, want->len);
        }
}

/* The place of a segment must be known: not on a pipe. */
static void test_patchable_pipe(void) {
        guint8 seg[512] = {};

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++)
                for (unsigned threads = 1; threads <= 2; threads++) {
                        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
                        uint64_t h;

                        g_assert_cmpint(pipe2(p, O_CLOEXEC | O_NONBLOCK), ==, 0);
                        g_assert_cmpint(codec_writer_new(stream_formats[i], p[1], threads, &w), ==, 0);
                        g_assert_cmpint(codec_writer_write_patchable(w, seg, sizeof(seg), &h), ==, -ESPIPE);
                        /* not sticky: the stream itself is fine */
                        g_assert_cmpint(codec_writer_write(w, seg, sizeof(seg)), ==, 0);
                }
}

static void test_enospc(void) {
        g_autofree guint8 *data = make_data(DATA_RANDOM, 3 * 1024 * 1024, 9);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
                _cleanup_close_ int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
                int r;

                if (fd < 0) {
                        g_test_skip("no /dev/full");
                        return;
                }
                g_assert_cmpint(codec_writer_new(stream_formats[i], fd, 1, &w), ==, 0);
                r = codec_writer_write(w, data, 3 * 1024 * 1024);
                if (r == 0)
                        r = codec_writer_finish(w);
                g_assert_cmpint(r, ==, -ENOSPC);
                /* sticky */
                g_assert_cmpint(codec_writer_finish(w), ==, -ENOSPC);
                g_assert_cmpint(codec_writer_write(w, data, 1), ==, -ENOSPC);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/compression/names", test_compression_names);
        g_test_add_func("/codec/invalid", test_writer_invalid);
        g_test_add_func("/codec/enospc", test_enospc);

        for (size_t i = 0; i < ELEMENTSOF(stream_formats); i++) {
                g_autofree char *name =
                        g_strdup_printf("/codec/roundtrip/%s", compression_to_string(stream_formats[i]));
                g_test_add(name, Fixture, GINT_TO_POINTER(stream_formats[i]), fixture_setup, test_roundtrip,
                           fixture_teardown);
        }
        g_test_add("/codec/roundtrip-threads", Fixture, NULL, fixture_setup, test_roundtrip_threads,
                   fixture_teardown);
        g_test_add("/codec/detect", Fixture, NULL, fixture_setup, test_detect, fixture_teardown);
        g_test_add("/codec/truncated", Fixture, NULL, fixture_setup, test_truncated, fixture_teardown);
        g_test_add("/codec/corrupt", Fixture, NULL, fixture_setup, test_corrupt, fixture_teardown);
        g_test_add("/codec/trailing-garbage", Fixture, NULL, fixture_setup, test_trailing_garbage,
                   fixture_teardown);
        g_test_add("/codec/concatenated", Fixture, NULL, fixture_setup, test_concatenated, fixture_teardown);
        g_test_add("/codec/wrong-format", Fixture, NULL, fixture_setup, test_wrong_format, fixture_teardown);
        g_test_add("/codec/threads-same-output", Fixture, NULL, fixture_setup, test_threads_same_output,
                   fixture_teardown);
        g_test_add("/codec/deflate-shortcuts", Fixture, NULL, fixture_setup, test_deflate_shortcuts,
                   fixture_teardown);
        g_test_add("/codec/patchable", Fixture, NULL, fixture_setup, test_patchable, fixture_teardown);
        g_test_add("/codec/patchable-offset", Fixture, NULL, fixture_setup, test_patchable_offset,
                   fixture_teardown);
        g_test_add_func("/codec/patchable-pipe", test_patchable_pipe);

        return g_test_run();
}
