/* SPDX-License-Identifier: Apache-2.0 */
/* Progress of a long dump or restore: how often it is worth telling (at most ten times a second,
 * and at every change of phase), how fast it goes, and the one line the CLI draws for it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define PROGRESS_PHASE_MAX 32
/* Progress signals per second at most, per operation. */
#define PROGRESS_INTERVAL_USEC (100 * USEC_PER_SEC / 1000)

typedef struct ProgressThrottle {
        char phase[PROGRESS_PHASE_MAX];
        uint64_t last_usec; /* when the last report passed; 0: none yet */
        uint64_t last_done;
} ProgressThrottle;

/* Whether a report (phase, done) at now_usec (CLOCK_MONOTONIC) should be passed on: the first and
 * a new phase always, others once per PROGRESS_INTERVAL_USEC. A report that passes is
 * remembered. */
bool progress_throttle_test(ProgressThrottle *t, const char *phase, uint64_t done, uint64_t total,
                            uint64_t now_usec);

typedef struct ProgressRate {
        char phase[PROGRESS_PHASE_MAX];
        uint64_t start_usec, start_done; /* where the phase was when first seen */
} ProgressRate;

/* Bytes per second of phase, averaged since it was first seen (a new phase starts over); 0 until
 * a quarter of a second has passed, or when done went backwards. */
uint64_t progress_rate_update(ProgressRate *r, const char *phase, uint64_t done, uint64_t now_usec);

/* CLOCK_MONOTONIC in µs. */
uint64_t now_monotonic_usec(void);

#define FORMAT_PROGRESS_MAX 128
/* "dumping: 412 MiB of 768 MiB (53%), 205 MiB/s"; "dumping: 412 MiB, 205 MiB/s" without a total;
 * "recording..." with neither bytes nor total. A done beyond total counts as total. rate 0: none
 * shown. */
const char *format_progress(char *buf, size_t l, const char *phase, uint64_t done, uint64_t total, uint64_t rate);
