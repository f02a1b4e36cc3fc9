/* SPDX-License-Identifier: Apache-2.0 */
/* The compressing writer: input cut into chunks, each compressed on its own by a pool of
 * threads into an independent zstd frame, lz4 frame, gzip member or full-flushed deflate run,
 * and written in order, with disk writeback started as it goes. */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"
#include "fd-util.h"
#include "macro.h"

/* Per chunk: big enough that frame overhead and lost matches across chunks do not matter,
 * small enough that the chunks in flight stay a few tens of MiB. */
#define CHUNK_SIZE ((size_t) 2 << 20)
/* Writeback of what was written is started every this many bytes, so the final fsync() of a
 * checkpoint has little left to wait for. */
#define WRITEBACK_STEP ((uint64_t) 32 << 20)
#define PATCH_MAX 4096

typedef enum SlotState {
        SLOT_FREE,
        SLOT_QUEUED,
        SLOT_BUSY,
        SLOT_DONE,
} SlotState;

typedef struct Slot {
        SlotState state;
        uint64_t seq;
        uint8_t *in;
        size_t in_len;
        uint8_t *out;
        size_t out_size;
        size_t out_len;
        uint32_t adler; /* zlib: adler32 of in */
        int error;
} Slot;

/* zlib's trailer is the adler32 of all data: kept per piece, combined at the end. */
typedef struct AdlerPiece {
        uint32_t adler;
        uint64_t len;
} AdlerPiece;

typedef struct Patchable {
        uint64_t offset;     /* of the raw bytes in the file */
        size_t len;
        uint64_t crc_offset; /* gzip: of the member's CRC32 */
        size_t adler_index;  /* zlib: its piece */
} Patchable;

/* What compressing a chunk needs and can reuse: one per thread. */
typedef struct ChunkContext {
        ZSTD_CCtx *zstd;
        z_stream z;
        bool z_initialized;
} ChunkContext;

static void chunk_context_done(ChunkContext *ctx) {
        ZSTD_freeCCtx(ctx->zstd);
        if (ctx->z_initialized)
                (void) deflateEnd(&ctx->z);
        *ctx = (ChunkContext) {};
}

struct CodecWriter {
        Compression compression;
        ChunkContext ctx; /* for chunks compressed by the caller's thread */
        int fd;
        bool regular; /* seekable, can be patched and written back early */
        unsigned n_threads;
        pthread_t *threads;

        pthread_mutex_t lock;
        pthread_cond_t work;  /* a slot was queued, or we stop */
        pthread_cond_t ready; /* a slot is done */
        bool stop;

        Slot *slots;
        size_t n_slots;
        uint64_t next_seq;  /* given to the next chunk */
        uint64_t write_seq; /* of the chunk to be written next */
        Slot *filling;      /* the chunk being filled by the caller */

        AdlerPiece *pieces;
        size_t n_pieces;
        Patchable *patches;
        size_t n_patches;

        uint64_t bytes_in;
        uint64_t bytes_out;
        uint64_t written_back; /* writeback was started up to here */
        bool started;          /* something was written (zlib: the header first) */
        int error;             /* the first error; everything after returns it */
        bool finished;
};

static size_t out_bound(Compression c, size_t n) {
        switch (c) {
        case COMPRESSION_ZSTD:
                return ZSTD_compressBound(n);
        case COMPRESSION_LZ4: {
                LZ4F_preferences_t p = { .frameInfo = { .contentChecksumFlag = LZ4F_contentChecksumEnabled } };
                return LZ4F_compressFrameBound(n, &p);
        }
        case COMPRESSION_GZIP:
        case COMPRESSION_ZLIB:
                /* deflateBound() for level 1, plus gzip's header and trailer and a flush marker */
                return n + n / 1000 + 64 + (n >> 12) * 5 + 64;
        default:
                return n;
        }
}

static int deflate_chunk(ChunkContext *ctx, Slot *s, bool gzip) {
        z_stream *z = &ctx->z;
        int zr;
        if (!ctx->z_initialized) {
                /* Level 1: checkpoints are written while the process is frozen; speed beats
                 * ratio. gzip: a member per chunk. zlib: one raw deflate stream over all chunks,
                 * byte-aligned between them by a full flush. */
                zr = deflateInit2(z, 1, Z_DEFLATED, gzip ? 15 + 16 : -15, 8, Z_DEFAULT_STRATEGY);
                if (zr != Z_OK)
                        return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
                ctx->z_initialized = true;
        } else if (deflateReset(z) != Z_OK)
                return -EIO;
        z->next_in = s->in;
        z->avail_in = (uInt) s->in_len;
        z->next_out = s->out;
        z->avail_out = (uInt) s->out_size;
        zr = deflate(z, gzip ? Z_FINISH : Z_FULL_FLUSH);
        s->out_len = s->out_size - z->avail_out;
        if (gzip ? zr != Z_STREAM_END : (zr != Z_OK || z->avail_in != 0 || z->avail_out == 0))
                return -EIO;
        if (!gzip)
                s->adler = (uint32_t) adler32_z(adler32_z(0, Z_NULL, 0), s->in, s->in_len);
        return 0;
}

