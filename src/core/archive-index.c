/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-index.h"
#include "codec.h"
#include "fd-util.h"
#include "message.h"
#include "s3.h"

#define TAR_BLOCK 512
/* After the end-of-archive marker: zeros up to a record's end, and no more than this (as
 * archive_extract() allows). */
#define TAR_MAX_PADDING ((uint64_t) 1024 * 1024)

struct ArchiveRange {
        ArchiveSource source;
        uint64_t at;
        uint64_t extent; /* of the entry in the object, up to the next one's start; 0: to the end */
        int pipe_fd, fetch_fd;
        pthread_t fetch;
        bool fetching;
        int fetch_r;
        char *fetch_error;
};

struct EntryReader {
        CodecReader *codec;
        const CheckpointFile *file;
        uint64_t left;
        char *error;
        ArchiveRange *range; /* from an object */
};

/* A ustar header as cedana writes it (tar_header()): a regular file with a plain name and no
 * prefix, its checksum right. *ret_name is the name field, NUL-terminated. */
static int parse_header(const unsigned char b[TAR_BLOCK], char ret_name[101], uint64_t *ret_size) {
        if (memcmp(b + 257, "ustar", 5) != 0 || (b[156] != '0' && b[156] != 0) || b[345] != 0)
                return -EBADMSG;
        unsigned sum = 0, stored = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += i >= 148 && i < 156 ? ' ' : b[i];
        for (size_t i = 148; i < 156 && b[i] >= '0' && b[i] <= '7'; i++)
                stored = stored * 8 + (unsigned) (b[i] - '0');
        if (sum != stored)
                return -EBADMSG;
        uint64_t size = 0;
        if (b[124] & 0x80) {
                for (size_t i = 125; i < 136; i++) {
                        if (size >> 55)
                                return -EBADMSG;
                        size = size << 8 | b[i];
                }
        } else
                for (size_t i = 124; i < 136 && b[i] >= '0' && b[i] <= '7'; i++)
                        size = size * 8 + (uint64_t) (b[i] - '0');
        memcpy(ret_name, b, 100);
        ret_name[100] = 0;
        *ret_size = size;
        return 0;
}

static ssize_t read_full(CodecReader *r, void *buf, size_t n) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = codec_reader_read(r, (char *) buf + done, n - done);
                if (k < 0)
                        return k;
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

/* The tar header r starts with. */
static int read_header(CodecReader *r, const char *what, char ret_name[101], uint64_t *ret_size, char **reterr) {
        unsigned char block[TAR_BLOCK];
        ssize_t k = read_full(r, block, sizeof(block));
        if (k < 0 && k != -EBADMSG)
                return (int) k;
        if (k < 0)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its "
                                   "metadata says it is (%s).", what, strna(codec_reader_error(r)));
        if (k != TAR_BLOCK || parse_header(block, ret_name, ret_size) < 0)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its "
                                   "metadata says it is.", what);
        return 0;
}

int archive_read_leading_metadata(int fd, Compression c, char **ret_text, size_t *ret_size, char **reterr) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        _cleanup_free_ char *ignored = NULL;
        char name[101];
        uint64_t size;
        int q = codec_reader_new_at(fd, c, 0, &r);
        if (q >= 0)
                q = read_header(r, METADATA_FILENAME, name, &size, &ignored);
        /* Not even a header: the normal reader says what is wrong. */
        if (q == -EBADMSG)
                return -EAGAIN;
        if (q < 0)
                return q;
        if (!streq(name, METADATA_FILENAME))
                return -EAGAIN;
        if (size > METADATA_MAX_SIZE)
                return message_set(reterr, -EBADMSG, "The checkpoint's metadata (cedana.json) is too large (more than "
                                   "%" PRIu64 " bytes).", METADATA_MAX_SIZE);
        _cleanup_free_ char *text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        ssize_t k = read_full(r, text, size);
        if (k < 0 && k != -EBADMSG)
                return (int) k;
        if (k != (ssize_t) size)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s.",
                                   codec_reader_error(r) ?: "it ends inside cedana.json");
        text[size] = 0;
        *ret_text = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

