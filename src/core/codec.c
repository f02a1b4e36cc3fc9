/* SPDX-License-Identifier: Apache-2.0 */
/* Compression streams for checkpoint archives: magic-byte detection and the streaming
 * readers over zlib (gzip, zlib), liblz4 (frame format) and libzstd. (Writer: codec-writer.c.) */

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"
#include "fd-util.h"
#include "macro.h"

/* Big enough that write(2) and read(2) costs vanish next to compression, small enough that a
 * handful of parallel jobs stay cheap. */
#define CODEC_BUFFER_SIZE ((size_t) 1024 * 1024)

/* LZ4 input is fed in slices of this size so that one slice's worst case always fits the
 * output buffer (LZ4F_compressUpdate() refuses to write partial output). */
#define LZ4_SLICE_SIZE ((size_t) 1024 * 1024)

/* zlib counts in uInt. */
#define ZLIB_SLICE_SIZE ((size_t) 1024 * 1024 * 1024)

#define ZSTD_MAGIC UINT32_C(0xFD2FB528)
#define LZ4_MAGIC UINT32_C(0x184D2204)
#define SKIPPABLE_MAGIC_MASK UINT32_C(0xFFFFFFF0)
#define SKIPPABLE_MAGIC UINT32_C(0x184D2A50)
/* Each skippable frame costs one pread() in codec_detect(); real files have none or one. */
#define DETECT_MAX_SKIPPABLE_FRAMES 16

static uint32_t unaligned_read_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static bool is_skippable_magic(uint32_t m) {
        return (m & SKIPPABLE_MAGIC_MASK) == SKIPPABLE_MAGIC;
}

static bool is_zlib_header(const uint8_t *p) {
        /* RFC 1950: CM = 8 (deflate), CINFO <= 7 (window <= 32 KiB), FCHECK makes the pair a
         * multiple of 31, and no preset dictionary (we never write one, so one means foreign data). */
        return (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && ((unsigned) p[0] * 256 + p[1]) % 31 == 0 &&
               !(p[1] & 0x20);
}

static bool is_gzip_header(const uint8_t *p) {
        return p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08;
}

int codec_detect(int fd, Compression *ret) {
        uint8_t h[512];
        struct stat st;
        ssize_t n;

        if (!ret)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode)) {
                *ret = COMPRESSION_NONE;
                return 0;
        }
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        n = loop_pread(fd, h, sizeof(h), 0);
        if (n < 0)
                return (int) n;
        if (n == 0)
                return -ENODATA;

        if (n >= 3 && is_gzip_header(h)) {
                *ret = COMPRESSION_GZIP;
                return 0;
        }

        /* zstd and lz4 share the skippable frame magic, so look past skippable frames for the
         * first real one to tell them apart. */
        if (n >= 4) {
                uint8_t m[8] = {};
                size_t have = MIN((size_t) n, sizeof(m));
                off_t offset = 0;

                memcpy(m, h, have);
                for (unsigned i = 0; i <= DETECT_MAX_SKIPPABLE_FRAMES && have >= 4; i++) {
                        uint32_t magic = unaligned_read_le32(m);
                        ssize_t k;

                        if (magic == ZSTD_MAGIC) {
                                *ret = COMPRESSION_ZSTD;
                                return 0;
                        }
                        if (magic == LZ4_MAGIC) {
                                *ret = COMPRESSION_LZ4;
                                return 0;
                        }
                        if (!is_skippable_magic(magic) || have < 8)
                                break;

                        offset += 8 + (off_t) unaligned_read_le32(m + 4);
                        k = loop_pread(fd, m, sizeof(m), (uint64_t) offset);
                        if (k < 0)
                                return (int) k;
                        have = (size_t) k;
                }
        }

        if (n >= 257 + 5 && memcmp(h + 257, "ustar", 5) == 0) {
                *ret = COMPRESSION_TAR;
                return 0;
        }

        /* Last: two bytes of zlib header are the weakest signature of all. */
        if (n >= 2 && is_zlib_header(h)) {
                *ret = COMPRESSION_ZLIB;
                return 0;
        }

        return -EMEDIUMTYPE;
}

