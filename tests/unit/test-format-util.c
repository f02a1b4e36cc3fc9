/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the CLI's human-readable sizes, times and durations: exact strings at the unit
 * boundaries, rounding, singular/plural, and the "n/a" cases. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "format-util.h"
#include "macro.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC USEC_PER_SEC
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

static void assert_bytes(uint64_t bytes, const char *expected) {
        char buf[FORMAT_BYTES_MAX];

        g_assert_cmpstr(format_bytes(buf, sizeof(buf), bytes), ==, expected);
}

static void test_format_bytes(void) {
        char small[4];

        assert_bytes(0, "0 B");
        assert_bytes(1, "1 B");
        assert_bytes(512, "512 B");
        assert_bytes(1023, "1023 B");
        assert_bytes(1024, "1.0 KiB");
        assert_bytes(1536, "1.5 KiB");
        assert_bytes(10188, "9.9 KiB");  /* 9.949 */
        assert_bytes(10189, "10 KiB");   /* 9.950 rounds up, and loses its decimal */
        assert_bytes(624640, "610 KiB");
        assert_bytes(1048575, "1.0 MiB"); /* not "1024 KiB" */
        assert_bytes(UINT64_C(1288490189), "1.2 GiB");
        assert_bytes(UINT64_C(5) << 30, "5.0 GiB");
        assert_bytes(UINT64_C(100) << 30, "100 GiB");
        assert_bytes(UINT64_C(1) << 40, "1.0 TiB");
        assert_bytes(UINT64_C(2048) << 40, "2048 TiB");
        assert_bytes(UINT64_MAX, "16777216 TiB");

        /* Truncated, terminated, and still the caller's buffer. */
        g_assert_true(format_bytes(small, sizeof(small), 1536) == small);
        g_assert_cmpstr(small, ==, "1.5");
}

static void assert_relative(uint64_t t, uint64_t now, const char *expected) {
        char buf[FORMAT_TIMESTAMP_MAX];

        g_assert_cmpstr(format_timestamp_relative(buf, sizeof(buf), t, now), ==, expected);
}

static void test_format_timestamp_relative(void) {
        const uint64_t now = UINT64_C(1764000000) * SEC;

        assert_relative(0, now, "n/a");
        assert_relative(UINT64_MAX, now, "n/a");
        assert_relative(now, now, "now");
        assert_relative(now - 999999, now, "now");
        assert_relative(now + 999999, now, "now");
        assert_relative(now - 1 * SEC, now, "1 second ago");
        assert_relative(now - 3 * SEC, now, "3 seconds ago");
        assert_relative(now - 59 * SEC - 999999, now, "59 seconds ago");
        assert_relative(now - 60 * SEC, now, "1 minute ago");
        assert_relative(now - 119 * SEC, now, "1 minute ago");
        assert_relative(now - 5 * MINUTE, now, "5 minutes ago");
        assert_relative(now - HOUR, now, "1 hour ago");
        assert_relative(now - 2 * HOUR - 59 * MINUTE, now, "2 hours ago");
        assert_relative(now - DAY, now, "1 day ago");
        assert_relative(now - 3 * DAY, now, "3 days ago");
        assert_relative(now - 6 * DAY - 23 * HOUR, now, "6 days ago");
        assert_relative(now - 7 * DAY, now, "1 week ago");
        assert_relative(now - 14 * DAY, now, "2 weeks ago");
        assert_relative(now - 29 * DAY, now, "4 weeks ago");
        assert_relative(now - 30 * DAY, now, "1 month ago");
        assert_relative(now - 95 * DAY, now, "3 months ago");
        assert_relative(now - 365 * DAY, now, "1 year ago");
        assert_relative(now - 3 * 365 * DAY, now, "3 years ago");
        assert_relative(now + 1 * SEC, now, "in 1 second");
        assert_relative(now + 3 * SEC, now, "in 3 seconds");
        assert_relative(now + 1 * MINUTE, now, "in 1 minute");
        assert_relative(now + 2 * HOUR, now, "in 2 hours");
        assert_relative(now + 8 * DAY, now, "in 1 week");

        /* now_usec 0 reads the clock: something from 1971 is decades old. */
        char buf[FORMAT_TIMESTAMP_MAX];
        format_timestamp_relative(buf, sizeof(buf), 365 * DAY, 0);
        g_assert_true(g_str_has_suffix(buf, " years ago"));
        g_assert_cmpint(atoi(buf), >=, 50);
}

static void with_tz(const char *tz) {
        g_assert_cmpint(setenv("TZ", tz, 1), ==, 0);
        tzset();
}

static void test_format_timestamp(void) {
        char buf[FORMAT_TIMESTAMP_MAX], small[8];
        const char *old = getenv("TZ");
        char *saved = old ? strdup(old) : NULL;

        with_tz("UTC");
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), UINT64_C(1764000000) * SEC), ==,
                        "Mon 2025-11-24 16:00:00 UTC");
        /* Sub-second parts are dropped, not rounded. */
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), UINT64_C(1764000000) * SEC + 999999), ==,
                        "Mon 2025-11-24 16:00:00 UTC");

        /* A POSIX TZ rule, so that the test needs no tzdata. */
        with_tz("CET-1CEST,M3.5.0,M10.5.0/3");
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), UINT64_C(1764000000) * SEC), ==,
                        "Mon 2025-11-24 17:00:00 CET");
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), UINT64_C(1750000000) * SEC), ==,
                        "Sun 2025-06-15 17:06:40 CEST");

        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), 0), ==, "n/a");
        g_assert_cmpstr(format_timestamp(buf, sizeof(buf), UINT64_MAX), ==, "n/a");
        /* Too small for the timestamp: not a half-written date. */
        g_assert_cmpstr(format_timestamp(small, sizeof(small), UINT64_C(1764000000) * SEC), ==, "n/a");

        if (saved)
                with_tz(saved);
        else {
                unsetenv("TZ");
                tzset();
        }
        free(saved);
}

static void assert_timespan(uint64_t usec, const char *expected) {
        char buf[FORMAT_TIMESTAMP_MAX];

        g_assert_cmpstr(format_timespan(buf, sizeof(buf), usec), ==, expected);
}

static void test_format_timespan(void) {
        assert_timespan(0, "0us");
        assert_timespan(999, "999us");
        assert_timespan(1000, "1ms");
        assert_timespan(250 * USEC_PER_MSEC, "250ms");
        assert_timespan(999999, "999ms");
        assert_timespan(SEC, "1s");
        assert_timespan(1230000, "1.23s");
        assert_timespan(1500000, "1.5s");
        assert_timespan(1050000, "1.05s");
        assert_timespan(1009999, "1s");
        assert_timespan(59 * SEC + 990000, "59.99s");
        assert_timespan(MINUTE, "1min");
        assert_timespan(3 * MINUTE + 4 * SEC, "3min 4s");
        assert_timespan(59 * MINUTE + 59 * SEC, "59min 59s");
        assert_timespan(HOUR, "1h");
        assert_timespan(2 * HOUR + 5 * MINUTE + 30 * SEC, "2h 5min");
        assert_timespan(DAY, "1d");
        assert_timespan(3 * DAY + 4 * HOUR + 59 * MINUTE, "3d 4h");
        assert_timespan(400 * DAY, "400d");
        assert_timespan(UINT64_MAX, "infinity");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/format-util/bytes", test_format_bytes);
        g_test_add_func("/format-util/timestamp-relative", test_format_timestamp_relative);
        g_test_add_func("/format-util/timestamp", test_format_timestamp);
        g_test_add_func("/format-util/timespan", test_format_timespan);

        return g_test_run();
}
