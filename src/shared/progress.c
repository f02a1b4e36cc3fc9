/* SPDX-License-Identifier: Apache-2.0 */
/* Throttling, rates and the progress line: pure functions of what they are given, so the worker,
 * the daemon and the CLI agree and the tests can feed them any clock. */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format-util.h"
#include "macro.h"
#include "progress.h"

#define RATE_MIN_USEC (USEC_PER_SEC / 4)

uint64_t now_monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void set_phase(char *to, const char *phase) {
        (void) snprintf(to, PROGRESS_PHASE_MAX, "%s", phase);
}

bool progress_throttle_test(ProgressThrottle *t, const char *phase, uint64_t done, uint64_t total,
                            uint64_t now_usec) {
        /* No exception for done == total: a dump's total grows with done once the estimate is
         * passed, and every chunk would look like the last one. */
        bool new_phase = t->last_usec == 0 || strncmp(t->phase, phase, PROGRESS_PHASE_MAX - 1) != 0;
        if (!new_phase && now_usec < t->last_usec + PROGRESS_INTERVAL_USEC)
                return false;
        set_phase(t->phase, phase);
        t->last_usec = MAX(now_usec, (uint64_t) 1);
        t->last_done = done;
        return true;
}

uint64_t progress_rate_update(ProgressRate *r, const char *phase, uint64_t done, uint64_t now_usec) {
        if (r->start_usec == 0 || strncmp(r->phase, phase, PROGRESS_PHASE_MAX - 1) != 0) {
                set_phase(r->phase, phase);
                r->start_usec = MAX(now_usec, (uint64_t) 1);
                r->start_done = done;
                return 0;
        }
        if (now_usec < r->start_usec + RATE_MIN_USEC || done < r->start_done)
                return 0;
        return (uint64_t) ((unsigned __int128) (done - r->start_done) * USEC_PER_SEC / (now_usec - r->start_usec));
}

const char *format_progress(char *buf, size_t l, const char *phase, uint64_t done, uint64_t total, uint64_t rate) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], s[FORMAT_BYTES_MAX + 8] = "";
        if (rate > 0)
                (void) snprintf(s, sizeof(s), ", %s/s", format_bytes(c, sizeof(c), rate));
        if (total > 0) {
                uint64_t d = MIN(done, total);
                (void) snprintf(buf, l, "%s: %s of %s (%u%%)%s", phase, format_bytes(a, sizeof(a), d),
                                format_bytes(b, sizeof(b), total),
                                (unsigned) ((unsigned __int128) d * 100 / total), s);
        } else if (done > 0)
                (void) snprintf(buf, l, "%s: %s%s", phase, format_bytes(a, sizeof(a), done), s);
        else
                (void) snprintf(buf, l, "%s...", phase);
        return buf;
}
