/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes, timestamps and durations as the CLI prints them in tables: short, rounded, in IEC
 * units and words a user reads at a glance. */

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "format-util.h"
#include "macro.h"

const char *format_bytes(char *buf, size_t l, uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t i = 0;

        if (bytes < 1024) {
                (void) snprintf(buf, l, "%" PRIu64 " B", bytes);
                return buf;
        }

        while (i + 1 < ELEMENTSOF(units) && bytes >= (UINT64_C(1) << (10 * (i + 1))))
                i++;

        for (;; i++) {
                unsigned shift = 10 * (unsigned) i;
                uint64_t factor = UINT64_C(1) << shift;
                /* Rounded to the nearest tenth; 128-bit since bytes * 10 may not fit. */
                uint64_t tenths = (uint64_t) (((unsigned __int128) bytes * 10 + factor / 2) >> shift);

                if (tenths < 100) {
                        (void) snprintf(buf, l, "%" PRIu64 ".%" PRIu64 " %s", tenths / 10, tenths % 10,
                                        units[i]);
                        return buf;
                }

                uint64_t whole = (uint64_t) (((unsigned __int128) bytes + factor / 2) >> shift);
                /* 1048575 bytes are "1.0 MiB", not "1024 KiB". */
                if (whole >= 1024 && i + 1 < ELEMENTSOF(units))
                        continue;
                (void) snprintf(buf, l, "%" PRIu64 " %s", whole, units[i]);
                return buf;
        }
}

const char *format_timestamp_relative(char *buf, size_t l, uint64_t usec, uint64_t now_usec) {
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "year", 365 * 24 * 3600 * USEC_PER_SEC },
                { "month", 30 * 24 * 3600 * USEC_PER_SEC },
                { "week", 7 * 24 * 3600 * USEC_PER_SEC },
                { "day", 24 * 3600 * USEC_PER_SEC },
                { "hour", 3600 * USEC_PER_SEC },
                { "minute", 60 * USEC_PER_SEC },
                { "second", USEC_PER_SEC },
        };
        uint64_t d;
        bool future;

        if (usec == 0 || usec == UINT64_MAX) {
                (void) snprintf(buf, l, "n/a");
                return buf;
        }
        if (now_usec == 0) {
                struct timespec ts;
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                now_usec = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
        }

        future = usec > now_usec;
        d = future ? usec - now_usec : now_usec - usec;

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                /* Rounded down: something 90 s old is "1 minute ago", as clocks read. */
                uint64_t n = d / units[i].usec;
                if (n == 0)
                        continue;
                (void) snprintf(buf, l, "%s%" PRIu64 " %s%s%s", future ? "in " : "", n, units[i].name,
                                n == 1 ? "" : "s", future ? "" : " ago");
                return buf;
        }

        (void) snprintf(buf, l, "now");
        return buf;
}

const char *format_timestamp(char *buf, size_t l, uint64_t usec) {
        struct tm tm;
        time_t t;

        if (usec == 0 || usec == UINT64_MAX)
                goto na;
        t = (time_t) (usec / USEC_PER_SEC);
        if (!localtime_r(&t, &tm))
                goto na;
        if (strftime(buf, l, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                goto na;
        return buf;
na:
        (void) snprintf(buf, l, "n/a");
        return buf;
}

const char *format_timespan(char *buf, size_t l, uint64_t usec) {
        if (usec == UINT64_MAX) {
                (void) snprintf(buf, l, "infinity");
                return buf;
        }
        if (usec < USEC_PER_MSEC) {
                (void) snprintf(buf, l, "%" PRIu64 "us", usec);
                return buf;
        }
        if (usec < USEC_PER_SEC) {
                (void) snprintf(buf, l, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
                return buf;
        }
        if (usec < 60 * USEC_PER_SEC) {
                /* Two decimals, without trailing zeros: "1.23s", "1.5s", "2s". */
                uint64_t s = usec / USEC_PER_SEC, c = usec % USEC_PER_SEC / (10 * USEC_PER_MSEC);
                if (c == 0)
                        (void) snprintf(buf, l, "%" PRIu64 "s", s);
                else if (c % 10 == 0)
                        (void) snprintf(buf, l, "%" PRIu64 ".%" PRIu64 "s", s, c / 10);
                else
                        (void) snprintf(buf, l, "%" PRIu64 ".%02" PRIu64 "s", s, c);
                return buf;
        }

        /* Longer spans show the two largest units; seconds matter beside minutes, not beside
         * hours or days. */
        uint64_t sec = usec / USEC_PER_SEC;
        uint64_t days = sec / 86400, hours = sec % 86400 / 3600, min = sec % 3600 / 60, s = sec % 60;
        if (days > 0) {
                if (hours > 0)
                        (void) snprintf(buf, l, "%" PRIu64 "d %" PRIu64 "h", days, hours);
                else
                        (void) snprintf(buf, l, "%" PRIu64 "d", days);
        } else if (hours > 0) {
                if (min > 0)
                        (void) snprintf(buf, l, "%" PRIu64 "h %" PRIu64 "min", hours, min);
                else
                        (void) snprintf(buf, l, "%" PRIu64 "h", hours);
        } else if (s > 0)
                (void) snprintf(buf, l, "%" PRIu64 "min %" PRIu64 "s", min, s);
        else
                (void) snprintf(buf, l, "%" PRIu64 "min", min);
        return buf;
}
