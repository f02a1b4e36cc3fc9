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

/* Compresses everything written into out_fd (from its current offset) in format c (TAR means
 * identity). c must not be COMPRESSION_NONE (-EINVAL). threads: how many cores the compressor may
 * use (0 = all online CPUs; at most 8 are used). The input is cut into 2 MiB chunks, compressed
 * independently by a pool of threads (with threads <= 1 by the caller's thread) and written in
 * order: zstd and lz4 frames, gzip members, and for zlib full-flushed runs of one deflate stream,
 * all standard and read by the usual tools. The bytes are the same for any number of threads.
 * At most 2 * threads + 1 chunks are in flight (about 4 MiB each). On a regular file,
 * writeback to disk is started every 32 MiB, so the caller's fsync() has little left to do.
 * A writer is used from one thread at a time. */
int codec_writer_new(Compression c, int out_fd, unsigned threads, CodecWriter **ret);
int codec_writer_write(CodecWriter *w, const void *buf, size_t n);
/* Writes n bytes (1 to 4096) that read back as if written with codec_writer_write(), but are
 * stored uncompressed at a fixed place of the output (a zstd frame of one raw block, an lz4 frame
 * of one uncompressed block, a gzip member of one stored block, a stored block of the zlib
 * stream), so that a tar header can be fixed once the entry's size is known. Ends the current
 * chunk but does not wait for the pipeline. Needs a regular file: -ESPIPE otherwise (and the
 * writer stays usable). *ret_handle names the segment for codec_writer_patch(). */
int codec_writer_write_patchable(CodecWriter *w, const void *buf, size_t n, uint64_t *ret_handle);
/* Replaces a patchable segment's bytes (same length, else -EINVAL), any number of times, until
 * codec_writer_finish(); after it, -EINVAL. A segment still in the pipeline is changed in
 * memory; one already written is rewritten with pwrite(), with its gzip member's CRC32 (zlib:
 * the stream's adler32 is computed at finish from per-piece values). */
int codec_writer_patch(CodecWriter *w, uint64_t handle, const void *buf, size_t n);
/* Writes everything given so far (the chunk being filled ends here) and waits until it is. */
int codec_writer_flush(CodecWriter *w);
/* Where the frame (gzip member, lz4 or zstd frame, stored block of the zlib stream) that holds a
 * patchable segment starts in the output: codec_reader_new_at() reads from there. -EBUSY while
 * the segment is still in the pipeline (codec_writer_flush() ends that). */
int codec_writer_segment_offset(const CodecWriter *w, uint64_t handle, uint64_t *ret);
/* Decodes exactly one frame a CodecWriter wrote (n bytes: a zstd or lz4 frame, a gzip member, a
 * full-flushed run of the zlib stream as raw deflate, or tar bytes as they are) into out. -EBADMSG
 * when it is not one whole frame or does not fit out_max. Frames decode independently, so several
 * threads can decode one stream. */
int codec_decode_frame(Compression c, const void *in, size_t n, void *out, size_t out_max, size_t *ret_out);
/* Where every frame written so far starts, in order (each holds at most 2 MiB of input, or one
 * segment, and decodes on its own: codec_decode_frame()), and where the next would. */
void codec_writer_frames(const CodecWriter *w, const uint64_t **ret, size_t *ret_n, uint64_t *ret_end);
/* Waits for the pipeline, writes the rest and the format's trailer. Must be called once before
 * free for a complete stream; freeing without finishing discards (the caller deletes the
 * half-written file). Errors are sticky: after one, every call returns it. Does not fsync. */
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
/* The same, from offset of a regular file (read with pread(), so that several readers may share
 * one fd) where a frame (gzip member, tar block) starts; for zlib, where a deflate block starts
 * inside the one stream (after a full flush; offset 0 is its header), read as raw deflate without
 * header or trailer. The
 * caller reads as many bytes as it knows are there: a stream read from its middle has no end of
 * its own to check. */
int codec_reader_new_at(int in_fd, Compression c, uint64_t offset, CodecReader **ret);
/* The same, read from in_fd's current offset (a pipe, say) whose first byte is at such a place:
 * middle says it is not the stream's start. */
int codec_reader_new_from(int in_fd, Compression c, bool middle, CodecReader **ret);
ssize_t codec_reader_read(CodecReader *r, void *buf, size_t n);
/* Why the last read failed, e.g. "the zstd stream is truncated", "the data is not a gzip stream"
 * or "unexpected data after the end of the zstd stream" (lower case, no final period, so it can
 * be embedded in a sentence); NULL when it did not. Errors are sticky: after one, every read
 * returns the same error. */
const char *codec_reader_error(const CodecReader *r);
uint64_t codec_reader_bytes_in(const CodecReader *r);
CodecReader *codec_reader_free(CodecReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CodecReader *, codec_reader_free);
