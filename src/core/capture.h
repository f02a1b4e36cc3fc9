/* SPDX-License-Identifier: Apache-2.0 */
/* The other half of CRIU's image streamer, for a dump into an archive (`criu dump --stream`):
 * CRIU sends each image it writes through a pipe on streamer-capture.sock, and the images go
 * straight into the archive, hashed on the way, with no copy on disk.
 *
 * CRIU writes some images side by side (a page image and its pagemap): the archive takes one at
 * a time, the one that came first (the page image, which is the bulk) as it arrives; the others
 * wait in memory (beyond a few MiB, in an unlinked file of the staging directory) and follow as
 * soon as it ends. Every entry is begun with archive_stream_begin(), so cedana.json can say where
 * each one starts. */
#pragma once

#include "archive-stream.h"
#include "collector.h"
#include "macro.h"
#include "metadata.h"

#define CAPTURE_SOCKET "streamer-capture.sock"

typedef struct Capture Capture;

/* Listens on CAPTURE_SOCKET in staging_fd (owned by uid:gid, CRIU's), where CRIU must find it
 * when it starts, and takes in what one CRIU sends from a thread of its own. */
int capture_start(int staging_fd, uid_t uid, gid_t gid, ArchiveStream *stream, CollectorProgress progress,
                  void *userdata, Capture **ret);
/* Once CRIU has written every image (post-dump, while it waits for us): takes in what is still on
 * its way, ends the archive's entries and records every image (name, size, SHA-256) in m. -EIO
 * when CRIU never connected or an image did not arrive whole; other -errno as they came. */
int capture_finish(Capture *c, CheckpointMetadata *m);
Capture *capture_free(Capture *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Capture *, capture_free);
