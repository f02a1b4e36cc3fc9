/* SPDX-License-Identifier: Apache-2.0 */
/* What is inside a checkpoint, for `cedana checkpoint inspect`: its cedana.json, and from CRIU's
 * images its process tree, open files, sockets and memory, read without its pages. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archive.h"
#include "compression.h"
#include "macro.h"
#include "metadata.h"

/* Bounds what a hostile checkpoint can make inspect hold in memory: one image, and all images
 * read together. Real ones are KiBs (pagemaps and files.img grow with the process). */
#define INSPECT_IMAGE_MAX (UINT64_C(64) << 20)
#define INSPECT_IMAGES_MAX (UINT64_C(256) << 20)

/* One open file descriptor of a process. */
typedef struct InspectFd {
        uint32_t fd;
        char *type;    /* "file", "pipe", "unix", "tcp", "udp", "tcp6", ...; CRIU's fd type in lower case otherwise */
        char *name;    /* a path, "127.0.0.1:80", "127.0.0.1:80 -> 127.0.0.1:5000", "@abstract", "pipe:[5]"; NULL when none */
        char *state;   /* sockets: "listening", "connected", ...; NULL otherwise */
} InspectFd;

typedef struct InspectProcess {
        pid_t pid, ppid, pgid, sid;
        pid_t *threads; /* thread ids, the main thread first */
        size_t n_threads;
        char *command;  /* the task's comm; NULL when its core image does not say */
        uint64_t mapped; /* bytes of its memory mappings */
        uint64_t dumped; /* bytes of its pages stored in the checkpoint */
        InspectFd *fds;
        size_t n_fds;
} InspectProcess;

typedef struct CheckpointSummary {
        CheckpointMetadata *metadata;
        Compression format;   /* of the checkpoint as stored */
        uint64_t stored_size; /* bytes of the archive; for a directory the sum of its files */
        InspectProcess *processes; /* in pstree order: parents before children */
        size_t n_processes;
        uint64_t mapped, dumped;   /* sums over the processes */
} CheckpointSummary;

CheckpointSummary *checkpoint_summary_free(CheckpointSummary *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CheckpointSummary *, checkpoint_summary_free);

/* The processes of CRIU images held in memory (pstree.img, core-, ids-, fdinfo-, mm-, pagemap-
 * and files.img; other files are ignored) into s. Images are untrusted: 0, or -EBADMSG with a
 * sentence naming the image in *reterr. */
int inspect_images(const ArchiveFile *files, size_t n_files, CheckpointSummary *s, char **reterr);

/* Whether inspect needs the checkpoint file name: cedana.json and the images inspect_images()
 * reads, never pages. */
bool inspect_wants_file(const char *name);

/* Reads the checkpoint in fd (a directory, or an archive of any of our formats, detected from
 * its content) with the rights of the calling process, without extracting anything and without
 * reading its pages' contents; inside a directory no symlink is followed, an archive is read
 * as archive_read_files() reads it. Returns 0, or an outcome with one sentence in *reterr:
 * NOT_A_CHECKPOINT, CHECKPOINT_CORRUPT, FORMAT_TOO_NEW, ACCESS_DENIED (a file of it the
 * caller may not read); or -errno. Digests are shown, not verified: restore verifies them. */
int checkpoint_inspect(int fd, CheckpointSummary **ret, char **reterr);
