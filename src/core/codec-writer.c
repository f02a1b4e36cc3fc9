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

#include <lz4.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>
#include <libdeflate.h>

#include "codec.h"
#include "fd-util.h"
#include "macro.h"

/* Per chunk: big enough that frame overhead and the matches lost at chunk starts do not matter
 * (zstd level 1 looks back 512 KiB, deflate 32 KiB), small enough that the chunks in flight stay
 * a few tens of MiB. 1 and 4 MiB measured the same, in speed and in size. */
#define CHUNK_SIZE ((size_t) 2 << 20)

/* Writeback of what was written is started every this many bytes, so that the disk works while
 * we compress and the caller's final fsync() has little left to wait for; otherwise nothing
 * reaches the disk before dirty pages make up 10% of memory. Measured on 1 GiB with the disk
 * throttled to 500 MB/s: fsync 1-2 s -> 10 ms, write+fsync 4.3 -> 2.7 s (tar), 3.9 -> 2.7 s
 * (gzip), 1.65 -> 1.45 s (zstd). 16 MiB steps were no better. */
#define WRITEBACK_STEP ((uint64_t) 32 << 20)

#define PATCH_MAX 4096

/* Beyond this the disk, not the compressor, is the limit, and every thread costs two more
 * chunks in flight (8 MiB). */
#define THREADS_MAX 8U

/* Deflate's fast paths are chosen per piece of a chunk, from two samples of it. */
#define PIECE_SIZE ((size_t) 256 << 10)
#define SAMPLE_SIZE ((size_t) 16 << 10)

typedef enum SlotState {
        SLOT_FREE,
        SLOT_FILLING, /* the caller copies input into it */
        SLOT_QUEUED,  /* waits for a worker */
        SLOT_BUSY,    /* a worker compresses it */
        SLOT_DONE,    /* waits for its turn to be written */
} SlotState;

/* One chunk of input on its way to the file, optionally followed by a patchable segment. */
typedef struct Slot {
        SlotState state;
        uint64_t seq;
        uint8_t *in;
        size_t in_len;
        uint8_t *out; /* NULL for TAR: the input is written as it is */
        size_t out_size;
        size_t out_len;
        uint32_t adler; /* zlib: of in */
        int error;
        bool has_patch;
        size_t patch; /* index into CodecWriter.patches */
} Slot;

/* zlib's trailer is the adler32 of all data: kept per piece, combined at the end, so that a
 * patch only has to replace its own piece's. */
typedef struct AdlerPiece {
        uint32_t adler;
        uint64_t len;
} AdlerPiece;

typedef struct Patchable {
        size_t len;
        /* Until its slot is written, the bytes wait here and a patch just replaces them. */
        uint8_t *pending;
        bool written;
        uint64_t offset;     /* of the raw bytes in the file, once written */
        uint64_t frame_offset; /* of the frame (member, stored block) around them: a reader may start there */
        uint64_t crc_offset; /* gzip: of its member's CRC32 */
        size_t adler_index;  /* zlib: its piece */
} Patchable;

/* What compressing a chunk needs and can reuse: one per thread. */
typedef struct ChunkContext {
        ZSTD_CCtx *zstd;
        z_stream z;
        bool z_initialized;
        /* deflate's sampling */
        z_stream probe;
        bool probe_initialized;
        void *lz4_state;
        uint8_t *scratch;
} ChunkContext;

static void chunk_context_done(ChunkContext *ctx) {
        ZSTD_freeCCtx(ctx->zstd);
        if (ctx->z_initialized)
                (void) deflateEnd(&ctx->z);
        if (ctx->probe_initialized)
                (void) deflateEnd(&ctx->probe);
        free(ctx->lz4_state);
        free(ctx->scratch);
        *ctx = (ChunkContext) {};
}

struct CodecWriter {
        Compression compression;
        int fd;
        bool regular; /* seekable: can be patched and written back early */

        ChunkContext ctx; /* for chunks compressed by the caller's thread */
        unsigned n_threads;
        pthread_t *threads;

        /* Guards the slots' states and stop. Only the caller's thread writes to the file, so
         * everything below the slots is the caller's alone. */
        pthread_mutex_t lock;
        pthread_cond_t work;  /* a slot was queued, or stop */
        pthread_cond_t ready; /* a slot is done */
        bool stop;

        Slot *slots;
        size_t n_slots;
        Slot *filling;
        uint64_t next_seq;  /* given to the next chunk */
        uint64_t write_seq; /* of the chunk to be written next */

