/* SPDX-License-Identifier: Apache-2.0 */
/* Compression streams for checkpoint archives: format detection from magic bytes, and
 * streaming writers/readers for tar (identity), gzip, lz4 frame, zlib and zstd. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compression.h"
#include "macro.h"

/* Tells what a checkpoint is from its content, never from its name.
 * fd: a directory (-> COMPRESSION_NONE) or a regular file (read with pread from offset 0;
 * the file offset is not moved). An uncompressed tar is recognised by "ustar" at offset 257.
 * Returns 0, or -ENODATA for an empty file, -EMEDIUMTYPE for content that is none of our
 * formats, -EBADFD for an fd that is neither a directory nor a regular file, other -errno on I/O
 * errors. */
int codec_detect(int fd, Compression *ret);

typedef struct CodecWriter CodecWriter;

/* Compresses everything written into out_fd in format c (TAR means identity).
 * c must not be COMPRESSION_NONE (-EINVAL). threads: how many cores the compressor may use
 * (0 = all online CPUs). The input is cut into chunks compressed independently: zstd and lz4
 * frames, gzip members, and for zlib full-flushed runs of one deflate stream; all standard, all
 * read by the usual tools. On a regular file, writeback to disk is started as the writer goes. */
int codec_writer_new(Compression c, int out_fd, unsigned threads, CodecWriter **ret);
int codec_writer_write(CodecWriter *w, const void *buf, size_t n);
/* Writes n (at most 4096) bytes that can be replaced later with codec_writer_patch(): they are
 * stored uncompressed at a fixed place of the output (a raw zstd block, an uncompressed lz4 block,
 * a stored deflate block), so a tar header can be fixed once the entry's size is known.
 * Needs a regular file (-ESPIPE otherwise). *ret_handle names the segment. */
int codec_writer_write_patchable(CodecWriter *w, const void *buf, size_t n, uint64_t *ret_handle);
/* Replaces a patchable segment's bytes (same length), before codec_writer_finish(). */
int codec_writer_patch(CodecWriter *w, uint64_t handle, const void *buf, size_t n);
/* Flushes and writes the format's trailer. Must be called once before free for a complete
 * stream; freeing without finishing discards (the caller deletes the half-written file). */
int codec_writer_finish(CodecWriter *w);
uint64_t codec_writer_bytes_in(const CodecWriter *w);
uint64_t codec_writer_bytes_out(const CodecWriter *w);
CodecWriter *codec_writer_free(CodecWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(CodecWriter *, codec_writer_free);

typedef struct CodecReader CodecReader;

/* Decompresses in_fd (read from its current offset) in format c (TAR means identity).
 * Concatenated gzip members, lz4 frames and zstd frames (skippable frames included) read as one
 * stream, as gzip -d, lz4 -d and zstd -d do; a zlib stream is exactly one stream. Whatever
 * follows the last member/frame and does not start another is trailing garbage. For TAR the
 * reader passes bytes through and cannot tell truncation or garbage: archive.c checks the tar
 * structure itself. */
int codec_reader_new(int in_fd, Compression c, CodecReader **ret);
/* Returns bytes read (> 0; n unless the stream ends or fails), 0 at the clean end of the stream,
 * or -errno:
 * -EBADMSG for corrupt or truncated data and for bytes after the end of the compressed stream,
 * with a one-sentence reason in codec_reader_error(), other -errno for I/O errors. */
ssize_t codec_reader_read(CodecReader *r, void *buf, size_t n);
/* Why the last read failed, e.g. "the zstd stream is truncated", "the data is not a gzip stream"
 * or "unexpected data after the end of the zstd stream" (lower case, no final period, so it can
 * be embedded in a sentence); NULL when it did not. Errors are sticky: after one, every read
 * returns the same error. */
const char *codec_reader_error(const CodecReader *r);
uint64_t codec_reader_bytes_in(const CodecReader *r);
CodecReader *codec_reader_free(CodecReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CodecReader *, codec_reader_free);