static int compress_chunk(Compression c, ChunkContext *ctx, Slot *s) {
        switch (c) {
        case COMPRESSION_ZSTD: {
                /* Level 1, with each frame's content checksum: corruption is found on reading. */
                if (!ctx->zstd) {
                        ctx->zstd = ZSTD_createCCtx();
                        if (!ctx->zstd)
                                return -ENOMEM;
                        size_t k = ZSTD_CCtx_setParameter(ctx->zstd, ZSTD_c_compressionLevel, 1);
                        if (!ZSTD_isError(k))
                                k = ZSTD_CCtx_setParameter(ctx->zstd, ZSTD_c_checksumFlag, 1);
                        if (ZSTD_isError(k))
                                return -EIO;
                }
                size_t k = ZSTD_compress2(ctx->zstd, s->out, s->out_size, s->in, s->in_len);
                if (ZSTD_isError(k))
                        return -EIO;
                s->out_len = k;
                return 0;
        }
        case COMPRESSION_LZ4: {
                LZ4F_preferences_t p = {
                        .frameInfo = {
                                .blockSizeID = LZ4F_max4MB,
                                .blockMode = LZ4F_blockIndependent,
                                .contentChecksumFlag = LZ4F_contentChecksumEnabled,
                        },
                };
                size_t k = LZ4F_compressFrame(s->out, s->out_size, s->in, s->in_len, &p);
                if (LZ4F_isError(k))
                        return -EIO;
                s->out_len = k;
                return 0;
        }
        case COMPRESSION_GZIP:
                return deflate_chunk(ctx, s, true);
        case COMPRESSION_ZLIB:
                return deflate_chunk(ctx, s, false);
        default:
                memcpy(s->out, s->in, s->in_len);
                s->out_len = s->in_len;
                return 0;
        }
}

static void *worker_thread(void *userdata) {
        CodecWriter *w = userdata;
        ChunkContext ctx = {};
        pthread_mutex_lock(&w->lock);
        for (;;) {
                Slot *s = NULL;
                for (size_t i = 0; i < w->n_slots && !s; i++)
                        if (w->slots[i].state == SLOT_QUEUED)
                                s = &w->slots[i];
                if (!s) {
                        if (w->stop)
                                break;
                        pthread_cond_wait(&w->work, &w->lock);
                        continue;
                }
                s->state = SLOT_BUSY;
                pthread_mutex_unlock(&w->lock);
                int r = compress_chunk(w->compression, &ctx, s);
                pthread_mutex_lock(&w->lock);
                s->error = r;
                s->state = SLOT_DONE;
                pthread_cond_broadcast(&w->ready);
        }
        pthread_mutex_unlock(&w->lock);
        chunk_context_done(&ctx);
        return NULL;
}

static int write_out(CodecWriter *w, const void *buf, size_t n) {
        int r;
        if (!w->started) {
                w->started = true;
                if (w->compression == COMPRESSION_ZLIB) {
                        /* CMF: deflate, 32 KiB window; FLG: fastest level, check bits */
                        static const uint8_t header[2] = { 0x78, 0x01 };
                        r = loop_write(w->fd, header, sizeof(header));
                        if (r < 0)
                                return r;
                        w->bytes_out += sizeof(header);
                }
        }
        r = loop_write(w->fd, buf, n);
        if (r < 0)
                return r;
        w->bytes_out += n;
        if (w->regular && w->bytes_out - w->written_back >= WRITEBACK_STEP) {
                (void) sync_file_range(w->fd, (off_t) w->written_back, (off_t) (w->bytes_out - w->written_back),
                                       SYNC_FILE_RANGE_WRITE);
                w->written_back = w->bytes_out;
        }
        return 0;
}

static int add_piece(CodecWriter *w, uint32_t adler, uint64_t len) {
        AdlerPiece *p = realloc(w->pieces, (w->n_pieces + 1) * sizeof(AdlerPiece));
        if (!p)
                return -ENOMEM;
        w->pieces = p;
        w->pieces[w->n_pieces++] = (AdlerPiece) { adler, len };
        return 0;
}