bool archive_header_is(const void *block, size_t n, const CheckpointFile *f) {
        char name[101];
        uint64_t size;
        return n == TAR_BLOCK && parse_header(block, name, &size) >= 0 && streq(name, f->name) && size == f->size;
}

bool archive_is_indexed(const CheckpointMetadata *m) {
        for (size_t i = 0; i < m->n_files; i++)
                if (m->files[i].at == METADATA_NO_OFFSET)
                        return false;
        return m->n_files > 0;
}

int archive_streamable_metadata(int fd, Compression c, uint64_t max_bytes, char **ret_text, size_t *ret_size) {
        _cleanup_free_ char *text = NULL, *ignored = NULL;
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        size_t n;
        int r = archive_read_leading_metadata(fd, c, &text, &n, &ignored);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || metadata_parse(text, n, &m, &ignored) < 0 || !archive_is_indexed(m) ||
            (max_bytes > 0 && m->size > max_bytes))
                return 0;
        if (ret_text)
                *ret_text = TAKE_PTR(text);
        if (ret_size)
                *ret_size = n;
        return 1;
}

/* Where the entry after f starts, less f's start: every entry is a run of whole frames. */
static uint64_t extent_of(const CheckpointMetadata *m, const CheckpointFile *f) {
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < m->n_files; i++)
                if (m->files[i].at > f->at && m->files[i].at < next)
                        next = m->files[i].at;
        return next == UINT64_MAX ? 0 : next - f->at;
}

static void *fetch_main(void *userdata) {
        ArchiveRange *a = userdata;
        block_sigpipe(); /* the reader may close the pipe before the range's end */
        a->fetch_r = s3_download_range_fd(a->source.s3, a->source.bucket, a->source.key, a->at, a->extent,
                                          a->source.etag, a->fetch_fd, NULL, &a->fetch_error);
        /* The reader sees the end. */
        a->fetch_fd = safe_close(a->fetch_fd);
        return NULL;
}

int archive_range_open(const ArchiveSource *src, const CheckpointMetadata *m, const CheckpointFile *f,
                       ArchiveRange **ret) {
        if (!src->s3 || f->at == METADATA_NO_OFFSET)
                return -EINVAL;
        _cleanup_(archive_range_freep) ArchiveRange *a = calloc(1, sizeof(ArchiveRange));
        if (!a)
                return -ENOMEM;
        *a = (ArchiveRange) { .source = *src, .at = f->at, .extent = extent_of(m, f), .pipe_fd = -EBADF,
                              .fetch_fd = -EBADF };
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        a->pipe_fd = p[0];
        a->fetch_fd = p[1];
        (void) fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
        int r = -pthread_create(&a->fetch, NULL, fetch_main, a);
        if (r < 0)
                return r;
        a->fetching = true;
        *ret = TAKE_PTR(a);
        return 0;
}

int archive_range_fd(const ArchiveRange *a) {
        return a->pipe_fd;
}

int archive_range_failed(ArchiveRange *a, char **reterr) {
        if (a->fetching) {
                (void) pthread_join(a->fetch, NULL);
                a->fetching = false;
        }
        if (a->fetch_r == 0)
                return 0;
        free(*reterr);
        *reterr = a->fetch_error ? strdup(a->fetch_error) : NULL;
        return -ENOLINK;
}

ArchiveRange *archive_range_free(ArchiveRange *a) {
        if (!a)
                return NULL;
        /* A fetch still running finds its pipe closed and ends. */
        a->pipe_fd = safe_close(a->pipe_fd);
        if (a->fetching)
                (void) pthread_join(a->fetch, NULL);
        safe_close(a->fetch_fd);
        free(a->fetch_error);
        free(a);
        return NULL;
}

/* Why the entry's bytes stopped coming: the store's failure, if it failed. */
static int fetch_failed(EntryReader *e) {
        return e->range ? archive_range_failed(e->range, &e->error) : 0;
}