        AdlerPiece *pieces;
        size_t n_pieces, n_pieces_allocated;
        Patchable *patches;
        size_t n_patches, n_patches_allocated;

        uint8_t lz4_segment_header[LZ4F_HEADER_SIZE_MAX];
        size_t lz4_segment_header_size;

        uint64_t bytes_in;
        uint64_t bytes_out;
        uint64_t offset;       /* in the file, where the next byte goes */
        uint64_t written_back; /* writeback was started up to here */
        uint64_t *frames;      /* where each frame (chunk or segment) written so far starts */
        size_t n_frames, n_frames_allocated;
        bool started;          /* something was written (zlib: its header first) */
        int error;             /* the first error; everything after returns it */
        bool finished;
};

static uint32_t adler32_of(const uint8_t *p, size_t n) {
        return libdeflate_adler32(1, p, n);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
        return libdeflate_crc32(0, p, n);
}

static void write_le32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8), p[2] = (uint8_t) (v >> 16), p[3] = (uint8_t) (v >> 24);
}

static size_t out_bound(Compression c, size_t n) {
        switch (c) {
        case COMPRESSION_ZSTD:
                return ZSTD_compressBound(n);
        case COMPRESSION_LZ4: {
                LZ4F_preferences_t p = { .frameInfo = { .blockSizeID = LZ4F_max4MB,
                                                        .contentChecksumFlag = LZ4F_contentChecksumEnabled } };
                return LZ4F_compressFrameBound(n, &p);
        }
        case COMPRESSION_GZIP:
        case COMPRESSION_ZLIB:
                /* Above deflateBound() (5 bytes per 16 KiB stored block, plus the gzip header and
                 * trailer), with room for the full flush's empty stored block. */
                return n + (n >> 8) + 1024;
        default:
                return 0;
        }
}

typedef enum DeflateMode {
        DEFLATE_NORMAL,       /* level 1 */
        DEFLATE_HUFFMAN_ONLY, /* level 1 without string matching */
        DEFLATE_STORED,       /* level 0 */
        _DEFLATE_MODE_MAX,
} DeflateMode;

static const struct {
        int level, strategy;
} deflate_params[_DEFLATE_MODE_MAX] = {
        [DEFLATE_NORMAL] = { 1, Z_DEFAULT_STRATEGY },
        [DEFLATE_HUFFMAN_ONLY] = { 1, Z_HUFFMAN_ONLY },
        [DEFLATE_STORED] = { 0, Z_DEFAULT_STRATEGY },
};

static int zlib_error_to_errno(int zr) {
        return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
}

/* Deflate at level 1 spends its time looking for matches: 45 MB/s on random data and 70 MB/s on
 * data whose redundancy is all in its byte frequencies (measured), where storing runs at 7 GB/s
 * and Huffman coding alone at 150 MB/s with a better ratio. zstd and lz4 notice such data by
 * themselves, zlib does not. So each piece is sampled: where lz4 finds matches, deflate runs as
 * usual; where Huffman coding alone gains clearly more than matching, it runs alone; where
 * neither gains, the piece is stored. Decided from the content alone, so the output does not
 * depend on the number of threads. */
