/* SPDX-License-Identifier: Apache-2.0 */
/* Terminal keys in CRIU's spelling, and the attach client's terminal mode. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "macro.h"
#include "tty-util.h"

int tty_key_format(uint64_t rdev, uint64_t dev, char **ret) {
        return asprintf(ret, "tty[%" PRIx64 ":%" PRIx64 "]", rdev, dev) < 0 ? -ENOMEM : 0;
}

bool tty_key_is_valid(const char *s) {
        uint64_t rdev, dev;
        int end = 0;
        if (!s || sscanf(s, "tty[%" SCNx64 ":%" SCNx64 "]%n", &rdev, &dev, &end) != 2 || end <= 0 || s[end] != 0)
                return false;
        /* sscanf takes signs and spaces; CRIU writes neither. */
        for (const char *c = s + 4; c < s + end - 1; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == ':'))
                        return false;
        return true;
}

int tty_key_from_fd(int fd, char **ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISCHR(st.st_mode))
                return -ENOTTY;
        return tty_key_format((uint64_t) st.st_rdev, (uint64_t) st.st_dev, ret);
}

int tty_key_from_master(int master_fd, char **ret) {
        _cleanup_close_ int slave = ioctl(master_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (slave < 0)
                return negative_errno();
        return tty_key_from_fd(slave, ret);
}

int tty_modes_get(int fd, char **ret) {
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return negative_errno();
        char buf[64 + NCCS * 3], *p = buf;
        p += snprintf(p, sizeof(buf), "%lx:%lx:%lx:%lx", (unsigned long) t.c_iflag, (unsigned long) t.c_oflag,
                      (unsigned long) t.c_cflag, (unsigned long) t.c_lflag);
        for (size_t i = 0; i < NCCS; i++)
                p += snprintf(p, sizeof(buf) - (size_t) (p - buf), ":%x", (unsigned) t.c_cc[i]);
        char *s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Exactly 4 + NCCS lower-case hex fields, flags within 32 bits, control characters within 8. */
static int tty_modes_parse(const char *s, struct termios *t) {
        unsigned long v[4 + NCCS];
        const char *p = s;
        for (size_t n = 0; n < ELEMENTSOF(v); n++) {
                size_t l = p ? strspn(p, "0123456789abcdef") : 0;
                bool last = n + 1 == ELEMENTSOF(v);
                if (l == 0 || l > (n < 4 ? 8 : 2) || p[l] != (last ? 0 : ':'))
                        return -EINVAL;
                v[n] = strtoul(p, NULL, 16);
                p += l + !last;
        }
        if (t) {
                t->c_iflag = (tcflag_t) v[0];
                t->c_oflag = (tcflag_t) v[1];
                t->c_cflag = (tcflag_t) v[2];
                t->c_lflag = (tcflag_t) v[3];
                for (size_t i = 0; i < NCCS; i++)
                        t->c_cc[i] = (cc_t) v[4 + i];
        }
        return 0;
}

bool tty_modes_is_valid(const char *s) {
        return tty_modes_parse(s, NULL) == 0;
}

int tty_modes_set(int fd, const char *s) {
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return negative_errno();
        int r = tty_modes_parse(s, &t);
        if (r < 0)
                return r;
        return tcsetattr(fd, TCSANOW, &t) < 0 ? negative_errno() : 0;
}

void termios_make_attach(struct termios *t, bool job_has_tty) {
        cfmakeraw(t);
        if (!job_has_tty) {
                t->c_iflag |= ICRNL;
                t->c_lflag |= ECHO;
                t->c_oflag |= OPOST | ONLCR;
        }
        t->c_cc[VMIN] = 1;
        t->c_cc[VTIME] = 0;
}