static int zlib_error_to_errno(int zr) {
        return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
}

/* Readers. The compressed ones share one loop: refill input, decode into the caller's buffer,
 * and at each frame (member) boundary decide between "next frame", "clean end" and "garbage". */
typedef enum DecodeResult {
        DECODE_MORE,      /* keep going */
        DECODE_FRAME_END, /* a frame (gzip member, zlib stream) ended */
} DecodeResult;

typedef struct CodecReaderOps {
        const char *name;
        /* Bytes is_frame_start() looks at. */
        size_t magic_size;
        /* Whether another frame may follow the end of one. */
        bool concatenated;
        int (*init)(CodecReader *r);
        bool (*is_frame_start)(const uint8_t *p);
        /* Called before every frame but the first. */
        int (*next_frame)(CodecReader *r);
        int (*decode)(CodecReader *r, uint8_t *out, size_t n, size_t *ret_out);
        void (*done)(CodecReader *r);
} CodecReaderOps;

struct CodecReader {
        Compression compression;
        const CodecReaderOps *ops;
        int fd;
        /* codec_reader_new_at(): read with pread() from here on, the fd's offset untouched. */
        bool positioned;
        uint64_t pos;
        /* zlib only: raw deflate from a block boundary inside the stream, without its header. */
        bool raw;

        uint8_t *ibuf;
        size_t ibuf_size;
        size_t ipos, ilen;
        bool eof;

        bool at_boundary;
        bool first_frame;
        bool done;

        uint64_t bytes_in;

        /* Sticky, like the writer's: a stream that failed once is not read further. */
        int error;
        char *error_message;

        union {
                z_stream z;
                LZ4F_dctx *lz4;
                ZSTD_DCtx *zstd;
        };
        bool z_initialized;
};

_printf_(3, 4) static int reader_fail(CodecReader *r, int error, const char *format, ...) {
        va_list ap;

        free(r->error_message);
        r->error_message = NULL;

        va_start(ap, format);
        if (vasprintf(&r->error_message, format, ap) < 0)
                r->error_message = NULL;
        va_end(ap);

        r->error = error;
        return error;
}

static int reader_truncated(CodecReader *r) {
        return reader_fail(r, -EBADMSG, "the %s stream is truncated", r->ops->name);
}

/* Moves unread input to the front and reads more behind it. */
static int reader_refill(CodecReader *r) {
        ssize_t k;

        if (r->eof)
                return 0;
        if (r->ipos > 0) {
                memmove(r->ibuf, r->ibuf + r->ipos, r->ilen - r->ipos);
                r->ilen -= r->ipos;
                r->ipos = 0;
        }
        if (r->ilen == r->ibuf_size)
                return 0;

        for (;;) {
                k = r->positioned ? pread(r->fd, r->ibuf + r->ilen, r->ibuf_size - r->ilen, (off_t) r->pos)
                                  : read(r->fd, r->ibuf + r->ilen, r->ibuf_size - r->ilen);
                if (k >= 0)
                        break;
                if (errno != EINTR) {
                        int e = negative_errno();
                        return reader_fail(r, e, "reading the %s stream failed: %s", r->ops->name, strerror(-e));
                }
        }
        if (k == 0)
                r->eof = true;
        r->ilen += (size_t) k;
        r->bytes_in += (uint64_t) k;
        r->pos += (uint64_t) k;
        return 0;
}

static int reader_skip(CodecReader *r, size_t n) {
        while (r->ilen - r->ipos < n && !r->eof) {
                int q = reader_refill(r);
                if (q < 0)
                        return q;
        }
        if (r->ilen - r->ipos < n)
                return reader_truncated(r);
        r->ipos += n;
        return 0;
}

