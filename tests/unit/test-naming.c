/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for job and checkpoint name rules and the job name generator: generated names have
 * the documented shape, are always valid, and differ between calls. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"
#include "naming.h"

#include <glib.h>
#include <string.h>

static void test_job_name_is_valid(void) {
        static const char *const good[] = {
                "a", "Z", "0", "famous_hopper7", "web-1", "my.job", "A_b-c.d9",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
        };
        static const char *const bad[] = {
                "", "_job", "-job", ".job", ".", "..", "a..b", "a/b", "/a", "a b", " a", "a\t",
                "a\nb", "a\\x2db", "a:b", "a@b", "a%b", "caf\xc3\xa9", "a\x7f",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                if (!job_name_is_valid(good[i]))
                        g_test_message("rejected: \"%s\"", good[i]);
                g_assert_true(job_name_is_valid(good[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (job_name_is_valid(bad[i]))
                        g_test_message("accepted: \"%s\"", bad[i]);
                g_assert_false(job_name_is_valid(bad[i]));
        }
        g_assert_false(job_name_is_valid(NULL));
}

static void test_checkpoint_name_is_valid(void) {
        char name[202];

        g_assert_true(checkpoint_name_is_valid("dump-process-1234-1764000000"));
        g_assert_true(checkpoint_name_is_valid("famous_hopper7.v2"));
        g_assert_true(checkpoint_name_is_valid("X"));
        g_assert_false(checkpoint_name_is_valid(""));
        g_assert_false(checkpoint_name_is_valid(NULL));
        g_assert_false(checkpoint_name_is_valid(".hidden"));
        g_assert_false(checkpoint_name_is_valid("-rf"));
        g_assert_false(checkpoint_name_is_valid("_x"));
        g_assert_false(checkpoint_name_is_valid("a..b"));
        g_assert_false(checkpoint_name_is_valid("a/b"));
        g_assert_false(checkpoint_name_is_valid("a b"));
        g_assert_false(checkpoint_name_is_valid("a\\b"));

        memset(name, 'c', 200);
        name[200] = 0;
        g_assert_true(checkpoint_name_is_valid(name));
        name[200] = 'c';
        name[201] = 0;
        g_assert_false(checkpoint_name_is_valid(name));
}

/* adjective "_" surname digit, all lowercase ASCII. */
static void assert_generated_shape(const char *name) {
        const char *us = strchr(name, '_');
        size_t n = strlen(name);

        g_assert_nonnull(us);
        g_assert_null(strchr(us + 1, '_'));
        g_assert_cmpuint(n, <=, NAME_MAX_LEN);
        g_assert_cmpuint((size_t) (us - name), >=, 2);
        g_assert_cmpuint(n - (size_t) (us - name), >=, 4); /* "_" + surname (2+) + digit */
        for (const char *p = name; p < us; p++)
                g_assert_true(*p >= 'a' && *p <= 'z');
        for (const char *p = us + 1; p < name + n - 1; p++)
                g_assert_true(*p >= 'a' && *p <= 'z');
        g_assert_true(name[n - 1] >= '0' && name[n - 1] <= '9');
        g_assert_true(job_name_is_valid(name));
}

static void test_job_name_generate(void) {
        g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
        g_autoptr(GHashTable) adjectives = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GHashTable) surnames = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        bool digits[10] = {};
        const unsigned n = 5000;

        for (unsigned i = 0; i < n; i++) {
                char *name = NULL;
                const char *us;

                g_assert_cmpint(job_name_generate(&name), ==, 0);
                g_assert_nonnull(name);
                assert_generated_shape(name);

                us = strchr(name, '_');
                g_hash_table_add(adjectives, g_strndup(name, (size_t) (us - name)));
                g_hash_table_add(surnames, g_strndup(us + 1, strlen(us + 1) - 1));
                digits[name[strlen(name) - 1] - '0'] = true;
                g_hash_table_add(names, name);
        }

        /* With ~100 x ~100 x 10 possible names, 5000 draws collide a few hundred times at most,
         * and hit nearly every word; a broken random source gives a handful of names. */
        g_assert_cmpuint(g_hash_table_size(names), >, 3500);
        g_assert_cmpuint(g_hash_table_size(adjectives), >=, 90);
        g_assert_cmpuint(g_hash_table_size(surnames), >=, 90);
        for (unsigned d = 0; d < 10; d++)
                g_assert_true(digits[d]);
}

/* USER/NAME as root names another user's things: the user part is a plain user name. */
static void test_specs(void) {
        static const char *const good[] = { "job", "alice/job", "a_b-c.d/x", "u1001/famous_hopper7" };
        static const char *const bad[] = { "", "/job", "alice/", "../etc", "./job", "-x/job", "alice/../job",
                                           "a/b/c", "alice//job", "al ice/job",
                                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/job" /* 33 */ };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                g_assert_true(job_spec_is_valid(good[i]) && checkpoint_spec_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (job_spec_is_valid(bad[i]) || checkpoint_spec_is_valid(bad[i]))
                        g_test_message("accepted: \"%s\"", bad[i]);
                g_assert_false(job_spec_is_valid(bad[i]));
                g_assert_false(checkpoint_spec_is_valid(bad[i]));
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/naming/job-name-is-valid", test_job_name_is_valid);
        g_test_add_func("/naming/checkpoint-name-is-valid", test_checkpoint_name_is_valid);
        g_test_add_func("/naming/job-name-generate", test_job_name_generate);
        g_test_add_func("/naming/specs", test_specs);

        return g_test_run();
}
