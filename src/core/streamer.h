/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's image streamer, for a restore that reads the archive in place (`criu restore --stream`;
 * ENVIRONMENT.md, "CRIU image streaming"): CRIU asks for each image by name on
 * streamer-serve.sock in the images directory and reads it from a pipe it is given.
 *
 * What steers CRIU (every image but the page images) was extracted into the images directory
 * and verified before CRIU started, and is served from there. The page images, the bulk of a
 * checkpoint and nothing but the contents of the tasks' memory, come straight out of the archive
 * (or the checkpoint directory): decoded on one thread, hashed and written to CRIU's pipe on
 * another, so nothing of them is copied to disk or read twice. Their digests are known only once they have passed, so the restore's
 * pre-resume, where the tree is built but nothing of it has run, waits for streamer_verify(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "archive-index.h"
#include "compression.h"
#include "macro.h"
#include "metadata.h"

#define STREAMER_SOCKET "streamer-serve.sock"

/* Whether a restore takes this image from the archive while CRIU reads it (page images) rather
 * than from the images directory. */
bool streamer_takes(const char *name);

typedef struct StreamerParams {
        int images_dir_fd;   /* the socket goes here; the other images are here already */
        uid_t uid;           /* CRIU's: the socket is its, and only it may connect */
        gid_t gid;
        ArchiveSource source; /* the archive: a local file or an object */
        Compression format;
        /* A checkpoint directory instead of an archive: its page images, opened (as the owner,
         * who chose them), by index in metadata->files; NULL for an archive. */
        const int *page_fds;
        const CheckpointMetadata *metadata; /* verified, with every file's offset; outlives us */
} StreamerParams;

typedef struct Streamer Streamer;

/* Listens on STREAMER_SOCKET (CRIU must find it there when it starts) and serves one CRIU from a
 * thread of its own. */
int streamer_start(const StreamerParams *p, Streamer **ret);
/* Once CRIU has read what it needs (pre-resume): waits for the page images to pass, reads those
 * it did not ask for, and compares every digest. 0; -EBADMSG with *reterr naming the first that
 * does not match, or how the archive failed; -ENOLINK with the store's failure. Nothing is served
 * after it. */
int streamer_verify(Streamer *s, char **reterr);
/* Bytes of page images that went through the streamer. */
uint64_t streamer_bytes(const Streamer *s);
/* Stops serving (CRIU's pipes see EOF or EPIPE) and joins every thread. */
Streamer *streamer_free(Streamer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Streamer *, streamer_free);
