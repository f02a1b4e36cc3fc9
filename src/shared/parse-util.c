/* SPDX-License-Identifier: Apache-2.0 */
/* Strict number, boolean, size, duration and signal parsers: what strtoul() would silently
 * accept (whitespace, signs, "0x", trailing junk, wrap-around) is an error here. */

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

static bool ascii_isdigit(char c) {
        return c >= '0' && c <= '9';
}

/* Parses the leading run of decimal digits of s (at least one) into *ret and points *end
 * behind it. */
static int parse_digits(const char *s, uint64_t *ret, const char **end) {
        uint64_t v = 0;
        const char *p = s;

        if (!ascii_isdigit(*p))
                return -EINVAL;
        for (; ascii_isdigit(*p); p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        *end = p;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;
        if (*end != 0)
                return -EINVAL;
        if (ret)
                *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned *ret) {
        uint64_t v;
        int r;

        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        if (ret)
                *ret = (unsigned) v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        bool negative = false;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        if (*s == '-') {
                negative = true;
                s++;
        }
        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (negative ? v > (uint64_t) INT_MAX + 1 : v > (uint64_t) INT_MAX)
                return -ERANGE;
        if (ret)
                *ret = negative ? (int) (-(int64_t) v) : (int) v;
        return 0;
}

int parse_pid(const char *s, pid_t *ret) {
        unsigned v;
        int r;

        r = safe_atou(s, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -EINVAL;
        /* pid_t is signed; a value that does not fit would turn into a negative pid, which
         * kill() and friends read as a process group. */
        _Static_assert(sizeof(pid_t) == sizeof(int), "pid_t is not an int");
        if (v > (unsigned) INT_MAX)
                return -ERANGE;
        if (ret)
                *ret = (pid_t) v;
        return 0;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* Multiplies v by m and adds the fraction frac/frac_div of m (rounded down), failing with
 * -ERANGE instead of wrapping around. */
static int scale(uint64_t v, uint64_t frac, uint64_t frac_div, uint64_t m, uint64_t *ret) {
        uint64_t f;

        if (m != 0 && v > UINT64_MAX / m)
                return -ERANGE;
        v *= m;
        /* frac < frac_div <= 10^18 and m <= 2^40: the product needs more than 64 bits. */
        f = frac_div == 1 ? 0 : (uint64_t) (((unsigned __int128) frac * m) / frac_div);
        if (v > UINT64_MAX - f)
                return -ERANGE;
        *ret = v + f;
        return 0;
}

/* Parses "<digits>[.<digits>]" at the start of s; the fraction is returned as frac/frac_div
 * with at most 18 significant digits (the rest cannot matter at byte or µs resolution). */
static int parse_decimal(const char *s, uint64_t *ret_int, uint64_t *ret_frac, uint64_t *ret_div,
                         const char **end) {
        uint64_t v, frac = 0, div = 1;
        const char *p;
        int r;

        r = parse_digits(s, &v, &p);
        if (r < 0)
                return r;
        if (*p == '.') {
                p++;
                if (!ascii_isdigit(*p))
                        return -EINVAL;
                for (; ascii_isdigit(*p); p++)
                        if (div < UINT64_C(1000000000000000000)) {
                                frac = frac * 10 + (uint64_t) (*p - '0');
                                div *= 10;
                        }
        }
        *ret_int = v;
        *ret_frac = frac;
        *ret_div = div;
        *end = p;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char suffix;
                uint64_t factor;
        } units[] = {
                { 'K', UINT64_C(1) << 10 },
                { 'M', UINT64_C(1) << 20 },
                { 'G', UINT64_C(1) << 30 },
                { 'T', UINT64_C(1) << 40 },
        };
        uint64_t v, frac, div, factor = 1, result;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_decimal(s, &v, &frac, &div, &p);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (*p == units[i].suffix) {
                        factor = units[i].factor;
                        p++;
                        if (*p == 'i' && p[1] == 'B')
                                p += 2;
                        else if (*p == 'B')
                                p++;
                        break;
                }
        if (factor == 1) {
                if (*p == 'B')
                        p++;
                /* A fraction of a byte means a typo, not a request to round. */
                if (div != 1)
                        return -EINVAL;
        }
        if (*p != 0)
                return -EINVAL;

        r = scale(v, frac, div, factor, &result);
        if (r < 0)
                return r;
        if (ret)
                *ret = result;
        return 0;
}

int parse_sec(const char *s, uint64_t *ret) {
        uint64_t v, frac, div, result;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;
        if (streq(s, "infinity")) {
                if (ret)
                        *ret = UINT64_MAX;
                return 0;
        }
        r = parse_decimal(s, &v, &frac, &div, &p);
        if (r < 0)
                return r;
        if (*p != 0)
                return -EINVAL;
        r = scale(v, frac, div, USEC_PER_SEC, &result);
        if (r < 0)
                return r;
        /* UINT64_MAX means infinity; a finite value must not alias it. */
        if (result == UINT64_MAX)
                return -ERANGE;
        if (ret)
                *ret = result;
        return 0;
}

static const struct {
        const char *suffix;
        uint64_t usec;
} timespan_units[] = {
        /* Longest first where one is the other's prefix ("min" before "m", "ms" before "m"). */
        { "usec", 1 },
        { "us", 1 },
        { "msec", 1000 },
        { "ms", 1000 },
        { "seconds", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC },
        { "hour", 3600 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
        { "weeks", 604800 * USEC_PER_SEC },
        { "week", 604800 * USEC_PER_SEC },
        { "w", 604800 * USEC_PER_SEC },
};

int parse_timespan(const char *s, uint64_t *ret) {
        uint64_t total = 0;
        bool any = false;
        if (!s)
                return -EINVAL;
        const char *p = s;
        for (;;) {
                p += strspn(p, " ");
                if (*p == 0)
                        break;
                uint64_t v, frac, div, part;
                const char *end;
                int r = parse_decimal(p, &v, &frac, &div, &end);
                if (r < 0)
                        return r;
                end += strspn(end, " "); /* "5 min" as well as "5min" */
                size_t i, n = strcspn(end, " 0123456789.");
                for (i = 0; i < ELEMENTSOF(timespan_units); i++)
                        if (strlen(timespan_units[i].suffix) == n && strncmp(end, timespan_units[i].suffix, n) == 0)
                                break;
                /* A bare number is seconds, as in systemd's time spans. */
                uint64_t unit = n == 0 ? USEC_PER_SEC : i < ELEMENTSOF(timespan_units) ? timespan_units[i].usec : 0;
                if (unit == 0)
                        return -EINVAL;
                r = scale(v, frac, div, unit, &part);
                if (r < 0)
                        return r;
                if (part > UINT64_MAX - 1 - total)
                        return -ERANGE;
                total += part;
                any = true;
                p = end + n;
        }
        if (!any)
                return -EINVAL;
        if (ret)
                *ret = total;
        return 0;
}

static const char *const signal_table[] = {
        [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
        [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
        [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
        [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
        [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
        [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
        [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
        [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU",
        [SIGXFSZ] = "SIGXFSZ",     [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
        [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",
        [SIGSYS] = "SIGSYS",
};

/* "RTMIN", "RTMIN+3", "RTMAX-2": realtime signals have no fixed numbers (glibc reserves the
 * lowest ones for itself), so they are named relative to the ends of the range. */
static int parse_rt_signal(const char *s) {
        unsigned offset = 0;
        int base, sign;

        if (strncasecmp(s, "RTMIN", 5) == 0) {
                base = SIGRTMIN;
                sign = 1;
        } else if (strncasecmp(s, "RTMAX", 5) == 0) {
                base = SIGRTMAX;
                sign = -1;
        } else
                return -EINVAL;

        s += 5;
        if (*s != 0) {
                if (*s != (sign > 0 ? '+' : '-'))
                        return -EINVAL;
                if (safe_atou(s + 1, &offset) < 0 || offset > (unsigned) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
        }
        return base + sign * (int) offset;
}

int parse_signal(const char *s, int *ret) {
        unsigned n;
        int sig;

        if (!s)
                return -EINVAL;
        if (ascii_isdigit(*s)) {
                if (safe_atou(s, &n) < 0 || n < 1 || n > (unsigned) SIGRTMAX)
                        return -EINVAL;
                sig = (int) n;
                goto done;
        }

        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 1; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i] && strcasecmp(s, signal_table[i] + 3) == 0) {
                        sig = (int) i;
                        goto done;
                }
        /* Aliases kill(1) understands. */
        if (strcasecmp(s, "IOT") == 0)
                sig = SIGABRT;
        else if (strcasecmp(s, "CLD") == 0)
                sig = SIGCHLD;
        else if (strcasecmp(s, "POLL") == 0)
                sig = SIGIO;
        else {
                sig = parse_rt_signal(s);
                if (sig < 0)
                        return -EINVAL;
        }
done:
        if (ret)
                *ret = sig;
        return 0;
}

const char *signal_to_string(int sig) {
        static _Thread_local char buf[STRLEN("SIGRTMIN+") + 12];

        if (sig > 0 && (size_t) sig < ELEMENTSOF(signal_table) && signal_table[sig])
                return signal_table[sig];
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                if (sig == SIGRTMIN)
                        return "SIGRTMIN";
                (void) snprintf(buf, sizeof(buf), "SIGRTMIN+%i", sig - SIGRTMIN);
                return buf;
        }
        return NULL;
}
