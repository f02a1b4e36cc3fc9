/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for terminal keys in CRIU's spelling (what a checkpoint may name as its attached job's
 * terminal) and the attach client's terminal mode, for jobs with and without a pty. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"
#include "tty-util.h"

#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void test_tty_key_format(void) {
        char *k = NULL;
        g_assert_cmpint(tty_key_format(0x8803, 0x19, &k), ==, 0);
        g_assert_cmpstr(k, ==, "tty[8803:19]");
        g_assert_true(tty_key_is_valid(k));
        free(k);
}

static void test_tty_key_is_valid(void) {
        static const char *const good[] = { "tty[8803:19]", "tty[0:0]", "tty[ffffffffffffffff:1]" };
        static const char *const bad[] = {
                "", "tty", "tty[]", "tty[8803]", "tty[8803:19", "tty[8803:19]x", "tty[8803:-19]",
                "tty[ 8803:19]", "tty[+8803:19]", "tty[8803:0x19]", "TTY[8803:19]", "pipe:[123]",
                "tty[88G3:19]", "tty[8803:19]\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                g_assert_true(tty_key_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (tty_key_is_valid(bad[i]))
                        g_test_message("accepted: \"%s\"", bad[i]);
                g_assert_false(tty_key_is_valid(bad[i]));
        }
        g_assert_false(tty_key_is_valid(NULL));
}

/* A pty's master names its slave as the slave itself does. */
static void test_tty_key_from_master(void) {
        int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), unlock = 0;
        if (master < 0) {
                g_test_skip("no /dev/ptmx");
                return;
        }
        g_assert_cmpint(ioctl(master, TIOCSPTLCK, &unlock), ==, 0);
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(slave, >=, 0);
        char *a = NULL, *b = NULL;
        g_assert_cmpint(tty_key_from_fd(slave, &a), ==, 0);
        g_assert_cmpint(tty_key_from_master(master, &b), ==, 0);
        g_assert_cmpstr(a, ==, b);
        g_assert_true(tty_key_is_valid(a));
        int p[2];
        g_assert_cmpint(pipe(p), ==, 0);
        char *c = NULL;
        g_assert_cmpint(tty_key_from_fd(p[0], &c), ==, -ENOTTY);
        free(a);
        free(b);
        close(p[0]);
        close(p[1]);
        close(slave);
        close(master);
}

static struct termios cooked(void) {
        struct termios t = {
                .c_iflag = ICRNL | IXON | BRKINT,
                .c_oflag = OPOST | ONLCR,
                .c_cflag = CS8 | CREAD,
                .c_lflag = ISIG | ICANON | ECHO | ECHOE | IEXTEN,
        };
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 5;
        return t;
}

static void test_termios_with_pty(void) {
        /* The job's pty does everything: ours passes each byte on and draws nothing itself. */
        struct termios t = cooked();
        termios_make_attach(&t, true);
        g_assert_cmpuint(t.c_lflag & (ISIG | ICANON | ECHO | IEXTEN), ==, 0);
        g_assert_cmpuint(t.c_iflag & (ICRNL | IXON), ==, 0);
        g_assert_cmpuint(t.c_oflag & OPOST, ==, 0);
        g_assert_cmpuint(t.c_cc[VMIN], ==, 1);
        g_assert_cmpuint(t.c_cc[VTIME], ==, 0);
}

static void test_termios_with_pipes(void) {
        /* Nothing on the job's side echoes or ends lines: ours still does, but Ctrl-C and Ctrl-]
         * are bytes to read, not signals. */
        struct termios t = cooked();
        termios_make_attach(&t, false);
        g_assert_cmpuint(t.c_lflag & (ISIG | ICANON), ==, 0);
        g_assert_cmpuint(t.c_lflag & ECHO, ==, ECHO);
        g_assert_cmpuint(t.c_iflag & ICRNL, ==, ICRNL);
        g_assert_cmpuint(t.c_oflag & (OPOST | ONLCR), ==, OPOST | ONLCR);
        g_assert_cmpuint(t.c_cc[VMIN], ==, 1);
}

/* A pty's modes as `stty -g` spells them: read, validated, and set on another pty. */
static void test_tty_modes(void) {
        int a = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), b = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (a < 0 || b < 0) {
                g_test_skip("no /dev/ptmx");
                return;
        }
        struct termios t;
        g_assert_cmpint(tcgetattr(a, &t), ==, 0);
        t.c_lflag &= ~(tcflag_t) ECHO;
        t.c_cc[VINTR] = 0x14; /* ^T */
        g_assert_cmpint(tcsetattr(a, TCSANOW, &t), ==, 0);
        char *s = NULL;
        g_assert_cmpint(tty_modes_get(a, &s), ==, 0);
        g_assert_true(tty_modes_is_valid(s));
        g_assert_cmpint(tty_modes_set(b, s), ==, 0);
        struct termios u;
        g_assert_cmpint(tcgetattr(b, &u), ==, 0);
        g_assert_false(u.c_lflag & ECHO);
        g_assert_cmpint(u.c_cc[VINTR], ==, 0x14);
        free(s);
        static const char *const bad[] = {
                "", "500:5:bf:8a3b", "500:5:bf:8a3b:3", "x:5:bf:8a3b", "500::bf:8a3b", "-1:5:bf:8a3b",
                "500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:",
                "500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:100",
                "500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0",
                "123456789:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (tty_modes_is_valid(bad[i]))
                        g_test_message("accepted: \"%s\"", bad[i]);
                g_assert_false(tty_modes_is_valid(bad[i]));
                g_assert_cmpint(tty_modes_set(b, bad[i]), ==, -EINVAL);
        }
        g_assert_true(tty_modes_is_valid("500:5:bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a:0:12:f:17:16:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0"));
        close(a);
        close(b);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/tty-util/key-format", test_tty_key_format);
        g_test_add_func("/tty-util/key-is-valid", test_tty_key_is_valid);
        g_test_add_func("/tty-util/key-from-master", test_tty_key_from_master);
        g_test_add_func("/tty-util/termios-with-pty", test_termios_with_pty);
        g_test_add_func("/tty-util/termios-with-pipes", test_termios_with_pipes);
        g_test_add_func("/tty-util/modes", test_tty_modes);

        return g_test_run();
}