static int deflate_choose_mode(ChunkContext *ctx, const uint8_t *p, size_t n, DeflateMode *ret) {
        const uint8_t *samples[2] = { p + n / 4 - SAMPLE_SIZE / 2, p + 3 * n / 4 - SAMPLE_SIZE / 2 };
        size_t in = 2 * SAMPLE_SIZE, lz = 0, huff = 0, lz_saved, huff_saved;
        z_stream *z = &ctx->probe;
        int zr;

        /* Too little to judge from samples. */
        if (n < PIECE_SIZE / 2) {
                *ret = DEFLATE_NORMAL;
                return 0;
        }

        if (!ctx->probe_initialized) {
                zr = deflateInit2(z, 1, Z_DEFLATED, -15, 8, Z_HUFFMAN_ONLY);
                if (zr != Z_OK)
                        return zlib_error_to_errno(zr);
                ctx->probe_initialized = true;
        }
        if (!ctx->lz4_state) {
                ctx->lz4_state = malloc((size_t) LZ4_sizeofState());
                if (!ctx->lz4_state)
                        return -ENOMEM;
        }
        if (!ctx->scratch) {
                ctx->scratch = malloc((size_t) LZ4_compressBound((int) SAMPLE_SIZE));
                if (!ctx->scratch)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                int k = LZ4_compress_fast_extState(ctx->lz4_state, (const char *) samples[i], (char *) ctx->scratch,
                                                   (int) SAMPLE_SIZE, LZ4_compressBound((int) SAMPLE_SIZE), 1);
                if (k <= 0)
                        return -EIO;
                lz += (size_t) k;
        }
        lz_saved = in - MIN(lz, in);
        /* Matching saves a quarter or more: the usual case, and deflate's. */
        if (lz_saved >= in / 4) {
                *ret = DEFLATE_NORMAL;
                return 0;
        }

        if (deflateReset(z) != Z_OK)
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                z->next_in = (uint8_t *) samples[i];
                z->avail_in = (uInt) SAMPLE_SIZE;
                do {
                        z->next_out = ctx->scratch;
                        z->avail_out = (uInt) SAMPLE_SIZE;
                        zr = deflate(z, i + 1 < ELEMENTSOF(samples) ? Z_NO_FLUSH : Z_FINISH);
                        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
                                return -EIO;
                        huff += SAMPLE_SIZE - z->avail_out;
                } while (z->avail_out == 0);
        }
        huff_saved = in - MIN(huff, in);

        if (huff_saved < in / 32 && lz_saved < in / 32)
                *ret = DEFLATE_STORED;
        else if (huff_saved >= 2 * lz_saved)
                *ret = DEFLATE_HUFFMAN_ONLY;
        else
                *ret = DEFLATE_NORMAL;
        return 0;
}

static int deflate_chunk(ChunkContext *ctx, Slot *s, bool gzip) {
        int flush_last = gzip ? Z_FINISH : Z_FULL_FLUSH;
        DeflateMode mode = _DEFLATE_MODE_MAX;
        z_stream *z = &ctx->z;
        size_t off = 0;
        int zr, r;

        if (!ctx->z_initialized) {
                /* Level 1: checkpoints are written while the process is frozen; speed beats
                 * ratio. gzip: a member per chunk. zlib: one raw deflate stream over all chunks,
                 * each chunk's run independent and byte-aligned by a full flush. */
                zr = deflateInit2(z, 1, Z_DEFLATED, gzip ? 15 + 16 : -15, 8, Z_DEFAULT_STRATEGY);
                if (zr != Z_OK)
                        return zlib_error_to_errno(zr);
                ctx->z_initialized = true;
        }
        if (deflateReset(z) != Z_OK)
                return -EIO;

        z->next_out = s->out;
        z->avail_out = (uInt) s->out_size;
        do {
                size_t n = MIN(PIECE_SIZE, s->in_len - off);
                bool last = off + n == s->in_len;
                DeflateMode m;

                r = deflate_choose_mode(ctx, s->in + off, n, &m);
                if (r < 0)
                        return r;
                if (m != mode) {
                        /* Ends the current deflate block (right after the reset: just records). */
                        z->avail_in = 0;
                        zr = deflateParams(z, deflate_params[m].level, deflate_params[m].strategy);
                        if (zr != Z_OK)
                                return -EIO;
                        mode = m;
                }

                z->next_in = s->in + off;
                z->avail_in = (uInt) n;
                zr = deflate(z, last ? flush_last : Z_NO_FLUSH);
                if (z->avail_out == 0 || z->avail_in != 0 || ((last && gzip) ? zr != Z_STREAM_END : zr != Z_OK))
                        return -EIO;
                off += n;
        } while (off < s->in_len);

        s->out_len = s->out_size - z->avail_out;
        if (!gzip)
                s->adler = adler32_of(s->in, s->in_len);
        return 0;
}

