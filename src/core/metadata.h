/* SPDX-License-Identifier: Apache-2.0 */
/* cedana.json: what a checkpoint is (type, source, owner, time, host, CRIU version, options)
 * and the SHA-256 of every file in it, with a digest over its own bytes as written. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "macro.h"
#include "options.h"

#define METADATA_FILENAME "cedana.json"
/* 3: where each file's entry starts in an archive ("at"), so that a restore can stream it.
 * 2 (read only): SHA-256 per file, and a digest over cedana.json's own bytes. 1 (read only):
 * crc32s. */
#define METADATA_FORMAT_VERSION 3
/* CheckpointFile.at of a file that has no known place (a directory checkpoint, an archive
 * written by libarchive or by an earlier version). */
#define METADATA_NO_OFFSET UINT64_MAX
/* Bounds what a hostile cedana.json can make us allocate. Pretty-printed, a file's entry takes
 * about 130 bytes, so this holds ~30k files (a CRIU dump has ~10 per process). */
#define METADATA_MAX_SIZE (UINT64_C(4) << 20)
#define METADATA_DIGEST_PREFIX "sha256:"
#define METADATA_DIGEST_SIZE (STRLEN(METADATA_DIGEST_PREFIX) + SHA256_HEX_SIZE)

typedef struct CheckpointFile {
        char *name;
        uint64_t size;
        char sha256[SHA256_HEX_SIZE]; /* format 2 */
        uint32_t crc32;               /* format 1 */
        /* Format 3, archives cedana streamed: the offset in the archive file where a reader can
         * start decoding (codec_reader_new_at()) and finds this file's tar header. Untrusted
         * like the rest: a wrong one only reads bytes that fail the digest. */
        uint64_t at;
        /* Format 3, optional: where each frame of the entry starts (the first is at) and, last,
         * where its last one ends; frames decode on their own, so a restore decodes a big page
         * image on several cores. Untrusted: a wrong one decodes bytes that fail the digest. */
        uint64_t *frames;
        size_t n_frames;
} CheckpointFile;

/* For a container's checkpoint: which runtime knew it, and where (what a restore hands back to
 * the same runtime). */
typedef struct CheckpointContainer {
        char *runtime;     /* "runc" or "containerd" */
        char *id;          /* the container's id when it was dumped */
        /* runc: */
        char *root;        /* the runtime's state directory (runc --root) */
        char *bundle;      /* the OCI bundle it ran from: config.json and its root file system */
        /* containerd: the rest is in the checkpoint's own record of the container. */
        char *namespace;
        char *image;       /* what a restore's host must have pulled or imported */
        char *snapshotter;
        char *parent;      /* the image's top layer, as the snapshotter names it */
} CheckpointContainer;

void checkpoint_container_done(CheckpointContainer *c);
/* As cedana.json has it (k->runtime set); NULL without memory. */
json_t *metadata_container_to_json(const CheckpointContainer *k);

typedef struct CheckpointMetadata {
        unsigned format_version; /* METADATA_FORMAT_VERSION when written by us */
        char *id;                /* the checkpoint's name */
        char *type;              /* "process", "job", "runc" or "containerd" */
        pid_t pid;               /* the dumped tree's root pid */
        char *job;               /* NULL unless type is "job" */
        uid_t uid;               /* who asked for the dump: the checkpoint's owner */
        uint64_t time_usec;      /* CLOCK_REALTIME when the dump finished */
        char *hostname;
        char *criu_version; /* e.g. "4.2.1" */
        char *cedana_version;
        char **command;     /* the dumped root's command line; NULL when unknown (format 1) */
        DumpOptions options; /* dir and name are not recorded */
        CheckpointContainer container; /* types "runc" and "containerd" only; all NULL otherwise */
        CheckpointFile *files; /* sorted by name; never includes cedana.json */
        size_t n_files;
        uint64_t size; /* sum of files[].size */
        /* "sha256:<hex>" over cedana.json's bytes up to its checksum member: set by
         * metadata_format() and metadata_parse() for format 2, empty for format 1. */
        char digest[METADATA_DIGEST_SIZE];
} CheckpointMetadata;

int metadata_new(CheckpointMetadata **ret);
CheckpointMetadata *metadata_free(CheckpointMetadata *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(CheckpointMetadata *, metadata_free);

/* Only names that are safe as a path component below the checkpoint directory and safe to
 * print: 1..255 of [A-Za-z0-9._-], not "." or "..". CRIU's own image names all look like this. */
bool checkpoint_file_name_is_plain(const char *s);

/* Adds one file's record (keeps files sorted, size summed); -EEXIST for a duplicate name,
 * -EINVAL for a name that is not plain, is cedana.json itself, or an invalid digest,
 * -EOVERFLOW when the total size would not fit 63 bits. */
int metadata_add_file(CheckpointMetadata *m, const char *name, uint64_t size, const char *sha256);
/* Records where name's entry starts in the archive (see CheckpointFile.at); -ENOENT if unlisted. */
int metadata_set_file_offset(CheckpointMetadata *m, const char *name, uint64_t at);
/* Records the frame boundaries of name's entry (n of them, increasing, the first its "at"). */
int metadata_set_file_frames(CheckpointMetadata *m, const char *name, const uint64_t *frames, size_t n);
/* Forgets every file's frames (a cedana.json that would not fit its room without them). */
void metadata_drop_frames(CheckpointMetadata *m);
/* The listed file named name, or NULL. */
const CheckpointFile *metadata_find_file(const CheckpointMetadata *m, const char *name);

/* The document as written: pretty JSON whose last member, "checksum", is
 * "sha256:<SHA-256 of every byte before that member>", so the digest covers the bytes as
 * written, not a re-serialisation. *ret_digest gets that value. -E2BIG beyond
 * METADATA_MAX_SIZE. Always format 2. */
int metadata_format(const CheckpointMetadata *m, char **ret_text, size_t *ret_size,
                    char ret_digest[METADATA_DIGEST_SIZE]);
/* Parses and validates untrusted text: types, ranges, names, unknown members, the checksum
 * (format 2: over the bytes as given; format 1: crc32 over the compact form, as cedana 0.1
 * wrote it). -EBADMSG with *reterr naming the problem; -EPROTONOSUPPORT for a newer format
 * (checked first, as a newer format may differ in anything). */
int metadata_parse(const char *text, size_t n, CheckpointMetadata **ret, char **reterr);

/* Writes cedana.json into dir_fd: temporary file, fsync, rename, fsync of the directory.
 * ret_digest (optional) as from metadata_format(). */
int metadata_write(const CheckpointMetadata *m, int dir_fd, char ret_digest[METADATA_DIGEST_SIZE]);
/* Reads (at most METADATA_MAX_SIZE, O_NOFOLLOW, a regular file) and parses dir_fd's
 * cedana.json. -ENOENT with *reterr when it is missing ("not a cedana checkpoint"). */
int metadata_read(int dir_fd, CheckpointMetadata **ret, char **reterr);
