/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a checkpoint archive cedana wrote by the entry, in any order: cedana.json (format 3)
 * says where each entry starts (CheckpointFile.at), at a frame boundary where decoding can begin.
 * What a restore streams from. All of it is untrusted: the header found there must be the listed
 * file's, and a reader hands out exactly the bytes the listing declares, which the caller hashes. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "compression.h"
#include "macro.h"
#include "metadata.h"

typedef struct S3Config S3Config;

/* Where a restore reads an archive: a local file (fd, read with pread() by any number of
 * readers), or an object of a store, read by ranges that must all be of one version (etag). */
typedef struct ArchiveSource {
        int fd;
        const S3Config *s3;
        const char *bucket, *key, *etag;
} ArchiveSource;

/* cedana.json as the archive's first entry, as cedana writes it: *ret_text (NUL-terminated) and
 * its size. -EAGAIN when the first entry is something else (an archive repacked by hand); -EBADMSG
 * with *reterr for a corrupt start. */
int archive_read_leading_metadata(int fd, Compression c, char **ret_text, size_t *ret_size, char **reterr);

/* Whether every file m lists has a place in the archive, so that it can be read entry by entry. */
bool archive_is_indexed(const CheckpointMetadata *m);

/* Whether the archive in fd (format c) can be read entry by entry: it starts with cedana.json,
 * which gives every file's place and declares no more than max_bytes (0: no limit). 1 with its
 * text in *ret_text (NUL-terminated, may be NULL) and *ret_size; 0 when it cannot (an earlier
 * cedana's, repacked by hand, too large, or anything odd, for a full extraction to find and name);
 * -ENOMEM. */
int archive_streamable_metadata(int fd, Compression c, uint64_t max_bytes, char **ret_text, size_t *ret_size);

/* The end of the archive as cedana writes it: after the entry that starts last, the tar's
 * end-of-archive marker, at most some zero padding, and the compressed stream's clean end. Only
 * the last entry is read. -EBADMSG with *reterr for truncation or anything after the end. */
int archive_check_end(const ArchiveSource *src, Compression c, const CheckpointMetadata *m, char **reterr);

/* The bytes of f's entry in an object (up to where the next entry starts), as they come: a pipe
 * that a thread fills with a ranged GET. */
typedef struct ArchiveRange ArchiveRange;
int archive_range_open(const ArchiveSource *src, const CheckpointMetadata *m, const CheckpointFile *f,
                       ArchiveRange **ret);
int archive_range_fd(const ArchiveRange *a);
/* Once the pipe ended early: -ENOLINK with the store's sentence in *reterr if the GET failed. */
int archive_range_failed(ArchiveRange *a, char **reterr);
ArchiveRange *archive_range_free(ArchiveRange *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveRange *, archive_range_free);

/* Whether block (n bytes) is the tar header cedana writes for f. */
bool archive_header_is(const void *block, size_t n, const CheckpointFile *f);

typedef struct EntryReader EntryReader;

/* Opens f's entry (one of m's) in the archive: from a local file at once; from an object through a
 * pipe that a thread of the reader's own fills with a ranged GET, of the bytes up to where the next
 * entry starts. -EBADMSG with *reterr when the header
 * there is not f's or the stream there cannot be decoded; -ENOLINK when the store failed (the
 * sentence says how). */
int entry_reader_open(const ArchiveSource *src, Compression c, const CheckpointMetadata *m, const CheckpointFile *f,
                      EntryReader **ret, char **reterr);
/* Up to n bytes of the entry's data; 0 once its declared size has been read. -EBADMSG (with
 * entry_reader_error()) when the stream ends or fails first; -ENOLINK when the store did. */
ssize_t entry_reader_read(EntryReader *e, void *buf, size_t n);
const char *entry_reader_error(const EntryReader *e);
EntryReader *entry_reader_free(EntryReader *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(EntryReader *, entry_reader_free);
