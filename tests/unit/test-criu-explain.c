/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the translations of CRIU's error lines: each known line (as CRIU 4.2 writes it)
 * becomes a sentence naming what to do, with its numbers; anything else is left to CRIU's words. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "criu-explain.h"
#include "macro.h"

#include <glib.h>
#include <stdlib.h>

static void test_known(void) {
        static const struct {
                const char *line;
                const char *want[2];
        } cases[] = {
                { "Can't fork for 596: File exists", { "PID 596", "end that process" } },
                { "tty: Don't have tty to inherit session from, aborting", { "shell job", "--no-server --shell-job" } },
                { "The root process 4242 is not a session leader. Consider using --shell-job option",
                  { "Process 4242", "--shell-job" } },
                { "Found dangling tty with sid 77 pgid 80 (pts) on peer fd 0.", { "session 77", "--shell-job" } },
                { "unix: External socket is used. Consider using --ext-unix-sk option.",
                  { "UNIX socket", "--external unix[" } },
                { "External socket is used. Consider using --ext-unix-sk option.", { "UNIX socket", "--external unix[" } },
                { "291 was killed by 9 unexpectedly: Killed", { "Process 291 of the tree ended", "no checkpoint" } },
                { "300 exited with 1 unexpectedly", { "Process 300 of the tree ended", "no checkpoint" } },
                { "Some file locks are hold by dumping tasks! You can try --file-locks to dump them.",
                  { "holds file locks", "--file-locks" } },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = criu_explain(cases[i].line);
                g_test_message("%s -> %s", cases[i].line, s);
                g_assert_nonnull(s);
                for (size_t k = 0; k < 2; k++)
                        g_assert_nonnull(strstr(s, cases[i].want[k]));
                g_assert_true(s[strlen(s) - 1] == '.');
                free(s);
        }
}

static void test_unknown(void) {
        static const char *const lines[] = { NULL, "", "Can't fork for 12: Resource temporarily unavailable",
                                             "Can't fork for x: File exists", "Found dangling tty",
                                             "Something else went wrong" };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                g_assert_null(criu_explain(lines[i]));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/criu-explain/known", test_known);
        g_test_add_func("/criu-explain/unknown", test_unknown);
        return g_test_run();
}
