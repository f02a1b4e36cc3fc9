/* SPDX-License-Identifier: Apache-2.0 */
/* A ustar writer for entries whose size is only known at their end: the header goes through
 * the codec as a patchable segment and is rewritten once the data has been streamed. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive-stream.h"
#include "codec.h"
#include "macro.h"

#define TAR_BLOCK 512

/* A reserved entry: its data as patchable segments, filled in at the end. */
#define RESERVE_SEGMENT 4096
#define RESERVE_SEGMENTS_MAX 64

struct ArchiveStream {
        CodecWriter *codec;
        /* the reserved entry, if any */
        size_t reserved;
        uint64_t reserve_handles[RESERVE_SEGMENTS_MAX];
        /* the entries begun so far, for archive_stream_index() */
        struct { char name[100]; uint64_t handle; } *entries;
        size_t n_entries, n_entries_allocated;
        /* the open entry */
        bool open;
        char name[100];
        uint64_t handle; /* of its patchable header */
        uint64_t size;
        uint64_t mtime;
};

static void octal(char *field, size_t width, uint64_t v) {
        /* width - 1 digits and a NUL, as ustar wants */
        snprintf(field, width, "%0*llo", (int) width - 1, (unsigned long long) v);
}

int tar_header(char block[TAR_BLOCK], const char *name, uint64_t size, uint64_t mtime) {
        size_t l = strlen(name);
        if (l == 0 || l >= 100)
                return -ENAMETOOLONG;
        memset(block, 0, TAR_BLOCK);
        memcpy(block, name, l);          /* name[100] */
        octal(block + 100, 8, 0600);     /* mode */
        octal(block + 108, 8, 0);        /* uid */
        octal(block + 116, 8, 0);        /* gid */
        if (size < (UINT64_C(1) << 33))
                octal(block + 124, 12, size);
        else {
                /* base-256: top bit set, big-endian value in the rest of the field */
                unsigned char *f = (unsigned char *) block + 124;
                f[0] = 0x80;
                for (int i = 11; i >= 1; i--, size >>= 8)
                        f[i] = (unsigned char) (size & 0xff);
        }
        octal(block + 136, 12, mtime);   /* mtime */
        block[156] = '0';                /* regular file */
        memcpy(block + 257, "ustar", 6); /* magic, with its NUL */
        memcpy(block + 263, "00", 2);    /* version */
        /* The checksum is computed with its own field as spaces. */
        memset(block + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += (unsigned char) block[i];
        snprintf(block + 148, 8, "%06o", sum);
        block[155] = ' ';
        return 0;
}

static uint64_t now_seconds(void) {
        return (uint64_t) time(NULL);
}

int archive_stream_new(int out_fd, Compression c, unsigned threads, ArchiveStream **ret) {
        if (c == COMPRESSION_NONE)
                return -EINVAL;
        ArchiveStream *s = calloc(1, sizeof(ArchiveStream));
        if (!s)
                return -ENOMEM;
        int r = codec_writer_new(c, out_fd, threads, &s->codec);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int pad(ArchiveStream *s, uint64_t size) {
        static const char zeros[TAR_BLOCK] = {};
        size_t rest = (size_t) (size % TAR_BLOCK);
        return rest ? codec_writer_write(s->codec, zeros, TAR_BLOCK - rest) : 0;
}

int archive_stream_add(ArchiveStream *s, const char *name, const void *data, size_t size) {
        char block[TAR_BLOCK];
        if (s->open)
                return -EBUSY;
        int r = tar_header(block, name, size, now_seconds());
        if (r >= 0)
                r = codec_writer_write(s->codec, block, TAR_BLOCK);
        if (r >= 0 && size > 0)
                r = codec_writer_write(s->codec, data, size);
        if (r >= 0)
                r = pad(s, size);
        return r;
}

int archive_stream_begin(ArchiveStream *s, const char *name) {
        char block[TAR_BLOCK];
        if (s->open)
                return -EBUSY;
        size_t l = strlen(name);
        if (l == 0 || l >= sizeof(s->name))
                return -ENAMETOOLONG;
        s->mtime = now_seconds();
        /* A header for size 0 now; the real one replaces it at the end. */
        int r = tar_header(block, name, 0, s->mtime);
        if (r >= 0)
                r = codec_writer_write_patchable(s->codec, block, TAR_BLOCK, &s->handle);
        if (r < 0)
                return r;
        if (!GREEDY_REALLOC(s->entries, s->n_entries_allocated, s->n_entries + 1))
                return -ENOMEM;
        memcpy(s->entries[s->n_entries].name, name, l + 1);
        s->entries[s->n_entries++].handle = s->handle;
        memcpy(s->name, name, l + 1);
        s->size = 0;
        s->open = true;
        return 0;
}

int archive_stream_write(ArchiveStream *s, const void *data, size_t n) {
        if (!s->open)
                return -EINVAL;
        int r = codec_writer_write(s->codec, data, n);
        if (r < 0)
                return r;
        s->size += n;
        return 0;
}

int archive_stream_end(ArchiveStream *s) {
        char block[TAR_BLOCK];
        if (!s->open)
                return -EINVAL;
        int r = tar_header(block, s->name, s->size, s->mtime);
        if (r >= 0)
                r = codec_writer_patch(s->codec, s->handle, block, TAR_BLOCK);
        if (r >= 0)
                r = pad(s, s->size);
        s->open = false;
        return r;
}

int archive_stream_reserve(ArchiveStream *s, const char *name, size_t size) {
        char block[TAR_BLOCK];
        if (s->open || s->reserved > 0 || size == 0 || size % RESERVE_SEGMENT != 0 ||
            size / RESERVE_SEGMENT > RESERVE_SEGMENTS_MAX)
                return -EINVAL;
        int r = tar_header(block, name, size, now_seconds());
        if (r >= 0)
                r = codec_writer_write(s->codec, block, TAR_BLOCK);
        _cleanup_free_ char *blank = malloc(RESERVE_SEGMENT);
        if (!blank)
                return -ENOMEM;
        memset(blank, ' ', RESERVE_SEGMENT);
        for (size_t i = 0; r >= 0 && i < size / RESERVE_SEGMENT; i++)
                r = codec_writer_write_patchable(s->codec, blank, RESERVE_SEGMENT, &s->reserve_handles[i]);
        if (r < 0)
                return r;
        s->reserved = size;
        return 0;
}

int archive_stream_fill(ArchiveStream *s, const void *data, size_t n) {
        if (s->reserved == 0)
                return -EINVAL;
        if (n > s->reserved)
                return -E2BIG;
        _cleanup_free_ char *seg = malloc(RESERVE_SEGMENT);
        if (!seg)
                return -ENOMEM;
        for (size_t i = 0; i < s->reserved / RESERVE_SEGMENT; i++) {
                size_t off = i * RESERVE_SEGMENT, k = off < n ? MIN(n - off, (size_t) RESERVE_SEGMENT) : 0;
                memcpy(seg, (const char *) data + off, k);
                memset(seg + k, ' ', RESERVE_SEGMENT - k);
                int r = codec_writer_patch(s->codec, s->reserve_handles[i], seg, RESERVE_SEGMENT);
                if (r < 0)
                        return r;
        }
        return 0;
}

int archive_stream_index(ArchiveStream *s, ArchiveIndexFunc f, void *userdata) {
        if (s->open)
                return -EBUSY;
        int r = codec_writer_flush(s->codec);
        if (r < 0)
                return r;
        const uint64_t *frames;
        size_t n;
        uint64_t end;
        codec_writer_frames(s->codec, &frames, &n, &end);
        _cleanup_free_ uint64_t *starts = calloc(s->n_entries, sizeof(uint64_t)), *b = calloc(n + 1, sizeof(uint64_t));
        if (!starts || !b)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < s->n_entries; i++)
                r = codec_writer_segment_offset(s->codec, s->entries[i].handle, &starts[i]);
        for (size_t i = 0; r >= 0 && i < s->n_entries; i++) {
                /* The entry's frames: from its header's to the next entry's (or the end). */
                uint64_t next = end;
                for (size_t k = 0; k < s->n_entries; k++)
                        if (starts[k] > starts[i] && starts[k] < next)
                                next = starts[k];
                size_t m = 0;
                for (size_t k = 0; k < n; k++)
                        if (frames[k] >= starts[i] && frames[k] < next)
                                b[m++] = frames[k];
                b[m++] = next;
                r = f(s->entries[i].name, starts[i], b, m, userdata);
        }
        return r;
}

uint64_t archive_stream_settled(const ArchiveStream *s) {
        uint64_t out = codec_writer_bytes_out(s->codec), at;
        if (s->open && codec_writer_segment_offset(s->codec, s->handle, &at) >= 0)
                out = MIN(out, at);
        return out;
}

int archive_stream_finish(ArchiveStream *s) {
        static const char end[2 * TAR_BLOCK] = {};
        if (s->open)
                return -EBUSY;
        int r = codec_writer_write(s->codec, end, sizeof(end));
        if (r < 0)
                return r;
        return codec_writer_finish(s->codec);
}

ArchiveStream *archive_stream_free(ArchiveStream *s) {
        if (!s)
                return NULL;
        codec_writer_free(s->codec);
        free(s->entries);
        free(s);
        return NULL;
}