int entry_reader_open(const ArchiveSource *src, Compression c, const CheckpointMetadata *m, const CheckpointFile *f,
                      EntryReader **ret, char **reterr) {
        if (f->at == METADATA_NO_OFFSET)
                return -EINVAL;
        _cleanup_(entry_reader_freep) EntryReader *e = calloc(1, sizeof(EntryReader));
        if (!e)
                return -ENOMEM;
        *e = (EntryReader) { .file = f, .left = f->size };
        int r = src->s3 ? archive_range_open(src, m, f, &e->range) : 0;
        if (r >= 0)
                r = src->s3 ? codec_reader_new_from(archive_range_fd(e->range), c, f->at > 0, &e->codec)
                            : codec_reader_new_at(src->fd, c, f->at, &e->codec);
        char name[101];
        uint64_t size;
        if (r >= 0)
                r = read_header(e->codec, f->name, name, &size, reterr);
        if (r == -EBADMSG && fetch_failed(e) < 0) {
                free(*reterr);
                *reterr = NULL;
                return message_set(reterr, -ENOLINK, "%s", strna(e->error));
        }
        if (r < 0)
                return r;
        if (!streq(name, f->name) || size != f->size)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its metadata "
                                   "says it is.", f->name);
        *ret = TAKE_PTR(e);
        return 0;
}

ssize_t entry_reader_read(EntryReader *e, void *buf, size_t n) {
        if (e->left == 0)
                return 0;
        ssize_t k = codec_reader_read(e->codec, buf, (size_t) MIN((uint64_t) n, e->left));
        if (k == 0 || k == -EBADMSG) {
                if (fetch_failed(e) < 0)
                        return -ENOLINK;
                if (k == 0) {
                        free(e->error);
                        if (asprintf(&e->error, "the archive ends inside %s", e->file->name) < 0)
                                e->error = NULL;
                        return -EBADMSG;
                }
        }
        if (k > 0)
                e->left -= (uint64_t) k;
        return k;
}

const char *entry_reader_error(const EntryReader *e) {
        return e->error ?: codec_reader_error(e->codec);
}

EntryReader *entry_reader_free(EntryReader *e) {
        if (!e)
                return NULL;
        archive_range_free(e->range);
        codec_reader_free(e->codec);
        free(e->error);
        free(e);
        return NULL;
}

int archive_check_end(const ArchiveSource *src, Compression c, const CheckpointMetadata *m, char **reterr) {
        const CheckpointFile *last = NULL;
        for (size_t i = 0; i < m->n_files; i++)
                if (!last || m->files[i].at > last->at)
                        last = &m->files[i];
        if (!last)
                return -EINVAL;
        _cleanup_(entry_reader_freep) EntryReader *e = NULL;
        int r = entry_reader_open(src, c, m, last, &e, reterr);
        if (r < 0)
                return r;
        /* Through the last entry and its padding, then the marker and whatever follows it. */
        uint64_t skip = (last->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK, zeros = 0;
        uint8_t buf[64 * 1024];
        for (;;) {
                ssize_t k = codec_reader_read(e->codec, buf, sizeof(buf));
                if ((k == 0 || k == -EBADMSG) && fetch_failed(e) < 0)
                        return message_set(reterr, -ENOLINK, "%s", strna(e->error));
                if (k < 0)
                        return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s.",
                                           strna(codec_reader_error(e->codec)));
                if (k == 0)
                        break;
                size_t from = (size_t) MIN(skip, (uint64_t) k);
                skip -= from;
                for (size_t i = from; i < (size_t) k; i++)
                        if (buf[i] != 0)
                                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: it has "
                                                   "unexpected data after the end of its last entry.");
                zeros += (uint64_t) k - from;
                if (zeros > 2 * TAR_BLOCK + TAR_MAX_PADDING)
                        return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: it has "
                                           "unexpected data after the end of the tar archive.");
        }
        if (skip > 0 || zeros < 2 * TAR_BLOCK)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is truncated.");
        return 0;
}
