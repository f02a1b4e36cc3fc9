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

/* cedana.json as the archive's first entry, as cedana writes it: *ret_text (NUL-terminated) and
 * its size. -EAGAIN when the first entry is something else (an archive repacked by hand); -EBADMSG
 * with *reterr for a corrupt start. */
int archive_read_leading_metadata(int fd, Compression c, char **ret_text, size_t *ret_size, char **reterr);

/* Whether every file m lists has a place in the archive, so that it can be read entry by entry. */
bool archive_is_indexed(const CheckpointMetadata *m);

/* The end of the archive as cedana writes it: after the entry that starts last, the tar's
 * end-of-archive marker, at most some zero padding, and the compressed stream's clean end. Only
 * the last entry is read. -EBADMSG with *reterr for truncation or anything after the end. */
int archive_check_end(int fd, Compression c, const CheckpointMetadata *m, char **reterr);

typedef struct EntryReader EntryReader;

/* Opens f's entry in the archive fd (a regular file, shared: read with pread()). -EBADMSG with
 * *reterr when the header there is not f's or the stream there cannot be decoded. */
int entry_reader_open(int fd, Compression c, const CheckpointFile *f, EntryReader **ret, char **reterr);
/* Up to n bytes of the entry's data; 0 once its declared size has been read. -EBADMSG (with
 * entry_reader_error()) when the stream ends or fails first. */
ssize_t entry_reader_read(EntryReader *e, void *buf, size_t n);
const char *entry_reader_error(const EntryReader *e);
EntryReader *entry_reader_free(EntryReader *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(EntryReader *, entry_reader_free);
