/* SPDX-License-Identifier: Apache-2.0 */
/* Terminal keys in CRIU's spelling, and the attach client's terminal mode. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
