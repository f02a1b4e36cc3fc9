/* SPDX-License-Identifier: Apache-2.0 */
/* Follows the image files CRIU writes into a staging directory while it writes them: every
 * byte is hashed (SHA-256) once and, for archives, compressed into the archive right away, so
 * digests and compression overlap with CRIU's own work. */
#pragma once

#include "archive-stream.h"
#include "macro.h"
#include "metadata.h"

typedef struct Collector Collector;

/* Called with the bytes of images taken in so far, after each chunk, from the collector's thread
 * (and from collector_finish()'s); a negative return (-ECANCELED) stops the collector with it. */
typedef int (*CollectorProgress)(uint64_t bytes, void *userdata);

/* Starts a thread that watches staging_fd (inotify). stream: where the files go, or NULL for
 * a directory checkpoint (digests only). The collector does not own either. progress may be NULL. */
int collector_start(int staging_fd, ArchiveStream *stream, CollectorProgress progress, void *userdata,
                    Collector **ret);
/* To be called once CRIU has closed all images: takes in what is left, stops the thread and
 * records every file (name, size, SHA-256) in m. -EAGAIN when a file changed after it was taken
 * in (the caller then writes the checkpoint the slow way); other -errno (-ENOSPC) as they came. */
int collector_finish(Collector *c, CheckpointMetadata *m);
/* Stops the thread if it still runs. */
Collector *collector_free(Collector *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Collector *, collector_free);
