/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint archives: a flat tar of CRIU's image files plus cedana.json, written through a
 * CodecWriter and read back, as untrusted input, through a CodecReader and libarchive. */
#pragma once

#include <stdint.h>

#include "compression.h"

/* Caps on what one extraction may write, counted as written (not as the headers claim). */
typedef struct ArchiveLimits {
        uint64_t max_bytes;       /* total of all entries */
        uint64_t max_entries;
        uint64_t max_entry_bytes; /* one entry */
} ArchiveLimits;

#define ARCHIVE_LIMITS_DEFAULT                                                  \
        ((ArchiveLimits) {                                                      \
                .max_bytes = UINT64_C(256) << 30, /* 256 GiB */                 \
                .max_entries = 100000,                                          \
                .max_entry_bytes = UINT64_C(256) << 30,                         \
        })

/* Writes the regular files of dir_fd named in names (NULL: all regular files of dir_fd, sorted
 * by name) as a tar stream in format c (not NONE) to out_fd. Entries: plain names, mode 0600,
 * owner 0:0, mtime of the file. On success *ret_bytes_in (if given) is the sum of the file sizes.
 * On failure *reterr (if given) gets a one-sentence reason naming the file. */
int archive_write_dir(int dir_fd, char *const *names, int out_fd, Compression c, unsigned threads,
                      uint64_t *ret_bytes_in, char **reterr);

/* Extracts the archive in in_fd (format detected from its content; a directory is -EISDIR)
 * into the empty directory dest_dir_fd. Only regular files with plain names
 * ([A-Za-z0-9._-], no '/', not "." or "..", at most 255 bytes) are accepted; anything else
 * (directories, symlinks, hard links, devices, fifos, absolute or relative paths, duplicate
 * names, setuid bits, owners and xattrs are ignored, never applied) is refused with -EBADMSG.
 * Files are created 0600 with O_EXCL|O_NOFOLLOW. The archive must end cleanly: truncation,
 * a format mismatch inside (e.g. a .tar.lz4 that is really zstd is simply detected as zstd, but a
 * corrupt stream is not), and trailing garbage are -EBADMSG. Limits exceeded: -EFBIG.
 * Returns 0 or -errno, with a one-sentence reason in *reterr for every user-caused failure.
 * On failure, files already written stay in dest_dir_fd: the caller owns and removes it. */
int archive_extract(int in_fd, int dest_dir_fd, const ArchiveLimits *limits, Compression *ret_format,
                    char **reterr);
