/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint archives: a flat tar of CRIU's image files plus cedana.json, written through a
 * CodecWriter and read back, as untrusted input, through a CodecReader and libarchive. */
#pragma once

/* This header shadows libarchive's <archive.h> on our include path: code that needs libarchive
 * itself includes <libarchive.h>. */

#include <stddef.h>
#include <stdint.h>

#include "compression.h"
#include "macro.h"

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
 * by name) as a tar stream in format c (not NONE) to out_fd, in the order of names. Entries: plain
 * names, mode 0600, owner 0:0, mtime of the file (whole seconds). A name that archive_extract()
 * would refuse, or given twice, is -EINVAL; a symlink is -ELOOP, anything else not a regular file
 * -EBADFD; a file that changes size while being read is -EIO; a full disk is -ENOSPC.
 * On success *ret_bytes_in (if given) is the sum of the file sizes.
 * On failure *reterr (if given) gets a one-sentence reason naming the file; the partial output
 * is the caller's to delete. */
int archive_write_dir(int dir_fd, char *const *names, int out_fd, Compression c, unsigned threads,
                      uint64_t *ret_bytes_in, char **reterr);

/* What archive_extract() wrote, in archive order: each file's name, size and zlib crc32(),
 * computed from the bytes as they went to disk, so that a caller can check a restore against the
 * checkpoint's metadata without reading the files a second time. */
typedef struct ArchiveFile {
        char *name;
        uint64_t size;
        uint32_t crc32;
} ArchiveFile;

typedef struct ArchiveFileList {
        ArchiveFile *files;
        size_t n_files;
        size_t n_allocated;
} ArchiveFileList;

ArchiveFileList *archive_file_list_free(ArchiveFileList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(ArchiveFileList *, archive_file_list_free);
/* The entry named name, or NULL. */
const ArchiveFile *archive_file_list_find(const ArchiveFileList *l, const char *name);

/* Extracts the archive in in_fd (format detected from its content; read from offset 0, the file
 * offset is moved; a directory is -EISDIR) into the empty directory dest_dir_fd (-ENOTEMPTY
 * otherwise). Only regular files with plain names ([A-Za-z0-9._-], no '/', not "." or "..", at
 * most 255 bytes) are accepted; anything else (directories, symlinks, hard links, devices, fifos,
 * sparse files, absolute or relative paths, duplicate names) is refused with -EBADMSG. Mode bits
 * (setuid/setgid included), owners, times, ACLs and xattrs in the archive are ignored, never
 * applied: every file is created 0600 with O_EXCL|O_NOFOLLOW. The archive must end cleanly:
 * truncation (including a tar without its end-of-archive marker), a corrupt stream, and
 * trailing garbage (anything but up to 1 MiB of zero padding after the tar's end-of-archive
 * marker, or anything after the compressed stream) are -EBADMSG; a .tar.lz4 that is really
 * zstd is simply read as zstd. An empty file is -ENODATA, content in none of our formats
 * -EMEDIUMTYPE. Limits exceeded: -EFBIG. *ret_format (if given) is set once the format is known.
 * On success *ret_files (if given) gets the files written, the caller's to free with
 * archive_file_list_free(); on failure it is left untouched. Returns 0 or -errno, with a
 * one-sentence reason in *reterr for every user-caused failure. On failure, files already
 * written stay in dest_dir_fd: the caller owns and removes it. */
int archive_extract(int in_fd, int dest_dir_fd, const ArchiveLimits *limits, Compression *ret_format,
                    ArchiveFileList **ret_files, char **reterr);
