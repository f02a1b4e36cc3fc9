/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the strict parsers: every accepted form gives the exact value, and everything
 * strtoul() would let through (signs, whitespace, junk, overflow) is refused with its errno. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"
#include "parse-util.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>

static void assert_u64(const char *s, int expected_r, uint64_t expected) {
        uint64_t v = 4711;
        int r = safe_atou64(s, &v);

        g_assert_cmpint(r, ==, expected_r);
        g_assert_cmpuint(v, ==, expected_r == 0 ? expected : 4711);
}

static void test_safe_atou64(void) {
        assert_u64("0", 0, 0);
        assert_u64("1", 0, 1);
        assert_u64("007", 0, 7);
        assert_u64("18446744073709551615", 0, UINT64_MAX);
        assert_u64("18446744073709551616", -ERANGE, 0);
        assert_u64("99999999999999999999999", -ERANGE, 0);
        assert_u64("", -EINVAL, 0);
        assert_u64("-1", -EINVAL, 0);
        assert_u64("+1", -EINVAL, 0);
        assert_u64(" 1", -EINVAL, 0);
        assert_u64("1 ", -EINVAL, 0);
        assert_u64("1x", -EINVAL, 0);
        assert_u64("0x10", -EINVAL, 0);
        assert_u64("1.0", -EINVAL, 0);
        assert_u64(NULL, -EINVAL, 0);
        g_assert_cmpint(safe_atou64("5", NULL), ==, 0);
}

static void test_safe_atou(void) {
        unsigned u = 0;

        g_assert_cmpint(safe_atou("4294967295", &u), ==, 0);
        g_assert_cmpuint(u, ==, UINT_MAX);
        g_assert_cmpint(safe_atou("4294967296", &u), ==, -ERANGE);
        g_assert_cmpuint(u, ==, UINT_MAX);
        g_assert_cmpint(safe_atou("12", &u), ==, 0);
        g_assert_cmpuint(u, ==, 12);
        g_assert_cmpint(safe_atou("-0", &u), ==, -EINVAL);
        g_assert_cmpint(safe_atou("", &u), ==, -EINVAL);
}

static void test_safe_atoi(void) {
        int i = 0;

        g_assert_cmpint(safe_atoi("2147483647", &i), ==, 0);
        g_assert_cmpint(i, ==, INT_MAX);
        g_assert_cmpint(safe_atoi("-2147483648", &i), ==, 0);
        g_assert_cmpint(i, ==, INT_MIN);
        g_assert_cmpint(safe_atoi("-0", &i), ==, 0);
        g_assert_cmpint(i, ==, 0);
        g_assert_cmpint(safe_atoi("-17", &i), ==, 0);
        g_assert_cmpint(i, ==, -17);
        g_assert_cmpint(safe_atoi("2147483648", &i), ==, -ERANGE);
        g_assert_cmpint(safe_atoi("-2147483649", &i), ==, -ERANGE);
        g_assert_cmpint(i, ==, -17);
        g_assert_cmpint(safe_atoi("-", &i), ==, -EINVAL);
        g_assert_cmpint(safe_atoi("--1", &i), ==, -EINVAL);
        g_assert_cmpint(safe_atoi("+1", &i), ==, -EINVAL);
        g_assert_cmpint(safe_atoi("- 1", &i), ==, -EINVAL);
        g_assert_cmpint(safe_atoi("1-", &i), ==, -EINVAL);
}

static void test_parse_pid(void) {
        pid_t p = 0;

        g_assert_cmpint(parse_pid("1", &p), ==, 0);
        g_assert_cmpint(p, ==, 1);
        g_assert_cmpint(parse_pid("4194304", &p), ==, 0);
        g_assert_cmpint(p, ==, 4194304);
        g_assert_cmpint(parse_pid("2147483647", &p), ==, 0);
        g_assert_cmpint(p, ==, INT_MAX);
        g_assert_cmpint(parse_pid("2147483648", &p), ==, -ERANGE);
        g_assert_cmpint(parse_pid("4294967295", &p), ==, -ERANGE);
        g_assert_cmpint(parse_pid("0", &p), ==, -EINVAL);
        g_assert_cmpint(parse_pid("-1", &p), ==, -EINVAL);
        g_assert_cmpint(parse_pid("1a", &p), ==, -EINVAL);
        g_assert_cmpint(parse_pid("", &p), ==, -EINVAL);
        g_assert_cmpint(p, ==, INT_MAX);
}

