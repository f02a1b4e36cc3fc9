/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU writes stats-dump and stats-restore into the images directory once it is done: one
 * stats_entry (stats.proto) after the service magic. */

#include <stdlib.h>
#include <string.h>

#include "criu-stats.h"
#include "fd-util.h"
#include "images.h"
#include "macro.h"
#include "stats.pb-c.h"

static int take_entry(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        CriuStats *s = userdata;
        if (index > 0)
                return -EBADMSG;
        StatsEntry *e = stats_entry__unpack(NULL, size, data);
        if (!e)
                return -EBADMSG;
        if (e->dump) {
                s->have_dump = true;
                s->freezing_usec = e->dump->freezing_time;
                s->frozen_usec = e->dump->frozen_time;
                s->memdump_usec = e->dump->memdump_time;
                s->memwrite_usec = e->dump->memwrite_time;
                s->pages_scanned = e->dump->pages_scanned;
                s->pages_skipped_parent = e->dump->pages_skipped_parent;
                s->pages_written = e->dump->pages_written;
        }
        if (e->restore) {
                s->have_restore = true;
                s->forking_usec = e->restore->forking_time;
                s->restore_usec = e->restore->restore_time;
                s->pages_compared = e->restore->pages_compared;
                s->pages_skipped_cow = e->restore->pages_skipped_cow;
                s->pages_restored = e->restore->has_pages_restored ? e->restore->pages_restored : 0;
        }
        stats_entry__free_unpacked(e, NULL);
        return 0;
}

int criu_stats_parse(const void *image, size_t n, CriuStats *ret) {
        *ret = (CriuStats) {};
        int r = image_for_each_entry("stats", image, n, STATS_MAGIC, "stats", take_entry, ret, NULL);
        if (r < 0) {
                *ret = (CriuStats) {};
                return -EBADMSG;
        }
        if (!ret->have_dump && !ret->have_restore)
                return -EBADMSG;
        return 0;
}

int criu_stats_read(int dir_fd, const char *name, CriuStats *ret) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = read_full_file_at(dir_fd, name, CRIU_STATS_IMAGE_MAX, &data, &n);
        if (r < 0)
                return r;
        return criu_stats_parse(data, n, ret);
}

size_t checkpoint_stats_pairs(const CheckpointStats *s, bool dump, uint64_t total_usec, StatsPair *ret) {
        size_t n = 0;
#define PAIR(k, v) (ret[n++] = (StatsPair) { (k), (v) })
        PAIR("total_usec", total_usec);
        if (dump) {
                if (s->criu.have_dump) {
                        PAIR("freezing_usec", s->criu.freezing_usec);
                        PAIR("frozen_usec", s->criu.frozen_usec);
                        PAIR("memdump_usec", s->criu.memdump_usec);
                        PAIR("memwrite_usec", s->criu.memwrite_usec);
                        PAIR("pages_scanned", s->criu.pages_scanned);
                        PAIR("pages_skipped_parent", s->criu.pages_skipped_parent);
                        PAIR("pages_written", s->criu.pages_written);
                }
                PAIR("criu_usec", s->criu_usec);
                PAIR("commit_usec", s->commit_usec);
                PAIR("image_bytes", s->image_bytes);
                PAIR("written_bytes", s->stored_bytes);
        } else {
                if (s->criu.have_restore) {
                        PAIR("forking_usec", s->criu.forking_usec);
                        PAIR("restore_usec", s->criu.restore_usec);
                        PAIR("pages_restored", s->criu.pages_restored);
                        PAIR("pages_compared", s->criu.pages_compared);
                        PAIR("pages_skipped_cow", s->criu.pages_skipped_cow);
                }
                PAIR("prepare_usec", s->prepare_usec);
                PAIR("criu_usec", s->criu_usec);
                PAIR("image_bytes", s->image_bytes);
                PAIR("read_bytes", s->stored_bytes);
                PAIR("streamed_bytes", s->streamed_bytes);
        }
#undef PAIR
        return n;
}