/* Writes every done chunk whose turn it is; with wait, waits for all queued chunks. Called with
 * the lock held. */
static int drain(CodecWriter *w, bool wait) {
        for (;;) {
                Slot *s = NULL;
                bool pending = false;
                for (size_t i = 0; i < w->n_slots; i++) {
                        Slot *x = &w->slots[i];
                        if (x->state == SLOT_FREE || x == w->filling)
                                continue;
                        pending = true;
                        if (x->seq == w->write_seq)
                                s = x;
                }
                if (!pending)
                        return 0;
                if (!s || s->state != SLOT_DONE) {
                        if (!wait)
                                return 0;
                        pthread_cond_wait(&w->ready, &w->lock);
                        continue;
                }
                int r = s->error;
                if (r >= 0)
                        r = write_out(w, s->out, s->out_len);
                if (r >= 0 && w->compression == COMPRESSION_ZLIB)
                        r = add_piece(w, s->adler, s->in_len);
                s->state = SLOT_FREE;
                w->write_seq++;
                if (r < 0)
                        return r;
        }
}

/* A free slot for the caller to fill (writing finished chunks to make room). */
static int take_slot(CodecWriter *w, Slot **ret) {
        pthread_mutex_lock(&w->lock);
        int r = 0;
        for (;;) {
                r = drain(w, false);
                if (r < 0)
                        break;
                Slot *s = NULL;
                for (size_t i = 0; i < w->n_slots && !s; i++)
                        if (w->slots[i].state == SLOT_FREE)
                                s = &w->slots[i];
                if (s) {
                        s->in_len = 0;
                        *ret = s;
                        break;
                }
                pthread_cond_wait(&w->ready, &w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

static int submit(CodecWriter *w) {
        Slot *s = w->filling;
        if (!s || s->in_len == 0)
                return 0;
        w->filling = NULL;
        s->seq = w->next_seq++;
        if (w->n_threads == 0) {
                /* No pool: compress and write right here. */
                s->error = compress_chunk(w->compression, &w->ctx, s);
                s->state = SLOT_DONE;
                pthread_mutex_lock(&w->lock);
                int r = drain(w, false);
                pthread_mutex_unlock(&w->lock);
                return r;
        }
        pthread_mutex_lock(&w->lock);
        s->state = SLOT_QUEUED;
        pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

static int flush_all(CodecWriter *w) {
        int r = submit(w);
        if (r < 0)
                return r;
        pthread_mutex_lock(&w->lock);
        r = drain(w, true);
        pthread_mutex_unlock(&w->lock);
        return r;
}

static void stop_threads(CodecWriter *w) {
        if (!w->threads)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->work);
        pthread_mutex_unlock(&w->lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                (void) pthread_join(w->threads[i], NULL);
        free(w->threads);
        w->threads = NULL;
}

int codec_writer_new(Compression c, int out_fd, unsigned threads, CodecWriter **ret) {
        if (c < 0 || c >= _COMPRESSION_MAX || c == COMPRESSION_NONE || out_fd < 0 || !ret)
                return -EINVAL;
        if (threads == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                threads = n > 0 ? (unsigned) MIN(n, 64L) : 1;
        }

        _cleanup_(codec_writer_freep) CodecWriter *w = calloc(1, sizeof(CodecWriter));
        if (!w)
                return -ENOMEM;
        w->compression = c;
        w->fd = out_fd;
        struct stat st;
        w->regular = fstat(out_fd, &st) >= 0 && S_ISREG(st.st_mode);
        if (w->regular) {
                off_t o = lseek(out_fd, 0, SEEK_CUR);
                w->bytes_out = w->written_back = o > 0 ? (uint64_t) o : 0;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->work, NULL);
        pthread_cond_init(&w->ready, NULL);

        /* Plain tar has nothing to compress: one slot, written by the caller. */
        w->n_threads = c == COMPRESSION_TAR || threads <= 1 ? 0 : threads;
        w->n_slots = w->n_threads == 0 ? 1 : 2 * w->n_threads + 1;
        w->slots = calloc(w->n_slots, sizeof(Slot));
        if (!w->slots)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_slots; i++) {
                Slot *s = &w->slots[i];
                s->in = malloc(CHUNK_SIZE);
                s->out_size = out_bound(c, CHUNK_SIZE);
                s->out = malloc(s->out_size);
                if (!s->in || !s->out)
                        return -ENOMEM;
        }
        if (w->n_threads > 0) {
                w->threads = calloc(w->n_threads, sizeof(pthread_t));
                if (!w->threads)
                        return -ENOMEM;
                for (unsigned i = 0; i < w->n_threads; i++)
                        if (pthread_create(&w->threads[i], NULL, worker_thread, w) != 0) {
                                w->n_threads = i;
                                return -EAGAIN;
                        }
        }
        *ret = TAKE_PTR(w);
        return 0;
}

int codec_writer_write(CodecWriter *w, const void *buf, size_t n) {
        if (!w || (!buf && n > 0) || w->finished)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        const uint8_t *p = buf;
        while (n > 0) {
                int r = 0;
                if (!w->filling)
                        r = take_slot(w, &w->filling);
                if (r < 0)
                        return (w->error = r);
                Slot *s = w->filling;
                size_t k = MIN(n, CHUNK_SIZE - s->in_len);
                memcpy(s->in + s->in_len, p, k);
                s->in_len += k;
                p += k;
                n -= k;
                w->bytes_in += k;
                if (s->in_len == CHUNK_SIZE && (r = submit(w)) < 0)
                        return (w->error = r);
        }
        return 0;
}

/* The bytes of a patchable segment, framed so that they sit uncompressed at a known offset. */
static int write_patchable_frame(CodecWriter *w, const uint8_t *buf, size_t n, Patchable *p) {
        uint8_t head[32];
        size_t hl = 0;
        switch (w->compression) {
        case COMPRESSION_ZSTD: {
                /* magic; descriptor: no checksum, no content size, not single segment; window
                 * descriptor 0x10 (4 KiB, as big as a segment may be); one last raw block */
                static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
                memcpy(head, magic, 4);
                head[4] = 0x00;
                head[5] = 0x10;
                uint32_t bh = 1u | (0u << 1) | ((uint32_t) n << 3);
                head[6] = (uint8_t) bh, head[7] = (uint8_t) (bh >> 8), head[8] = (uint8_t) (bh >> 16);
                hl = 9;
                break;
        }
        case COMPRESSION_LZ4: {
                /* a frame without checksums, then one uncompressed block, then the end mark */
                LZ4F_cctx *cctx;
                LZ4F_preferences_t prefs = { .frameInfo = { .blockSizeID = LZ4F_max64KB,
                                                            .blockMode = LZ4F_blockIndependent } };
                if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)))
                        return -ENOMEM;
                size_t k = LZ4F_compressBegin(cctx, head, sizeof(head), &prefs);
                (void) LZ4F_freeCompressionContext(cctx);
                if (LZ4F_isError(k) || k + 4 > sizeof(head))
                        return -EIO;
                hl = k;
                uint32_t bs = (uint32_t) n | UINT32_C(0x80000000);
                head[hl++] = (uint8_t) bs, head[hl++] = (uint8_t) (bs >> 8);
                head[hl++] = (uint8_t) (bs >> 16), head[hl++] = (uint8_t) (bs >> 24);
                break;
        }
        case COMPRESSION_GZIP: {
                /* a member: header, one final stored block */
                static const uint8_t gz[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
                memcpy(head, gz, sizeof(gz));
                hl = sizeof(gz);
                head[hl++] = 0x01;
                head[hl++] = (uint8_t) n, head[hl++] = (uint8_t) (n >> 8);
                head[hl++] = (uint8_t) ~n, head[hl++] = (uint8_t) (~n >> 8);
                break;
        }
        case COMPRESSION_ZLIB:
                /* a non-final stored block; the stream is byte-aligned after each chunk */
                head[hl++] = 0x00;
                head[hl++] = (uint8_t) n, head[hl++] = (uint8_t) (n >> 8);
                head[hl++] = (uint8_t) ~n, head[hl++] = (uint8_t) (~n >> 8);
                break;
        default:
                break;
        }

        int r = write_out(w, head, hl);
        if (r < 0)
                return r;
        p->offset = w->bytes_out;
        p->len = n;
        r = write_out(w, buf, n);
        if (r < 0)
                return r;

        uint8_t tail[8];
        size_t tl = 0;
        if (w->compression == COMPRESSION_LZ4)
                memset(tail, 0, 4), tl = 4; /* end mark */
        else if (w->compression == COMPRESSION_GZIP) {
                uint32_t crc = (uint32_t) crc32_z(crc32_z(0, Z_NULL, 0), buf, n);
                p->crc_offset = w->bytes_out;
                for (int i = 0; i < 4; i++)
                        tail[i] = (uint8_t) (crc >> (8 * i)), tail[4 + i] = (uint8_t) ((uint32_t) n >> (8 * i));
                tl = 8;
        } else if (w->compression == COMPRESSION_ZLIB) {
                p->adler_index = w->n_pieces;
                r = add_piece(w, (uint32_t) adler32_z(adler32_z(0, Z_NULL, 0), buf, n), n);
                if (r < 0)
                        return r;
        }
        return tl ? write_out(w, tail, tl) : 0;
}

int codec_writer_write_patchable(CodecWriter *w, const void *buf, size_t n, uint64_t *ret_handle) {
        if (!w || !buf || n == 0 || n > PATCH_MAX || w->finished || !ret_handle)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        if (!w->regular)
                return -ESPIPE;
        /* Everything before it must be in the file first: its place must be known. */
        int r = flush_all(w);
        Patchable *np = r >= 0 ? realloc(w->patches, (w->n_patches + 1) * sizeof(Patchable)) : NULL;
        if (r >= 0 && !np)
                r = -ENOMEM;
        if (r >= 0) {
                w->patches = np;
                Patchable *p = &w->patches[w->n_patches];
                *p = (Patchable) {};
                r = write_patchable_frame(w, buf, n, p);
        }
        if (r < 0)
                return (w->error = r);
        *ret_handle = w->n_patches++;
        w->bytes_in += n;
        return 0;
}

int codec_writer_patch(CodecWriter *w, uint64_t handle, const void *buf, size_t n) {
        if (!w || !buf || handle >= w->n_patches || w->finished)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        Patchable *p = &w->patches[handle];
        if (n != p->len)
                return -EINVAL;
        if (pwrite(w->fd, buf, n, (off_t) p->offset) != (ssize_t) n)
                return (w->error = errno > 0 ? -errno : -EIO);
        if (w->compression == COMPRESSION_GZIP) {
                uint32_t crc = (uint32_t) crc32_z(crc32_z(0, Z_NULL, 0), buf, n);
                uint8_t le[4] = { (uint8_t) crc, (uint8_t) (crc >> 8), (uint8_t) (crc >> 16), (uint8_t) (crc >> 24) };
                if (pwrite(w->fd, le, 4, (off_t) p->crc_offset) != 4)
                        return (w->error = errno > 0 ? -errno : -EIO);
        } else if (w->compression == COMPRESSION_ZLIB)
                w->pieces[p->adler_index].adler = (uint32_t) adler32_z(adler32_z(0, Z_NULL, 0), buf, n);
        return 0;
}

int codec_writer_finish(CodecWriter *w) {
        if (!w)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        if (w->finished)
                return 0;
        int r = flush_all(w);
        if (r >= 0 && !w->started && w->compression != COMPRESSION_TAR && w->compression != COMPRESSION_ZLIB) {
                /* Nothing was written: an empty stream is still one frame (member). */
                Slot *s = &w->slots[0];
                s->in_len = 0;
                r = compress_chunk(w->compression, &w->ctx, s);
                if (r >= 0)
                        r = write_out(w, s->out, s->out_len);
        }
        if (r >= 0 && w->compression == COMPRESSION_ZLIB) {
                /* an empty final block, then the adler32 of everything, big-endian */
                uLong adler = adler32_z(0, Z_NULL, 0);
                for (size_t i = 0; i < w->n_pieces; i++)
                        adler = adler32_combine64(adler, w->pieces[i].adler, (z_off64_t) w->pieces[i].len);
                uint8_t tail[6] = { 0x03, 0x00, (uint8_t) (adler >> 24), (uint8_t) (adler >> 16),
                                    (uint8_t) (adler >> 8), (uint8_t) adler };
                r = write_out(w, tail, sizeof(tail));
        }
        if (r < 0)
                return (w->error = r);
        w->finished = true;
        return 0;
}

uint64_t codec_writer_bytes_in(const CodecWriter *w) {
        return w ? w->bytes_in : 0;
}

uint64_t codec_writer_bytes_out(const CodecWriter *w) {
        return w ? w->bytes_out : 0;
}

CodecWriter *codec_writer_free(CodecWriter *w) {
        if (!w)
                return NULL;
        stop_threads(w);
        for (size_t i = 0; w->slots && i < w->n_slots; i++) {
                free(w->slots[i].in);
                free(w->slots[i].out);
        }
        free(w->slots);
        free(w->pieces);
        free(w->patches);
        chunk_context_done(&w->ctx);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->ready);
        free(w);
        return NULL;
}
