/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's own statistics of a dump or restore (its stats-dump and stats-restore images: how long
 * the tasks were frozen, how many pages were written), read with protobuf-c, and the figures a
 * dump or restore adds to them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* criu/include/magic.h */
#define STATS_MAGIC 0x57093306
#define CRIU_STATS_DUMP "stats-dump"
#define CRIU_STATS_RESTORE "stats-restore"
/* A stats image is a few dozen bytes. */
#define CRIU_STATS_IMAGE_MAX 4096

typedef struct CriuStats {
        bool have_dump, have_restore;
        /* dump: µs; CRIU's own timers */
        uint64_t freezing_usec, frozen_usec, memdump_usec, memwrite_usec;
        uint64_t pages_scanned, pages_skipped_parent, pages_written;
        /* restore */
        uint64_t forking_usec, restore_usec;
        uint64_t pages_compared, pages_skipped_cow, pages_restored;
} CriuStats;

/* What one dump or restore measured, beside CRIU's figures. */
typedef struct CheckpointStats {
        CriuStats criu;
        uint64_t image_bytes;   /* CRIU's images, uncompressed */
        uint64_t stored_bytes;  /* the checkpoint as written (dump) or read (restore) */
        uint64_t criu_usec;     /* CRIU's run, from start to exit */
        uint64_t commit_usec;   /* dump: digests, compression, fsync and publication, tasks frozen */
        uint64_t prepare_usec;  /* restore: reading, verifying and extracting before CRIU */
        uint64_t streamed_bytes; /* restore: page images CRIU read straight from the archive */
} CheckpointStats;

/* Decodes a stats image (n bytes, untrusted) into *ret, which is zeroed first. 0, or -EBADMSG
 * when it is not one. */
int criu_stats_parse(const void *image, size_t n, CriuStats *ret);
/* Reads name (CRIU_STATS_DUMP or CRIU_STATS_RESTORE) below dir_fd. -ENOENT when CRIU wrote none. */
int criu_stats_read(int dir_fd, const char *name, CriuStats *ret);

typedef struct StatsPair {
        const char *key; /* "frozen_usec", as on the bus, in --json and (upper case) in the journal */
        uint64_t value;
} StatsPair;

#define STATS_PAIRS_MAX 16

/* s as key/value pairs, total_usec first (the operation's wall time as the daemon saw it), then
 * CRIU's figures where it wrote them, then ours. A dump's: total_usec, freezing_usec,
 * frozen_usec, memdump_usec, memwrite_usec, pages_scanned, pages_skipped_parent, pages_written,
 * criu_usec, commit_usec, image_bytes, written_bytes. A restore's: total_usec, forking_usec,
 * restore_usec, pages_restored, pages_compared, pages_skipped_cow, prepare_usec, criu_usec,
 * image_bytes, read_bytes, streamed_bytes. Returns how many were written to ret (room for STATS_PAIRS_MAX). */
size_t checkpoint_stats_pairs(const CheckpointStats *s, bool dump, uint64_t total_usec, StatsPair *ret);
