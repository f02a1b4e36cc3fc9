/* SPDX-License-Identifier: Apache-2.0 */
/* What several unit tests need around their fixtures. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

/* Removes a fixture directory and everything below it, without following symlinks. */
static inline void rm_rf(const char *path) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;
        if (d) {
                while ((name = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(path, name, NULL);
                        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                                rm_rf(p);
                        else
                                g_assert_cmpint(g_unlink(p), ==, 0);
                }
                g_dir_close(d);
        }
        g_assert_cmpint(g_rmdir(path), ==, 0);
}
