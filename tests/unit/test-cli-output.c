/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for what cedana prints: table alignment and header, the legend line, the JSON shape of
 * listings (stable keys, typed values, null for "none"), and the JSON keys of job properties. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"

#include "cedana-job.h"
#include "cli-args.h"
#include "cli-output.h"
#include "cli-verbs.h"
#include "json-util.h"

#include <glib.h>
#include <string.h>

static const TableColumn columns[] = {
        { "JOB", "job", TABLE_ALIGN_LEFT },
        { "PID", "pid", TABLE_ALIGN_RIGHT },
        { "GPU", "gpu", TABLE_ALIGN_LEFT },
        { "SIZE", "size", TABLE_ALIGN_RIGHT },
        { "LOG", "log", TABLE_ALIGN_LEFT },
};

static Table *sample(void) {
        Table *t = NULL;
        g_assert_cmpint(table_new(columns, ELEMENTSOF(columns), &t), ==, 0);
        g_assert_cmpint(table_add_string(t, "famous_hopper7"), ==, 0);
        g_assert_cmpint(table_add_pid(t, 1234), ==, 0);
        g_assert_cmpint(table_add_boolean(t, false), ==, 0);
        g_assert_cmpint(table_add_bytes(t, 624640), ==, 0);
        g_assert_cmpint(table_add_string(t, "/var/log/cedana/famous_hopper7.log"), ==, 0);

        g_assert_cmpint(table_add_string(t, "web"), ==, 0);
        g_assert_cmpint(table_add_pid(t, 0), ==, 0);
        g_assert_cmpint(table_add_boolean(t, true), ==, 0);
        g_assert_cmpint(table_add_cell(t, "-", NULL, NULL), ==, 0);
        g_assert_cmpint(table_add_string(t, NULL), ==, 0);
        return t;
}

static void test_table_alignment(void) {
        _cleanup_table_ Table *t = sample();
        _cleanup_free_ char *text = NULL;

        g_assert_cmpuint(table_get_rows(t), ==, 2);
        g_assert_cmpint(table_format(t, true, false, &text), ==, 0);
        /* Two spaces between columns, numbers right-aligned, no trailing blanks. */
        g_assert_cmpstr(text, ==,
                        "JOB              PID  GPU     SIZE  LOG\n"
                        "famous_hopper7  1234  no   610 KiB  /var/log/cedana/famous_hopper7.log\n"
                        "web                -  yes        -  -\n");
}

static void test_table_no_header(void) {
        _cleanup_table_ Table *t = sample();
        _cleanup_free_ char *text = NULL;
        g_assert_cmpint(table_format(t, false, false, &text), ==, 0);
        /* Without the header the columns are only as wide as their cells. */
        g_assert_cmpstr(text, ==,
                        "famous_hopper7  1234  no   610 KiB  /var/log/cedana/famous_hopper7.log\n"
                        "web                -  yes        -  -\n");
}

static void test_table_colors(void) {
        _cleanup_table_ Table *t = NULL;
        _cleanup_free_ char *text = NULL;
        static const TableColumn c[] = { { "STATUS", "status", TABLE_ALIGN_LEFT }, { "X", "x", TABLE_ALIGN_LEFT } };
        g_assert_cmpint(table_new(c, ELEMENTSOF(c), &t), ==, 0);
        g_assert_cmpint(table_add_string_colored(t, "running", ANSI_GREEN), ==, 0);
        g_assert_cmpint(table_add_string(t, "x"), ==, 0);
        g_assert_cmpint(table_format(t, true, true, &text), ==, 0);
        /* Escapes do not count towards the width: padding comes after the reset. */
        g_assert_cmpstr(text, ==,
                        ANSI_UNDERLINE "STATUS" ANSI_NORMAL "   " ANSI_UNDERLINE "X" ANSI_NORMAL "\n"
                        ANSI_GREEN "running" ANSI_NORMAL "  x\n");
}