static int compress_chunk(Compression c, ChunkContext *ctx, Slot *s) {
        size_t k;

        switch (c) {
        case COMPRESSION_ZSTD:
                /* Level 1, with each frame's content checksum: corruption is found on reading.
                 * Independent frames rather than ZSTD_c_nbWorkers: as fast on two cores (measured),
                 * the same bytes for any number of threads, and one thread pool for all formats. */
                if (!ctx->zstd) {
                        ctx->zstd = ZSTD_createCCtx();
                        if (!ctx->zstd)
                                return -ENOMEM;
                        k = ZSTD_CCtx_setParameter(ctx->zstd, ZSTD_c_compressionLevel, 1);
                        if (!ZSTD_isError(k))
                                k = ZSTD_CCtx_setParameter(ctx->zstd, ZSTD_c_checksumFlag, 1);
                        if (ZSTD_isError(k))
                                return -EIO;
                }
                k = ZSTD_compress2(ctx->zstd, s->out, s->out_size, s->in, s->in_len);
                if (ZSTD_isError(k))
                        return ZSTD_getErrorCode(k) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
                s->out_len = k;
                return 0;

        case COMPRESSION_LZ4: {
                /* A frame per chunk, one block (a chunk fits in 4 MiB), with its content checksum. */
                LZ4F_preferences_t p = {
                        .frameInfo = {
                                .blockSizeID = LZ4F_max4MB,
                                .blockMode = LZ4F_blockIndependent,
                                .contentChecksumFlag = LZ4F_contentChecksumEnabled,
                        },
                };
                k = LZ4F_compressFrame(s->out, s->out_size, s->in, s->in_len, &p);
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
                /* TAR: written from in as it is. */
                return 0;
        }
}

/* The queued slot that comes first: finishing chunks in order keeps the writer busy. */
static Slot *next_queued(CodecWriter *w) {
        Slot *best = NULL;

        for (size_t i = 0; i < w->n_slots; i++) {
                Slot *s = &w->slots[i];
                if (s->state == SLOT_QUEUED && (!best || s->seq < best->seq))
                        best = s;
        }
        return best;
}

static void *worker_thread(void *userdata) {
        CodecWriter *w = userdata;
        ChunkContext ctx = {};

        pthread_mutex_lock(&w->lock);
        while (!w->stop) {
                Slot *s = next_queued(w);
                int r;

                if (!s) {
                        pthread_cond_wait(&w->work, &w->lock);
                        continue;
                }
                s->state = SLOT_BUSY;
                pthread_mutex_unlock(&w->lock);

                r = compress_chunk(w->compression, &ctx, s);

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
                        r = write_out(w, header, sizeof(header));
                        if (r < 0)
                                return r;
                }
        }

        r = loop_write(w->fd, buf, n);
        if (r < 0)
                return r;
        w->bytes_out += n;
        w->offset += n;

        if (w->regular && w->offset - w->written_back >= WRITEBACK_STEP) {
                /* Only starts the writeback; failures show up in the caller's fsync(). */
                (void) sync_file_range(w->fd, (off_t) w->written_back, (off_t) (w->offset - w->written_back),
                                       SYNC_FILE_RANGE_WRITE);
                w->written_back = w->offset;
        }
        return 0;
}

static int note_frame(CodecWriter *w, uint64_t start) {
        if (!GREEDY_REALLOC(w->frames, w->n_frames_allocated, w->n_frames + 1))
                return -ENOMEM;
        w->frames[w->n_frames++] = start;
        return 0;
}

static int add_piece(CodecWriter *w, uint32_t adler, uint64_t len, size_t *ret_index) {
        if (!GREEDY_REALLOC(w->pieces, w->n_pieces_allocated, w->n_pieces + 1))
                return -ENOMEM;
        if (ret_index)
                *ret_index = w->n_pieces;
        w->pieces[w->n_pieces++] = (AdlerPiece) { .adler = adler, .len = len };
        return 0;
}

/* A patchable segment, framed so that its bytes sit uncompressed at a known offset: a zstd frame
 * of one raw block without checksum, an lz4 frame of one uncompressed block without checksums, a
 * gzip member of one stored block, or for zlib a stored block inside the stream (which is
 * byte-aligned after the header, a full flush, or another segment). */
