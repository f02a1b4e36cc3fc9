/* SPDX-License-Identifier: Apache-2.0 */
/* Writing a checkpoint archive while CRIU still writes the images: a ustar stream whose
 * entries may be begun before their size is known (the size is patched into the header, which
 * the codec keeps uncompressed in place). Readable by archive_extract() and by tar. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "compression.h"
#include "macro.h"

typedef struct ArchiveStream ArchiveStream;

/* out_fd must be a regular file (headers are patched in place). c is not COMPRESSION_NONE. */
int archive_stream_new(int out_fd, Compression c, unsigned threads, ArchiveStream **ret);
/* A whole entry: header and data. */
int archive_stream_add(ArchiveStream *s, const char *name, const void *data, size_t size);
/* An entry of unknown size: begin, write its data, end. One entry is open at a time. */
int archive_stream_begin(ArchiveStream *s, const char *name);
int archive_stream_write(ArchiveStream *s, const void *data, size_t n);
int archive_stream_end(ArchiveStream *s);
/* An entry of size bytes (a multiple of 4096, at most 256 KiB) whose content is only known at
 * the end, filled with spaces for now: stored uncompressed in place, so that it can come first
 * (cedana.json, which says what the entries after it may be) and be filled in last. One per
 * stream. */
int archive_stream_reserve(ArchiveStream *s, const char *name, size_t size);
/* The reserved entry's content: data and spaces after it; -E2BIG when n exceeds the reservation. */
int archive_stream_fill(ArchiveStream *s, const void *data, size_t n);
/* Where each entry begun with archive_stream_begin() starts in the output: a place where a reader
 * can start decoding (codec_reader_new_at()) and find the entry's header, so that a restore can
 * read the entries in any order; and the boundaries of its frames (n_frames of them: each frame's
 * start, the first being offset, then where the last ends), which decode on their own
 * (codec_decode_frame()). Writes out everything so far first; no entry may be open. */
typedef int (*ArchiveIndexFunc)(const char *name, uint64_t offset, const uint64_t *frames, size_t n_frames,
                                void *userdata);
int archive_stream_index(ArchiveStream *s, ArchiveIndexFunc f, void *userdata);
/* How much of the output is final: everything before the open entry's header (patched when it
 * ends), but for the reserved entry, which stays open to archive_stream_fill(). */
uint64_t archive_stream_settled(const ArchiveStream *s);
/* The end-of-archive marker and the codec's trailer; the caller fsyncs and renames. */
int archive_stream_finish(ArchiveStream *s);
ArchiveStream *archive_stream_free(ArchiveStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveStream *, archive_stream_free);

/* The ustar header of a regular file: plain name (< 100 bytes), mode 0600, owner 0:0. Sizes of
 * 8 GiB and more use GNU tar's base-256 form, which libarchive and GNU tar read. */
int tar_header(char block[512], const char *name, uint64_t size, uint64_t mtime);