static void test_table_utf8_width(void) {
        _cleanup_table_ Table *t = NULL;
        _cleanup_free_ char *text = NULL;
        static const TableColumn c[] = { { "PATH", "path", TABLE_ALIGN_LEFT }, { "N", "n", TABLE_ALIGN_RIGHT } };
        g_assert_cmpint(table_new(c, ELEMENTSOF(c), &t), ==, 0);
        g_assert_cmpint(table_add_string(t, "/tmp/caf\xc3\xa9"), ==, 0);
        g_assert_cmpint(table_add_unsigned(t, 1), ==, 0);
        g_assert_cmpint(table_add_string(t, "/tmp/cafe1"), ==, 0);
        g_assert_cmpint(table_add_unsigned(t, 22), ==, 0);
        g_assert_cmpint(table_format(t, false, false, &text), ==, 0);
        g_assert_cmpstr(text, ==,
                        "/tmp/caf\xc3\xa9    1\n"
                        "/tmp/cafe1  22\n");
}

static void test_legend(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        g_assert_cmpint(table_legend(0, "job", "jobs", &a), ==, 0);
        g_assert_cmpint(table_legend(1, "job", "jobs", &b), ==, 0);
        g_assert_cmpint(table_legend(3, "checkpoint", "checkpoints", &c), ==, 0);
        g_assert_cmpstr(a, ==, "0 jobs listed.");
        g_assert_cmpstr(b, ==, "1 job listed.");
        g_assert_cmpstr(c, ==, "3 checkpoints listed.");
}

static void test_table_json(void) {
        _cleanup_table_ Table *t = sample();
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *s = NULL;

        g_assert_cmpint(table_to_json(t, &v), ==, 0);
        g_assert_cmpint(json_format(v, 0, &s), ==, 0);
        /* Keys in column order; numbers as numbers, sizes in bytes, "-" as null. */
        g_assert_cmpstr(s, ==,
                        "[{\"job\":\"famous_hopper7\",\"pid\":1234,\"gpu\":false,\"size\":624640,"
                        "\"log\":\"/var/log/cedana/famous_hopper7.log\"},"
                        "{\"job\":\"web\",\"pid\":null,\"gpu\":true,\"size\":null,\"log\":null}]");
}

static void test_table_json_empty(void) {
        _cleanup_table_ Table *t = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *s = NULL;
        g_assert_cmpint(table_new(columns, ELEMENTSOF(columns), &t), ==, 0);
        g_assert_cmpint(table_to_json(t, &v), ==, 0);
        g_assert_cmpint(json_format(v, 0, &s), ==, 0);
        g_assert_cmpstr(s, ==, "[]");
}

static void test_timestamps(void) {
        _cleanup_table_ Table *t = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *s = NULL, *text = NULL;
        static const TableColumn c[] = { { "CHECKPOINT", "checkpoint", TABLE_ALIGN_LEFT },
                                         { "TIME", "time", TABLE_ALIGN_LEFT } };
        g_assert_cmpint(table_new(c, ELEMENTSOF(c), &t), ==, 0);
        g_assert_cmpint(table_add_timestamp_relative(t, 1700000000 * USEC_PER_SEC), ==, 0);
        g_assert_cmpint(table_add_timestamp(t, 0), ==, 0);
        g_assert_cmpint(table_to_json(t, &v), ==, 0);
        g_assert_cmpint(json_format(v, 0, &s), ==, 0);
        /* µs since the epoch for scripts; "none" is null, not 0. */
        g_assert_cmpstr(s, ==, "[{\"checkpoint\":1700000000000000,\"time\":null}]");
        g_assert_cmpint(table_format(t, false, false, &text), ==, 0);
        g_assert_true(strstr(text, " ago  -\n"));
}