static int write_segment(CodecWriter *w, Patchable *p) {
        uint8_t frame[32 + PATCH_MAX + 16];
        size_t n = p->len, hl = 0, tl = 0;
        uint32_t v;
        int r;

        switch (w->compression) {
        case COMPRESSION_ZSTD:
                /* magic; descriptor: no content size, not single segment, no checksum, no
                 * dictionary; window descriptor 0x10: 4 KiB, as big as a segment may be; then the
                 * header of the last block: raw, n bytes */
                memcpy(frame, (const uint8_t[]) { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x10 }, 6);
                v = 1U | ((uint32_t) n << 3);
                frame[6] = (uint8_t) v, frame[7] = (uint8_t) (v >> 8), frame[8] = (uint8_t) (v >> 16);
                hl = 9;
                break;
        case COMPRESSION_LZ4:
                memcpy(frame, w->lz4_segment_header, w->lz4_segment_header_size);
                hl = w->lz4_segment_header_size;
                write_le32(frame + hl, (uint32_t) n | UINT32_C(0x80000000)); /* uncompressed block */
                hl += 4;
                break;
        case COMPRESSION_GZIP:
                /* header: deflate, no flags, no mtime, OS unknown; then a final stored block */
                memcpy(frame, (const uint8_t[]) { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x01 }, 11);
                hl = 11;
                break;
        case COMPRESSION_ZLIB:
                frame[hl++] = 0x00; /* a stored block, not the last */
                break;
        default:
                break;
        }
        if (w->compression == COMPRESSION_GZIP || w->compression == COMPRESSION_ZLIB) {
                frame[hl++] = (uint8_t) n, frame[hl++] = (uint8_t) (n >> 8);
                frame[hl++] = (uint8_t) ~n, frame[hl++] = (uint8_t) (~n >> 8);
        }

        memcpy(frame + hl, p->pending, n);
        if (w->compression == COMPRESSION_LZ4)
                write_le32(frame + hl + n, 0), tl = 4; /* end mark */
        else if (w->compression == COMPRESSION_GZIP) {
                write_le32(frame + hl + n, crc32_of(p->pending, n));
                write_le32(frame + hl + n + 4, (uint32_t) n);
                tl = 8;
        } else if (w->compression == COMPRESSION_ZLIB) {
                r = add_piece(w, adler32_of(p->pending, n), n, &p->adler_index);
                if (r < 0)
                        return r;
        }

        r = write_out(w, frame, hl + n + tl);
        if (r < 0)
                return r;
        /* Counted back from the end: write_out() may have put the zlib header in front. */
        p->offset = w->offset - tl - n;
        p->frame_offset = p->offset - hl;
        p->crc_offset = p->offset + n;
        r = note_frame(w, p->frame_offset);
        if (r < 0)
                return r;
        p->written = true;
        p->pending = mfree(p->pending);
        return 0;
}

static int write_slot(CodecWriter *w, Slot *s) {
        int r = s->error;

        if (r >= 0 && s->in_len > 0) {
                size_t n = w->compression == COMPRESSION_TAR ? s->in_len : s->out_len;
                r = write_out(w, w->compression == COMPRESSION_TAR ? s->in : s->out, n);
                if (r >= 0)
                        r = note_frame(w, w->offset - n);
                if (r >= 0 && w->compression == COMPRESSION_ZLIB)
                        r = add_piece(w, s->adler, s->in_len, NULL);
        }
        if (r >= 0 && s->has_patch)
                r = write_segment(w, &w->patches[s->patch]);
        return r;
}

/* Writes every done chunk whose turn it is; with wait, until none is left in flight. Called with
 * the lock held; drops it while writing, which workers do not wait for. */
static int drain(CodecWriter *w, bool wait) {
        for (;;) {
                Slot *s = NULL;
                bool pending = false;
                int r;

                for (size_t i = 0; i < w->n_slots; i++) {
                        Slot *x = &w->slots[i];
                        if (x->state == SLOT_FREE || x->state == SLOT_FILLING)
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

                pthread_mutex_unlock(&w->lock);
                r = write_slot(w, s);
                pthread_mutex_lock(&w->lock);

                s->state = SLOT_FREE;
                w->write_seq++;
                if (r < 0)
                        return r;
        }
}

/* A free slot for the caller to fill, writing finished chunks to make room. */
static int take_slot(CodecWriter *w) {
        int r;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                Slot *s = NULL;

                r = drain(w, false);
                if (r < 0)
                        break;
                for (size_t i = 0; i < w->n_slots && !s; i++)
                        if (w->slots[i].state == SLOT_FREE)
                                s = &w->slots[i];
                if (s) {
                        s->state = SLOT_FILLING;
                        s->in_len = 0;
                        s->has_patch = false;
                        s->error = 0;
                        w->filling = s;
                        break;
                }
                pthread_cond_wait(&w->ready, &w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

/* Hands the filling slot on: to the pool, or compressed and written right here without one. */
static int submit(CodecWriter *w) {
        Slot *s = w->filling;
        bool compress;
        int r;

        if (!s)
                return 0;
        if (s->in_len == 0 && !s->has_patch) {
                s->state = SLOT_FREE;
                w->filling = NULL;
                return 0;
        }

        w->filling = NULL;
        s->seq = w->next_seq++;
        compress = s->in_len > 0 && w->compression != COMPRESSION_TAR;

        if (compress && w->n_threads > 0) {
                pthread_mutex_lock(&w->lock);
                s->state = SLOT_QUEUED;
                pthread_cond_signal(&w->work);
                pthread_mutex_unlock(&w->lock);
                return 0;
        }

        if (compress)
                s->error = compress_chunk(w->compression, &w->ctx, s);
        pthread_mutex_lock(&w->lock);
        s->state = SLOT_DONE;
        r = drain(w, false);
        pthread_mutex_unlock(&w->lock);
        return r;
}

static int flush_all(CodecWriter *w) {
        int r;

        r = submit(w);
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
        w->threads = mfree(w->threads);
}

static int lz4_segment_header(CodecWriter *w) {
        /* No checksums: a patch then has nothing else to fix. */
        LZ4F_preferences_t prefs = {
                .frameInfo = { .blockSizeID = LZ4F_max64KB, .blockMode = LZ4F_blockIndependent },
        };
        LZ4F_cctx *cctx;
        size_t k;

        if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)))
                return -ENOMEM;
        k = LZ4F_compressBegin(cctx, w->lz4_segment_header, sizeof(w->lz4_segment_header), &prefs);
        (void) LZ4F_freeCompressionContext(cctx);
        if (LZ4F_isError(k))
                return -EIO;
        w->lz4_segment_header_size = k;
        return 0;
}