static void test_parse_boolean(void) {
        static const char *const yes[] = { "1", "yes", "YES", "true", "True", "on", "ON", "y", "t" };
        static const char *const no[] = { "0", "no", "No", "false", "FALSE", "off", "Off", "n", "f" };
        static const char *const bad[] = { "", "2", "yess", "of", "onn", " yes", "yes ", "-1", "enable" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                g_assert_cmpint(parse_boolean(yes[i]), ==, 1);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                g_assert_cmpint(parse_boolean(no[i]), ==, 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                g_assert_cmpint(parse_boolean(bad[i]), ==, -EINVAL);
        g_assert_cmpint(parse_boolean(NULL), ==, -EINVAL);
}

static void assert_size(const char *s, int expected_r, uint64_t expected) {
        uint64_t v = 4711;
        int r = parse_size(s, &v);

        if (r != expected_r)
                g_test_message("parse_size(\"%s\") = %d", s, r);
        g_assert_cmpint(r, ==, expected_r);
        g_assert_cmpuint(v, ==, expected_r == 0 ? expected : 4711);
}

static void test_parse_size(void) {
        assert_size("0", 0, 0);
        assert_size("123", 0, 123);
        assert_size("123B", 0, 123);
        assert_size("4K", 0, 4096);
        assert_size("4KB", 0, 4096);
        assert_size("4KiB", 0, 4096);
        assert_size("10M", 0, UINT64_C(10) << 20);
        assert_size("10MiB", 0, UINT64_C(10) << 20);
        assert_size("2G", 0, UINT64_C(2) << 30);
        assert_size("1T", 0, UINT64_C(1) << 40);
        assert_size("1.5K", 0, 1536);
        assert_size("0.5G", 0, UINT64_C(512) << 20);
        assert_size("1.0009765625K", 0, 1025);
        assert_size("2.9999B", -EINVAL, 0);
        assert_size("1.5", -EINVAL, 0);
        assert_size("16777215T", 0, UINT64_C(16777215) << 40);
        assert_size("16777216T", -ERANGE, 0);
        assert_size("18446744073709551615", 0, UINT64_MAX);
        assert_size("18446744073709551616", -ERANGE, 0);
        assert_size("", -EINVAL, 0);
        assert_size("K", -EINVAL, 0);
        assert_size("-1K", -EINVAL, 0);
        assert_size("1 K", -EINVAL, 0);
        assert_size(" 1K", -EINVAL, 0);
        assert_size("1k", -EINVAL, 0);
        assert_size("1KK", -EINVAL, 0);
        assert_size("1KiBx", -EINVAL, 0);
        assert_size("1iB", -EINVAL, 0);
        assert_size("1P", -EINVAL, 0);
        assert_size("1.K", -EINVAL, 0);
        assert_size(".5K", -EINVAL, 0);
        assert_size(NULL, -EINVAL, 0);
}

static void assert_timespan(const char *s, int expected_r, uint64_t expected) {
        uint64_t v = 0;
        int r = parse_timespan(s, &v);
        if (r != expected_r || (r == 0 && v != expected))
                g_test_message("parse_timespan(\"%s\") = %d, %llu", s, r, (unsigned long long) v);
        g_assert_cmpint(r, ==, expected_r);
        if (r == 0)
                g_assert_cmpuint(v, ==, expected);
}

static void test_parse_timespan(void) {
        const uint64_t S = 1000000;
        assert_timespan("90", 0, 90 * S);
        assert_timespan("90s", 0, 90 * S);
        assert_timespan("15min", 0, 900 * S);
        assert_timespan("15m", 0, 900 * S);
        assert_timespan("1h 30min", 0, 5400 * S);
        assert_timespan("1h30min", 0, 5400 * S);
        assert_timespan("1.5h", 0, 5400 * S);
        assert_timespan("2d", 0, 172800 * S);
        assert_timespan("1w", 0, 604800 * S);
        assert_timespan("250ms", 0, 250000);
        assert_timespan("3 seconds", 0, 3 * S);
        assert_timespan("", -EINVAL, 0);
        assert_timespan("  ", -EINVAL, 0);
        assert_timespan("5 parsecs", -EINVAL, 0);
        assert_timespan("min", -EINVAL, 0);
        assert_timespan("-5min", -EINVAL, 0);
        assert_timespan("99999999999999999999d", -ERANGE, 0);
}

static void assert_sec(const char *s, int expected_r, uint64_t expected) {
        uint64_t v = 4711;
        int r = parse_sec(s, &v);

        if (r != expected_r)
                g_test_message("parse_sec(\"%s\") = %d", s, r);
        g_assert_cmpint(r, ==, expected_r);
        g_assert_cmpuint(v, ==, expected_r == 0 ? expected : 4711);
}

static void test_parse_sec(void) {
        assert_sec("0", 0, 0);
        assert_sec("30", 0, 30 * USEC_PER_SEC);
        assert_sec("1.5", 0, 1500000);
        assert_sec("0.000001", 0, 1);
        assert_sec("0.0000019", 0, 1);
        assert_sec("2.25", 0, 2250000);
        assert_sec("infinity", 0, UINT64_MAX);
        assert_sec("18446744073709", 0, UINT64_C(18446744073709) * USEC_PER_SEC);
        assert_sec("18446744073710", -ERANGE, 0);
        assert_sec("", -EINVAL, 0);
        assert_sec("-1", -EINVAL, 0);
        assert_sec("1s", -EINVAL, 0);
        assert_sec("1.", -EINVAL, 0);
        assert_sec(".5", -EINVAL, 0);
        assert_sec("1.5.0", -EINVAL, 0);
        assert_sec("Infinity", -EINVAL, 0);
        assert_sec("inf", -EINVAL, 0);
        assert_sec(" 1", -EINVAL, 0);
        assert_sec(NULL, -EINVAL, 0);
}

static void assert_signal(const char *s, int expected) {
        int sig = -1;

        g_assert_cmpint(parse_signal(s, &sig), ==, 0);
        g_assert_cmpint(sig, ==, expected);
}

static void test_parse_signal(void) {
        static const char *const bad[] = {
                "", "0", "-9", "SIG", "FOO", "SIGFOO", "TERM ", " TERM", "9x", "65", "RTMIN-1",
                "RTMAX+1", "RTMIN+", "RTMIN+99", "SIGSIGTERM",
        };
        int sig = 4711;

        assert_signal("TERM", SIGTERM);
        assert_signal("SIGTERM", SIGTERM);
        assert_signal("sigkill", SIGKILL);
        assert_signal("Kill", SIGKILL);
        assert_signal("9", SIGKILL);
        assert_signal("1", SIGHUP);
        assert_signal("HUP", SIGHUP);
        assert_signal("USR1", SIGUSR1);
        assert_signal("SIGCHLD", SIGCHLD);
        assert_signal("CLD", SIGCHLD);
        assert_signal("IOT", SIGABRT);
        assert_signal("RTMIN", SIGRTMIN);
        assert_signal("SIGRTMIN+2", SIGRTMIN + 2);
        assert_signal("RTMAX", SIGRTMAX);
        assert_signal("RTMAX-1", SIGRTMAX - 1);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                g_assert_cmpint(parse_signal(bad[i], &sig), ==, -EINVAL);
                g_assert_cmpint(sig, ==, 4711);
        }
        g_assert_cmpint(parse_signal(NULL, &sig), ==, -EINVAL);
}

static void test_signal_to_string(void) {
        g_assert_cmpstr(signal_to_string(SIGTERM), ==, "SIGTERM");
        g_assert_cmpstr(signal_to_string(SIGKILL), ==, "SIGKILL");
        g_assert_cmpstr(signal_to_string(SIGSYS), ==, "SIGSYS");
        g_assert_cmpstr(signal_to_string(SIGRTMIN), ==, "SIGRTMIN");
        g_assert_cmpstr(signal_to_string(SIGRTMIN + 3), ==, "SIGRTMIN+3");
        g_assert_null(signal_to_string(0));
        g_assert_null(signal_to_string(-1));
        g_assert_null(signal_to_string(SIGRTMAX + 1));

        /* Every name it prints parses back to the same number. */
        for (int s = 1; s <= SIGRTMAX; s++) {
                const char *name = signal_to_string(s);
                int back = -1;

                if (!name)
                        continue;
                g_assert_cmpint(parse_signal(name, &back), ==, 0);
                g_assert_cmpint(back, ==, s);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/parse-util/safe-atou64", test_safe_atou64);
        g_test_add_func("/parse-util/safe-atou", test_safe_atou);
        g_test_add_func("/parse-util/safe-atoi", test_safe_atoi);
        g_test_add_func("/parse-util/parse-pid", test_parse_pid);
        g_test_add_func("/parse-util/parse-boolean", test_parse_boolean);
        g_test_add_func("/parse-util/parse-size", test_parse_size);
        g_test_add_func("/parse-util/parse-sec", test_parse_sec);
        g_test_add_func("/parse-util/parse-timespan", test_parse_timespan);
        g_test_add_func("/parse-util/parse-signal", test_parse_signal);
        g_test_add_func("/parse-util/signal-to-string", test_signal_to_string);

        return g_test_run();
}