static int reader_check_boundary(CodecReader *r) {
        size_t need = r->ops->magic_size;
        int q;

        while (r->ilen - r->ipos < need && !r->eof) {
                q = reader_refill(r);
                if (q < 0)
                        return q;
        }

        if (r->ilen == r->ipos) {
                if (r->first_frame)
                        return reader_truncated(r);
                r->done = true;
                return 0;
        }

        if (r->first_frame) {
                if (r->ilen - r->ipos < need)
                        return reader_truncated(r);
                if (!r->ops->is_frame_start(r->ibuf + r->ipos))
                        return reader_fail(r, -EBADMSG, "the data is not a %s stream", r->ops->name);
        } else {
                if (!r->ops->concatenated || r->ilen - r->ipos < need ||
                    !r->ops->is_frame_start(r->ibuf + r->ipos))
                        return reader_fail(r, -EBADMSG, "unexpected data after the end of the %s stream",
                                           r->ops->name);
                if (r->ops->next_frame) {
                        q = r->ops->next_frame(r);
                        if (q < 0)
                                return reader_fail(r, q, "restarting the %s decoder failed", r->ops->name);
                }
        }

        r->first_frame = false;
        r->at_boundary = false;
        return 0;
}

static ssize_t reader_read_compressed(CodecReader *r, uint8_t *buf, size_t n) {
        size_t produced = 0;
        int q;

        /* Fill the caller's buffer completely unless the stream ends: consumers such as
         * libarchive work per buffer, and fewer, fuller buffers are cheaper. */
        while (produced < n && !r->done && r->error == 0) {
                size_t ipos_before, out = 0;

                if (r->at_boundary) {
                        (void) reader_check_boundary(r);
                        continue;
                }

                if (r->ipos == r->ilen && !r->eof) {
                        if (reader_refill(r) < 0)
                                break;
                }

                ipos_before = r->ipos;
                q = r->ops->decode(r, buf + produced, n - produced, &out);
                produced += out;
                if (q < 0)
                        break;
                if (q == DECODE_FRAME_END) {
                        /* Read raw, the zlib stream's adler32 is left over: what it covers was
                         * not all read here, so it is skipped, not checked. */
                        if (r->raw && reader_skip(r, 4) < 0)
                                break;
                        r->at_boundary = true;
                        continue;
                }

                if (out == 0 && r->ipos == ipos_before) {
                        /* No progress: the decoder wants input we do not have. */
                        if (r->eof)
                                (void) reader_truncated(r);
                        else if (reader_refill(r) < 0)
                                break;
                        else if (r->ilen == r->ibuf_size && r->ipos == 0)
                                (void) reader_fail(r, -EBADMSG, "the %s stream is corrupt", r->ops->name);
                }
        }

        /* Data decoded before an error is still handed out; the error comes with the next call. */
        if (produced > 0)
                return (ssize_t) produced;
        return r->error;
}

static int inflate_init(CodecReader *r) {
        int window_bits = r->compression == COMPRESSION_GZIP ? 15 + 16 : r->raw ? -15 : 15;
        int zr;

        zr = inflateInit2(&r->z, window_bits);
        if (zr != Z_OK)
                return zlib_error_to_errno(zr);
        r->z_initialized = true;
        return 0;
}

static int inflate_next_frame(CodecReader *r) {
        int zr = inflateReset(&r->z);
        return zr == Z_OK ? 0 : zlib_error_to_errno(zr);
}