/* What --json prints: compact on one line, or pretty. */
static void test_json_print(void) {
        if (g_test_subprocess()) {
                _cleanup_table_ Table *t = sample();
                arg_json = JSON_MODE_SHORT;
                g_assert_cmpint(table_print(t, "job", "jobs"), ==, 0);
                arg_json = JSON_MODE_PRETTY;
                g_assert_cmpint(table_print(t, "job", "jobs"), ==, 0);
                exit(0);
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("[{\"job\":\"famous_hopper7\",*}]\n[\n  {\n    \"job\": \"famous_hopper7\",\n*\n]\n");
        g_test_trap_assert_stdout_unmatched("*listed*");
}

/* The table with its legend, or only the legend when empty; --no-legend drops both. */
static void test_table_print(void) {
        if (g_test_subprocess()) {
                _cleanup_table_ Table *t = sample(), *empty = NULL;
                g_assert_cmpint(table_new(columns, ELEMENTSOF(columns), &empty), ==, 0);
                arg_pager = false;
                g_assert_cmpint(table_print(t, "job", "jobs"), ==, 0);
                g_assert_cmpint(table_print(empty, "job", "jobs"), ==, 0);
                printf("--\n");
                arg_legend = false;
                g_assert_cmpint(table_print(t, "job", "jobs"), ==, 0);
                g_assert_cmpint(table_print(empty, "job", "jobs"), ==, 0);
                exit(0);
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("JOB  *  PID*\nfamous_hopper7*\nweb*\n\n2 jobs listed.\n0 jobs listed.\n--\n"
                                  "famous_hopper7*\nweb *-\n");
}

static void test_property_keys(void) {
        static const char *const cases[][2] = {
                { "Id", "id" },
                { "PID", "pid" },
                { "GPU", "gpu" },
                { "UID", "uid" },
                { "State", "state" },
                { "LastCheckpoint", "last_checkpoint" },
                { "LastCheckpointTime", "last_checkpoint_time" },
                { "CheckpointDirectory", "checkpoint_directory" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[64];
                property_json_key(cases[i][0], buf, sizeof(buf));
                g_assert_cmpstr(buf, ==, cases[i][1]);
        }
}

static void test_features_json(void) {
        char *features[] = { "criu=4.2.1", "compression=none", "compression=zstd", "tcp-established",
                             "private-socket=no", "gpu=no", NULL };
        _cleanup_json_ json_t *o = features_to_json(features);
        g_assert_nonnull(o);
        _cleanup_free_ char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
        g_assert_cmpstr(text, ==, "{\"compression\":[\"none\",\"zstd\"],\"criu\":\"4.2.1\",\"gpu\":false,"
                                  "\"private_socket\":false,\"tcp_established\":true}");
}

/* --print-stats: cedanad's keys in a fixed order, for people; the ratio computed here. */
static void test_stats(void) {
        _cleanup_json_ json_t *s = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "written_bytes",
                                             (json_int_t) (40 << 20), "image_bytes", (json_int_t) (800 << 20),
                                             "total_usec", (json_int_t) 2410000, "frozen_usec", (json_int_t) 1980000,
                                             "freezing_usec", (json_int_t) 4000, "pages_written", (json_int_t) 204800,
                                             "unknown_key", (json_int_t) 1);
        g_assert_nonnull(s);
        g_assert_cmpint(stats_add_ratio(s), ==, 0);
        g_assert_cmpfloat_with_epsilon(json_real_value(json_object_get(s, "compression_ratio")), 0.05, 1e-9);
        _cleanup_free_ char *text = NULL;
        g_assert_cmpint(stats_format(s, &text), ==, 0);
        g_assert_cmpstr(text, ==,
                        "   Total time: 2.41s\n"
                        "       Frozen: 1.98s\n"
                        "     Freezing: 4ms\n"
                        "Pages written: 204800\n"
                        "       Images: 800 MiB\n"
                        "      Written: 40 MiB\n"
                        "        Ratio: 0.050 (written / images)\n");
        /* no images: no ratio */
        _cleanup_json_ json_t *r = json_pack("{s:I}", "read_bytes", (json_int_t) 5);
        g_assert_cmpint(stats_add_ratio(r), ==, 0);
        g_assert_null(json_object_get(r, "compression_ratio"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/cli-output/table-alignment", test_table_alignment);
        g_test_add_func("/cli-output/table-no-header", test_table_no_header);
        g_test_add_func("/cli-output/table-colors", test_table_colors);
        g_test_add_func("/cli-output/table-utf8-width", test_table_utf8_width);
        g_test_add_func("/cli-output/legend", test_legend);
        g_test_add_func("/cli-output/table-json", test_table_json);
        g_test_add_func("/cli-output/table-json-empty", test_table_json_empty);
        g_test_add_func("/cli-output/timestamps", test_timestamps);
        g_test_add_func("/cli-output/json-print", test_json_print);
        g_test_add_func("/cli-output/table-print", test_table_print);
        g_test_add_func("/cli-output/property-keys", test_property_keys);
        g_test_add_func("/cli-output/features-json", test_features_json);
        g_test_add_func("/cli-output/stats", test_stats);

        return g_test_run();
}
