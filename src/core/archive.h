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
        /* Called as the input is read, with the bytes of in_fd read so far; a negative return
         * (-ECANCELED) stops the read with that error. May be NULL. */
        int (*on_read)(uint64_t in_bytes, void *userdata);
        void *userdata;
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

typedef struct Verifier Verifier;

/* Extracts the archive in in_fd (format detected from its content; read from offset 0, the file
 * offset is moved; a directory is -EISDIR) into the empty directory dest_dir_fd (-ENOTEMPTY
 * otherwise). Only regular files with plain names ([A-Za-z0-9._-], not "." or "..", at most 255
 * bytes; a "./" prefix, as tar run on a directory writes it, is dropped and the "./" entry itself
 * skipped) are accepted; anything else (directories, symlinks, hard links, devices, fifos, sparse
 * files, other paths, duplicate names) is refused with -EBADMSG. Mode bits (setuid/setgid
 * included), owners, times, ACLs and xattrs in the archive are ignored, never applied: every file
 * is created 0600 with O_EXCL|O_NOFOLLOW. The archive must end cleanly: truncation (including a
 * tar without its end-of-archive marker), a corrupt stream, and trailing garbage (anything but up
 * to 1 MiB of zero padding after the tar's end-of-archive marker, or anything after the
 * compressed stream) are -EBADMSG; a .tar.lz4 that is really zstd is simply read as zstd. An
 * empty file is -ENODATA, content in none of our formats -EMEDIUMTYPE. Limits exceeded: -EFBIG.
 *
 * With a verifier v, every entry is checked as it is written: cedana.json must come first (kept
 * in memory, not written), unless v was given the metadata already; every other entry must be
 * one it lists, and writing stops as soon as an entry exceeds the size it declares (-EFBIG); its
 * SHA-256 is checked at its end, and at the end of the archive every listed file must have come.
 * -EAGAIN, before anything is written, when the first entry is not cedana.json: find it with
 * archive_read_metadata() first. Verifier errors (-EBADMSG, -ESTALE, -EPROTONOSUPPORT) pass
 * through.
 *
 * *ret_format (if given) is set once the format is known. Returns 0 or -errno, with a
 * one-sentence reason in *reterr for every user-caused failure. On failure, files already
 * written stay in dest_dir_fd: the caller owns and removes it. */
int archive_extract(int in_fd, int dest_dir_fd, const ArchiveLimits *limits, Verifier *v, Compression *ret_format,
                    char **reterr);

/* Reads the whole archive in in_fd, writing nothing, and returns the content of its cedana.json
 * (-EMEDIUMTYPE when it has none), for archives repacked in another order. The same checks and
 * limits as archive_extract(). */
int archive_read_metadata(int in_fd, const ArchiveLimits *limits, char **ret_text, size_t *ret_size, char **reterr);

/* One file of a checkpoint, in memory. */
typedef struct ArchiveFile {
        char *name;
        char *data; /* NUL-terminated; size excludes the NUL */
        size_t size;
} ArchiveFile;

/* Reads the whole archive in in_fd with the checks and limits of archive_extract(), writing
 * nothing, and keeps in memory the entries whose name want() accepts, in archive order: each at
 * most max_each bytes, together at most max_total (-EFBIG, counted as read); a wanted name twice
 * is -EBADMSG. The other entries are read and dropped. For looking into a checkpoint without
 * extracting its pages. */
int archive_read_files(int in_fd, const ArchiveLimits *limits, bool (*want)(const char *name), uint64_t max_each,
                       uint64_t max_total, ArchiveFile **ret, size_t *ret_n, Compression *ret_format, char **reterr);
void archive_files_free(ArchiveFile *files, size_t n);