static int inflate_decode(CodecReader *r, uint8_t *out, size_t n, size_t *ret_out) {
        size_t in_avail = MIN(r->ilen - r->ipos, ZLIB_SLICE_SIZE), out_avail = MIN(n, ZLIB_SLICE_SIZE);
        int zr;

        r->z.next_in = r->ibuf + r->ipos;
        r->z.avail_in = (uInt) in_avail;
        r->z.next_out = out;
        r->z.avail_out = (uInt) out_avail;

        zr = inflate(&r->z, Z_NO_FLUSH);
        r->ipos += in_avail - r->z.avail_in;
        *ret_out = out_avail - r->z.avail_out;

        switch (zr) {
        case Z_OK:
        case Z_BUF_ERROR: /* no progress possible, the caller sorts out why */
                return DECODE_MORE;
        case Z_STREAM_END:
                return DECODE_FRAME_END;
        case Z_NEED_DICT:
                return reader_fail(r, -EBADMSG, "the %s stream is corrupt (it needs a preset dictionary)",
                                   r->ops->name);
        case Z_DATA_ERROR:
                return reader_fail(r, -EBADMSG, "the %s stream is corrupt (%s)", r->ops->name,
                                   r->z.msg ?: "invalid data");
        case Z_MEM_ERROR:
                return reader_fail(r, -ENOMEM, "decompressing the %s stream ran out of memory", r->ops->name);
        default:
                return reader_fail(r, -EIO, "decompressing the %s stream failed", r->ops->name);
        }
}

static void inflate_done(CodecReader *r) {
        if (r->z_initialized)
                (void) inflateEnd(&r->z);
        r->z_initialized = false;
}

static bool is_zlib_frame_start(const uint8_t *p) {
        return is_zlib_header(p);
}

static bool is_gzip_frame_start(const uint8_t *p) {
        return is_gzip_header(p);
}

/* gzip: concatenated members are one stream (RFC 1952 2.2, and what gzip -d does). */
static const CodecReaderOps gzip_reader_ops = {
        .name = "gzip",
        .magic_size = 3,
        .concatenated = true,
        .init = inflate_init,
        .is_frame_start = is_gzip_frame_start,
        .next_frame = inflate_next_frame,
        .decode = inflate_decode,
        .done = inflate_done,
};

/* zlib: exactly one stream; RFC 1950 has no notion of concatenation. */
static const CodecReaderOps zlib_reader_ops = {
        .name = "zlib",
        .magic_size = 2,
        .init = inflate_init,
        .is_frame_start = is_zlib_frame_start,
        .decode = inflate_decode,
        .done = inflate_done,
};

static int lz4_reader_init(CodecReader *r) {
        if (LZ4F_isError(LZ4F_createDecompressionContext(&r->lz4, LZ4F_VERSION)))
                return -ENOMEM;
        return 0;
}

static bool is_lz4_frame_start(const uint8_t *p) {
        uint32_t m = unaligned_read_le32(p);
        return m == LZ4_MAGIC || is_skippable_magic(m);
}

static int lz4_decode(CodecReader *r, uint8_t *out, size_t n, size_t *ret_out) {
        size_t in_size = r->ilen - r->ipos, out_size = n, k;

        k = LZ4F_decompress(r->lz4, out, &out_size, r->ibuf + r->ipos, &in_size, NULL);
        r->ipos += in_size;
        *ret_out = out_size;
        if (LZ4F_isError(k))
                return reader_fail(r, -EBADMSG, "the lz4 stream is corrupt (%s)", LZ4F_getErrorName(k));
        /* 0: the frame is complete, checksum verified, everything handed out. */
        return k == 0 ? DECODE_FRAME_END : DECODE_MORE;
}

static void lz4_reader_done(CodecReader *r) {
        if (r->lz4)
                (void) LZ4F_freeDecompressionContext(r->lz4);
        r->lz4 = NULL;
}

/* lz4: concatenated frames and skippable frames are one stream, as for lz4 -d. */
static const CodecReaderOps lz4_reader_ops = {
        .name = "lz4",
        .magic_size = 4,
        .concatenated = true,
        .init = lz4_reader_init,
        .is_frame_start = is_lz4_frame_start,
        .decode = lz4_decode,
        .done = lz4_reader_done,
};

static int zstd_reader_init(CodecReader *r) {
        /* The default window limit (128 MiB) bounds memory against hostile frame headers. */
        r->zstd = ZSTD_createDCtx();
        return r->zstd ? 0 : -ENOMEM;
}

