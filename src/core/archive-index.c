/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-index.h"
#include "codec.h"
#include "message.h"

#define TAR_BLOCK 512
/* After the end-of-archive marker: zeros up to a record's end, and no more than this (as
 * archive_extract() allows). */
#define TAR_MAX_PADDING ((uint64_t) 1024 * 1024)

struct EntryReader {
        CodecReader *codec;
        const CheckpointFile *file;
        uint64_t left;
        char *error;
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

static int open_at(int fd, Compression c, uint64_t offset, const char *what, CodecReader **ret_reader,
                   char ret_name[101], uint64_t *ret_size, char **reterr) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        unsigned char block[TAR_BLOCK];
        int q = codec_reader_new_at(fd, c, offset, &r);
        if (q < 0)
                return q;
        ssize_t k = read_full(r, block, sizeof(block));
        if (k < 0 && k != -EBADMSG)
                return (int) k;
        if (k < 0)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its "
                                   "metadata says it is (%s).", what, strna(codec_reader_error(r)));
        if (k != TAR_BLOCK || parse_header(block, ret_name, ret_size) < 0)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its "
                                   "metadata says it is.", what);
        *ret_reader = TAKE_PTR(r);
        return 0;
}

int archive_read_leading_metadata(int fd, Compression c, char **ret_text, size_t *ret_size, char **reterr) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        char name[101];
        uint64_t size;
        int q = open_at(fd, c, 0, METADATA_FILENAME, &r, name, &size, reterr);
        if (q == -EBADMSG) {
                /* Not even a header: the normal reader says what is wrong. */
                free(*reterr);
                *reterr = NULL;
                return -EAGAIN;
        }
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

bool archive_is_indexed(const CheckpointMetadata *m) {
        for (size_t i = 0; i < m->n_files; i++)
                if (m->files[i].at == METADATA_NO_OFFSET)
                        return false;
        return m->n_files > 0;
}

int archive_check_end(int fd, Compression c, const CheckpointMetadata *m, char **reterr) {
        const CheckpointFile *last = NULL;
        for (size_t i = 0; i < m->n_files; i++)
                if (!last || m->files[i].at > last->at)
                        last = &m->files[i];
        if (!last)
                return -EINVAL;
        _cleanup_(entry_reader_freep) EntryReader *e = NULL;
        int r = entry_reader_open(fd, c, last, &e, reterr);
        if (r < 0)
                return r;
        /* Through the last entry and its padding, then the marker and whatever follows it. */
        uint64_t skip = (last->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK, zeros = 0;
        uint8_t buf[64 * 1024];
        for (;;) {
                ssize_t k = codec_reader_read(e->codec, buf, sizeof(buf));
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

int entry_reader_open(int fd, Compression c, const CheckpointFile *f, EntryReader **ret, char **reterr) {
        _cleanup_(codec_reader_freep) CodecReader *r = NULL;
        char name[101];
        uint64_t size;
        if (f->at == METADATA_NO_OFFSET)
                return -EINVAL;
        int q = open_at(fd, c, f->at, f->name, &r, name, &size, reterr);
        if (q < 0)
                return q;
        if (!streq(name, f->name) || size != f->size)
                return message_set(reterr, -EBADMSG, "The checkpoint archive is corrupt: %s is not where its metadata "
                                   "says it is.", f->name);
        EntryReader *e = calloc(1, sizeof(EntryReader));
        if (!e)
                return -ENOMEM;
        *e = (EntryReader) { .codec = TAKE_PTR(r), .file = f, .left = size };
        *ret = e;
        return 0;
}

ssize_t entry_reader_read(EntryReader *e, void *buf, size_t n) {
        if (e->left == 0)
                return 0;
        ssize_t k = codec_reader_read(e->codec, buf, (size_t) MIN((uint64_t) n, e->left));
        if (k == 0) {
                free(e->error);
                if (asprintf(&e->error, "the archive ends inside %s", e->file->name) < 0)
                        e->error = NULL;
                return -EBADMSG;
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
        codec_reader_free(e->codec);
        free(e->error);
        free(e);
        return NULL;
}