int codec_writer_new(Compression c, int out_fd, unsigned threads, CodecWriter **ret) {
        _cleanup_(codec_writer_freep) CodecWriter *w = NULL;
        struct stat st;
        int r;

        if (c < 0 || c >= _COMPRESSION_MAX || c == COMPRESSION_NONE || out_fd < 0 || !ret)
                return -EINVAL;
        if (threads == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                threads = n > 0 ? (unsigned) MIN(n, (long) THREADS_MAX) : 1;
        }
        threads = MIN(threads, THREADS_MAX);

        w = calloc(1, sizeof(CodecWriter));
        if (!w)
                return -ENOMEM;
        w->compression = c;
        w->fd = out_fd;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->work, NULL);
        pthread_cond_init(&w->ready, NULL);

        w->regular = fstat(out_fd, &st) >= 0 && S_ISREG(st.st_mode);
        if (w->regular) {
                off_t o = lseek(out_fd, 0, SEEK_CUR);
                if (o < 0)
                        return negative_errno();
                w->offset = w->written_back = (uint64_t) o;
        }

        if (c == COMPRESSION_LZ4) {
                r = lz4_segment_header(w);
                if (r < 0)
                        return r;
        }

        /* Plain tar has nothing to compress: one slot, written by the caller. Otherwise each
         * worker has one chunk in hand and one done or queued behind it, plus the one being
         * filled. */
        w->n_threads = c == COMPRESSION_TAR || threads <= 1 ? 0 : threads;
        w->n_slots = w->n_threads == 0 ? 1 : 2 * w->n_threads + 1;
        w->slots = calloc(w->n_slots, sizeof(Slot));
        if (!w->slots)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_slots; i++) {
                Slot *s = &w->slots[i];
                s->in = malloc(CHUNK_SIZE);
                if (!s->in)
                        return -ENOMEM;
                if (c != COMPRESSION_TAR) {
                        s->out_size = out_bound(c, CHUNK_SIZE);
                        s->out = malloc(s->out_size);
                        if (!s->out)
                                return -ENOMEM;
                }
        }

        if (w->n_threads > 0) {
                w->threads = calloc(w->n_threads, sizeof(pthread_t));
                if (!w->threads)
                        return -ENOMEM;
                for (unsigned i = 0; i < w->n_threads; i++) {
                        r = -pthread_create(&w->threads[i], NULL, worker_thread, w);
                        if (r < 0) {
                                w->n_threads = i; /* the ones to join */
                                return r;
                        }
                }
        }

        *ret = TAKE_PTR(w);
        return 0;
}