static bool is_zstd_frame_start(const uint8_t *p) {
        uint32_t m = unaligned_read_le32(p);
        return m == ZSTD_MAGIC || is_skippable_magic(m);
}

static int zstd_decode(CodecReader *r, uint8_t *out, size_t n, size_t *ret_out) {
        ZSTD_inBuffer in = { .src = r->ibuf + r->ipos, .size = r->ilen - r->ipos };
        ZSTD_outBuffer o = { .dst = out, .size = n };
        size_t k;

        k = ZSTD_decompressStream(r->zstd, &o, &in);
        r->ipos += in.pos;
        *ret_out = o.pos;
        if (ZSTD_isError(k)) {
                if (ZSTD_getErrorCode(k) == ZSTD_error_memory_allocation)
                        return reader_fail(r, -ENOMEM, "decompressing the zstd stream ran out of memory");
                return reader_fail(r, -EBADMSG, "the zstd stream is corrupt (%s)", ZSTD_getErrorName(k));
        }
        return k == 0 ? DECODE_FRAME_END : DECODE_MORE;
}

static void zstd_reader_done(CodecReader *r) {
        ZSTD_freeDCtx(r->zstd);
        r->zstd = NULL;
}

/* zstd: concatenated frames and skippable frames are one stream, as the format says. */
static const CodecReaderOps zstd_reader_ops = {
        .name = "zstd",
        .magic_size = 4,
        .concatenated = true,
        .init = zstd_reader_init,
        .is_frame_start = is_zstd_frame_start,
        .decode = zstd_decode,
        .done = zstd_reader_done,
};

static const CodecReaderOps identity_reader_ops = {
        .name = "tar",
};

static const CodecReaderOps *const reader_ops_table[_COMPRESSION_MAX] = {
        [COMPRESSION_TAR] = &identity_reader_ops,
        [COMPRESSION_GZIP] = &gzip_reader_ops,
        [COMPRESSION_LZ4] = &lz4_reader_ops,
        [COMPRESSION_ZLIB] = &zlib_reader_ops,
        [COMPRESSION_ZSTD] = &zstd_reader_ops,
};

static int reader_new(int in_fd, Compression c, bool positioned, uint64_t offset, bool middle, CodecReader **ret) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        int q;

        if (c < 0 || c >= _COMPRESSION_MAX || c == COMPRESSION_NONE || in_fd < 0 || !ret)
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->compression = c;
        r->ops = reader_ops_table[c];
        r->fd = in_fd;
        r->positioned = positioned;
        r->pos = offset;
        r->at_boundary = true;
        r->first_frame = true;
        if (middle && c == COMPRESSION_ZLIB) {
                /* Inside the one zlib stream there is no header to check, only deflate blocks. */
                r->raw = true;
                r->at_boundary = r->first_frame = false;
        }

        if (c != COMPRESSION_TAR) {
                r->ibuf = malloc(CODEC_BUFFER_SIZE);
                if (!r->ibuf)
                        return -ENOMEM;
                r->ibuf_size = CODEC_BUFFER_SIZE;
        }

        if (r->ops->init) {
                q = r->ops->init(r);
                if (q < 0)
                        return q;
        }

        *ret = TAKE_PTR(r);
        return 0;
}

int codec_reader_new(int in_fd, Compression c, CodecReader **ret) {
        return reader_new(in_fd, c, false, 0, false, ret);
}

int codec_reader_new_at(int in_fd, Compression c, uint64_t offset, CodecReader **ret) {
        return reader_new(in_fd, c, true, offset, offset > 0, ret);
}

int codec_reader_new_from(int in_fd, Compression c, bool middle, CodecReader **ret) {
        return reader_new(in_fd, c, false, 0, middle, ret);
}

