/* SPDX-License-Identifier: Apache-2.0 */
/* cedana.json: what a checkpoint is (type, source, owner, time, host, CRIU version, options)
 * and a checksum of every file in it, so a corrupt checkpoint is refused before CRIU runs. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "archive.h"
#include "json.h"
#include "macro.h"
#include "options.h"

#define METADATA_FILENAME "cedana.json"
#define METADATA_FORMAT_VERSION 1
/* Bounds what a hostile cedana.json can make us allocate. Pretty-printed, a file's entry takes
 * about 100 bytes, so this holds ~40k files (a CRIU dump has ~10 per process). */
#define METADATA_MAX_SIZE (UINT64_C(4) << 20)

typedef struct CheckpointFile {
        char *name;
        uint64_t size;
        uint32_t crc32; /* zlib crc32 of the whole file */
} CheckpointFile;

typedef struct CheckpointMetadata {
        unsigned format_version; /* METADATA_FORMAT_VERSION when written by us */
        char *id;                /* the checkpoint's name */
        char *type;              /* "process", "job" or "runc" */
        pid_t pid;               /* the dumped tree's root pid */
        char *job;               /* NULL unless type is "job" */
        uid_t uid;               /* who asked for the dump: the checkpoint's owner */
        uint64_t time_usec;      /* CLOCK_REALTIME when the dump finished */
        char *hostname;
        char *criu_version; /* e.g. "4.2.1" */
        char *cedana_version;
        DumpOptions options; /* dir and name are not recorded */
        CheckpointFile *files; /* sorted by name; never includes cedana.json */
        size_t n_files;
        uint64_t size; /* sum of files[].size */
} CheckpointMetadata;

int metadata_new(CheckpointMetadata **ret);
CheckpointMetadata *metadata_free(CheckpointMetadata *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(CheckpointMetadata *, metadata_free);

/* Adds one file's record (keeps files sorted, size summed); -EEXIST for a duplicate name,
 * -EINVAL for a name that is not a plain file name (1..255 of [A-Za-z0-9._-], not "." or "..")
 * or is cedana.json itself, -EOVERFLOW when the total size would not fit 64 bits. */
int metadata_add_file(CheckpointMetadata *m, const char *name, uint64_t size, uint32_t crc32);
/* Records every regular file of dir_fd except cedana.json, reading each to compute its crc32.
 * A non-regular entry (directory, symlink, ...) or a name outside [A-Za-z0-9._-] is -EBADMSG;
 * errors are logged here, naming the file, since the caller only sees the errno. */
int metadata_scan_dir(CheckpointMetadata *m, int dir_fd);

/* JSON form, with a "checksum" member ("crc32:xxxxxxxx") over the compact serialization of
 * everything else, so an edited or flipped byte in the metadata itself is noticed. */
int metadata_to_json(const CheckpointMetadata *m, JsonVariant **ret);
/* Validates types, ranges, names (plain file names only), unknown members and the checksum.
 * -EBADMSG with *reterr naming the problem; -EPROTONOSUPPORT for a newer format_version (checked
 * first, as a newer format may differ in anything). "job" may be absent or null. */
int metadata_from_json(const JsonVariant *v, CheckpointMetadata **ret, char **reterr);

/* Writes cedana.json into dir_fd: temporary file, fsync, rename, fsync of the directory.
 * -E2BIG when the metadata would exceed METADATA_MAX_SIZE (metadata_read() would refuse it). */
int metadata_write(const CheckpointMetadata *m, int dir_fd);
/* Reads and validates dir_fd's cedana.json (at most METADATA_MAX_SIZE, O_NOFOLLOW).
 * -ENOENT with *reterr when it is missing ("not a cedana checkpoint"). */
int metadata_read(int dir_fd, CheckpointMetadata **ret, char **reterr);
/* Checks that dir_fd holds exactly the files m lists (plus cedana.json), each a regular file
 * with the recorded size and crc32. -EBADMSG with *reterr naming the first bad file. */
int metadata_verify(const CheckpointMetadata *m, int dir_fd, char **reterr);
/* The same checks against what archive_extract() reported writing (cedana.json included), so an
 * extracted checkpoint is verified without reading its images again. */
int metadata_verify_extracted(const CheckpointMetadata *m, const ArchiveFileList *files, char **reterr);