int codec_writer_write(CodecWriter *w, const void *buf, size_t n) {
        const uint8_t *p = buf;
        int r;

        if (!w || (!buf && n > 0) || w->finished)
                return -EINVAL;
        if (w->error < 0)
                return w->error;

        while (n > 0) {
                Slot *s;
                size_t k;

                if (!w->filling) {
                        r = take_slot(w);
                        if (r < 0)
                                return (w->error = r);
                }
                s = w->filling;
                k = MIN(n, CHUNK_SIZE - s->in_len);
                memcpy(s->in + s->in_len, p, k);
                s->in_len += k;
                p += k;
                n -= k;
                w->bytes_in += k;
                if (s->in_len == CHUNK_SIZE) {
                        r = submit(w);
                        if (r < 0)
                                return (w->error = r);
                }
        }
        return 0;
}

int codec_writer_write_patchable(CodecWriter *w, const void *buf, size_t n, uint64_t *ret_handle) {
        Patchable *p;
        int r;

        if (!w || !buf || n == 0 || n > PATCH_MAX || w->finished || !ret_handle)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        if (!w->regular)
                return -ESPIPE;

        if (!GREEDY_REALLOC(w->patches, w->n_patches_allocated, w->n_patches + 1))
                return (w->error = -ENOMEM);
        p = &w->patches[w->n_patches];
        *p = (Patchable) { .len = n, .pending = malloc(n) };
        if (!p->pending)
                return (w->error = -ENOMEM);
        memcpy(p->pending, buf, n);

        /* The segment ends the chunk being filled and is written right after it, in order; the
         * pipeline does not have to drain, so its place in the file is known only once written. */
        if (!w->filling) {
                r = take_slot(w);
                if (r < 0) {
                        p->pending = mfree(p->pending);
                        return (w->error = r);
                }
        }
        w->filling->has_patch = true;
        w->filling->patch = w->n_patches++;
        w->bytes_in += n;

        r = submit(w);
        if (r < 0)
                return (w->error = r);

        *ret_handle = w->n_patches - 1;
        return 0;
}

int codec_writer_patch(CodecWriter *w, uint64_t handle, const void *buf, size_t n) {
        Patchable *p;
        uint8_t crc[4];
        int r;

        if (!w || !buf || w->finished || handle >= w->n_patches)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        p = &w->patches[handle];
        if (n != p->len)
                return -EINVAL;

        /* Not written yet: only the caller's thread writes segments, so it is still ours to change. */
        if (!p->written) {
                memcpy(p->pending, buf, n);
                return 0;
        }

        r = loop_pwrite(w->fd, buf, n, p->offset);
        if (r >= 0 && w->compression == COMPRESSION_GZIP) {
                write_le32(crc, crc32_of(buf, n));
                r = loop_pwrite(w->fd, crc, sizeof(crc), p->crc_offset);
        }
        if (r < 0)
                return (w->error = r);
        if (w->compression == COMPRESSION_ZLIB)
                w->pieces[p->adler_index].adler = adler32_of(buf, n);
        return 0;
}

int codec_writer_flush(CodecWriter *w) {
        if (!w || w->finished)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        int r = flush_all(w);
        return r < 0 ? (w->error = r) : 0;
}

int codec_writer_segment_offset(const CodecWriter *w, uint64_t handle, uint64_t *ret) {
        if (!w || handle >= w->n_patches || !ret)
                return -EINVAL;
        if (!w->patches[handle].written)
                return -EBUSY;
        *ret = w->patches[handle].frame_offset;
        return 0;
}

int codec_writer_finish(CodecWriter *w) {
        int r;

        if (!w)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        if (w->finished)
                return 0;

        r = flush_all(w);
        if (r >= 0 && !w->started && w->compression != COMPRESSION_TAR && w->compression != COMPRESSION_ZLIB) {
                /* Nothing was written: an empty stream is still one frame (member). */
                Slot *s = &w->slots[0];
                s->in_len = 0;
                r = compress_chunk(w->compression, &w->ctx, s);
                if (r >= 0)
                        r = write_out(w, s->out, s->out_len);
        }
        if (r >= 0 && w->compression == COMPRESSION_ZLIB) {
                /* A final empty block (fixed Huffman, just the end-of-block code), then the
                 * adler32 of everything, big-endian. */
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

void codec_writer_frames(const CodecWriter *w, const uint64_t **ret, size_t *ret_n, uint64_t *ret_end) {
        *ret = w->frames;
        *ret_n = w->n_frames;
        *ret_end = w->offset;
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
        free(w->frames);
        for (size_t i = 0; i < w->n_patches; i++)
                free(w->patches[i].pending);
        free(w->patches);
        chunk_context_done(&w->ctx);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->ready);
        free(w);
        return NULL;
}