ssize_t codec_reader_read(CodecReader *r, void *buf, size_t n) {
        ssize_t k;

        if (!r || (!buf && n > 0))
                return -EINVAL;
        if (r->error < 0)
                return r->error;
        if (n == 0 || r->done)
                return 0;
        n = MIN(n, (size_t) SSIZE_MAX);

        if (r->compression != COMPRESSION_TAR)
                return reader_read_compressed(r, buf, n);

        /* Identity: where the tar ends is for the tar reader to say. */
        k = r->positioned ? loop_pread(r->fd, buf, n, r->pos) : loop_read(r->fd, buf, n);
        if (k < 0)
                return reader_fail(r, (int) k, "reading the tar stream failed: %s", strerror((int) -k));
        if (k == 0)
                r->done = true;
        r->bytes_in += (uint64_t) k;
        r->pos += (uint64_t) k;
        return k;
}

const char *codec_reader_error(const CodecReader *r) {
        if (!r || r->error == 0)
                return NULL;
        return r->error_message ?: "the stream could not be read";
}

uint64_t codec_reader_bytes_in(const CodecReader *r) {
        return r ? r->bytes_in : 0;
}

CodecReader *codec_reader_free(CodecReader *r) {
        if (!r)
                return NULL;
        if (r->ops && r->ops->done)
                r->ops->done(r);
        free(r->ibuf);
        free(r->error_message);
        free(r);
        return NULL;
}

static int inflate_frame(bool raw, const void *in, size_t n, void *out, size_t out_max, size_t *ret_out) {
        z_stream z = { .next_in = (Bytef *) in, .avail_in = (uInt) n, .next_out = out, .avail_out = (uInt) out_max };
        if (n > UINT_MAX || out_max > UINT_MAX)
                return -EINVAL;
        int zr = inflateInit2(&z, raw ? -15 : 15 + 16);
        if (zr != Z_OK)
                return zlib_error_to_errno(zr);
        zr = inflate(&z, raw ? Z_SYNC_FLUSH : Z_FINISH);
        size_t produced = out_max - z.avail_out;
        bool left = z.avail_in > 0;
        (void) inflateEnd(&z);
        /* A gzip member ends with its trailer; a run of the zlib stream just stops, flushed. */
        if (left || (raw ? zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR : zr != Z_STREAM_END))
                return -EBADMSG;
        *ret_out = produced;
        return 0;
}

static int lz4_frame(const void *in, size_t n, void *out, size_t out_max, size_t *ret_out) {
        LZ4F_dctx *ctx;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
                return -ENOMEM;
        size_t in_done = 0, out_done = 0, hint = 1;
        while (hint != 0 && in_done < n) {
                size_t src = n - in_done, dst = out_max - out_done;
                hint = LZ4F_decompress(ctx, (uint8_t *) out + out_done, &dst, (const uint8_t *) in + in_done, &src, NULL);
                if (LZ4F_isError(hint) || (src == 0 && dst == 0))
                        break;
                in_done += src, out_done += dst;
        }
        (void) LZ4F_freeDecompressionContext(ctx);
        if (hint != 0 || in_done != n)
                return -EBADMSG;
        *ret_out = out_done;
        return 0;
}

int codec_decode_frame(Compression c, const void *in, size_t n, void *out, size_t out_max, size_t *ret_out) {
        switch (c) {
        case COMPRESSION_TAR:
                if (n > out_max)
                        return -EBADMSG;
                memcpy(out, in, n);
                *ret_out = n;
                return 0;
        case COMPRESSION_ZSTD: {
                size_t k = ZSTD_decompress(out, out_max, in, n);
                if (ZSTD_isError(k))
                        return -EBADMSG;
                *ret_out = k;
                return 0;
        }
        case COMPRESSION_LZ4:
                return lz4_frame(in, n, out, out_max, ret_out);
        case COMPRESSION_GZIP:
        case COMPRESSION_ZLIB:
                return inflate_frame(c == COMPRESSION_ZLIB, in, n, out, out_max, ret_out);
        default:
                return -EINVAL;
        }
}
