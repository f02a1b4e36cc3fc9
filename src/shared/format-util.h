/* SPDX-License-Identifier: Apache-2.0 */
/* Human-readable sizes, durations and times for the CLI's tables. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FORMAT_BYTES_MAX 16
#define FORMAT_TIMESTAMP_MAX 64
#define FORMAT_TIMESPAN_MAX 64

/* All of these write into buf (truncating to l bytes, always terminated) and return buf. */

/* "0 B", "512 B", "610 KiB", "1.2 GiB" (one decimal below 10, none above; rounded to nearest). */
const char *format_bytes(char *buf, size_t l, uint64_t bytes);
/* Relative to now_usec (CLOCK_REALTIME, µs; 0: read the clock): "now" under a second, else the
 * largest whole unit, rounded down: "3 seconds ago", "1 minute ago", "2 hours ago", "5 days ago",
 * "2 weeks ago", "3 months ago" (30 days), "1 year ago" (365 days); "in 3 seconds" for the
 * future; "n/a" for 0 and UINT64_MAX. */
const char *format_timestamp_relative(char *buf, size_t l, uint64_t usec, uint64_t now_usec);
/* "2026-11-24 09:32:11 UTC"-style local time ("Tue 2026-11-24 09:32:11 CET"); "n/a" for 0. */
const char *format_timestamp(char *buf, size_t l, uint64_t usec);
/* "1.23s", "250ms", "3min 4s", "2h 5min", "3d 4h" (rounded down), "infinity" for UINT64_MAX. */
const char *format_timespan(char *buf, size_t l, uint64_t usec);
