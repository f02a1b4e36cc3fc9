/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for progress reporting: the throttle that keeps Progress signals at ten a second (but never
 * drops a new phase or the end of one), the rate, the line the CLI draws, and CRIU's statistics
 * images read from fixtures. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"

#include "criu-stats.h"
#include "progress.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define MS 1000ULL

static void test_throttle(void) {
        ProgressThrottle t = {};
        uint64_t now = 5 * USEC_PER_SEC;
        unsigned passed = 0;

        /* the first passes; 1000 reports in one second pass ten times */
        g_assert_true(progress_throttle_test(&t, "dumping", 0, 100, now));
        for (unsigned i = 1; i <= 1000; i++)
                passed += progress_throttle_test(&t, "dumping", i / 20, 100, now + i * MS);
        g_assert_cmpuint(passed, ==, 10);
        /* a new phase passes at once */
        g_assert_true(progress_throttle_test(&t, "checksumming", 10, 100, now + 1000 * MS + 1));
        g_assert_false(progress_throttle_test(&t, "checksumming", 20, 100, now + 1000 * MS + 2));
        /* done reaching a total that grows with it (an estimate passed) is no reason to pass */
        for (unsigned i = 3; i < 50; i++)
                g_assert_false(progress_throttle_test(&t, "checksumming", 100 + i, 100 + i, now + 1000 * MS + i));
        /* unknown totals are throttled like the rest */
        g_assert_true(progress_throttle_test(&t, "recording", 0, 0, now + 2000 * MS));
        g_assert_false(progress_throttle_test(&t, "recording", 0, 0, now + 2050 * MS));
        g_assert_true(progress_throttle_test(&t, "recording", 0, 0, now + 2100 * MS));
}

static void test_rate(void) {
        ProgressRate r = {};
        uint64_t now = 7 * USEC_PER_SEC;

        g_assert_cmpuint(progress_rate_update(&r, "dumping", 0, now), ==, 0);
        /* too early to say */
        g_assert_cmpuint(progress_rate_update(&r, "dumping", 1 << 20, now + 100 * MS), ==, 0);
        g_assert_cmpuint(progress_rate_update(&r, "dumping", 100 << 20, now + 500 * MS), ==, UINT64_C(200) << 20);
        g_assert_cmpuint(progress_rate_update(&r, "dumping", 300 << 20, now + 1000 * MS), ==, UINT64_C(300) << 20);
        /* a new phase starts over */
        g_assert_cmpuint(progress_rate_update(&r, "extracting", 300 << 20, now + 1100 * MS), ==, 0);
        g_assert_cmpuint(progress_rate_update(&r, "extracting", 350 << 20, now + 1600 * MS), ==, UINT64_C(100) << 20);
        /* backwards: no rate rather than a huge one */
        g_assert_cmpuint(progress_rate_update(&r, "extracting", 1, now + 2000 * MS), ==, 0);
}

static void assert_line(const char *phase, uint64_t done, uint64_t total, uint64_t rate, const char *expected) {
        char buf[FORMAT_PROGRESS_MAX];
        g_assert_cmpstr(format_progress(buf, sizeof(buf), phase, done, total, rate), ==, expected);
}

static void test_format(void) {
        assert_line("dumping", UINT64_C(412) << 20, UINT64_C(768) << 20, UINT64_C(205) << 20,
                    "dumping: 412 MiB of 768 MiB (53%), 205 MiB/s");
        assert_line("dumping", UINT64_C(412) << 20, UINT64_C(768) << 20, 0, "dumping: 412 MiB of 768 MiB (53%)");
        assert_line("dumping", UINT64_C(5) << 20, 0, UINT64_C(3) << 20, "dumping: 5.0 MiB, 3.0 MiB/s");
        assert_line("recording", 0, 0, 0, "recording...");
        assert_line("extracting", 0, UINT64_C(1) << 30, 0, "extracting: 0 B of 1.0 GiB (0%)");
        /* more than estimated: full, never beyond */
        assert_line("dumping", UINT64_C(800) << 20, UINT64_C(768) << 20, 0, "dumping: 768 MiB of 768 MiB (100%)");
}

/* Protobuf by hand (the generated code is the library's own business): varint fields of a
 * message, and that message as field outer of a stats_entry. */
typedef struct Proto {
        uint8_t b[128];
        size_t n;
} Proto;

static void put_varint(Proto *p, uint64_t v) {
        do {
                p->b[p->n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v > 0);
}

static void put_field(Proto *p, unsigned field, uint64_t v) {
        put_varint(p, (uint64_t) field << 3);
        put_varint(p, v);
}

/* A stats image as CRIU 4.2 writes it: service magic, stats magic, one sized entry. */
static size_t stats_image(unsigned outer, const Proto *inner, uint8_t *buf) {
        Proto e = {};
        put_varint(&e, (uint64_t) outer << 3 | 2);
        put_varint(&e, inner->n);
        memcpy(e.b + e.n, inner->b, inner->n);
        e.n += inner->n;
        uint32_t service = 0x55105940, magic = STATS_MAGIC, len = (uint32_t) e.n;
        memcpy(buf, &service, 4);
        memcpy(buf + 4, &magic, 4);
        memcpy(buf + 8, &len, 4);
        memcpy(buf + 12, e.b, e.n);
        return 12 + e.n;
}

static void test_stats_parse(void) {
        /* dump_stats_entry: freezing, frozen, memdump, memwrite, scanned, skipped, written, lazy */
        Proto d = {};
        put_field(&d, 1, 4123);
        put_field(&d, 2, 2345678);
        put_field(&d, 3, 1200000);
        put_field(&d, 4, 900000);
        put_field(&d, 5, 196610);
        put_field(&d, 6, 0);
        put_field(&d, 7, 196608);
        put_field(&d, 9, 0);
        uint8_t buf[256];
        size_t n = stats_image(1, &d, buf);

        CriuStats s;
        g_assert_cmpint(criu_stats_parse(buf, n, &s), ==, 0);
        g_assert_true(s.have_dump);
        g_assert_false(s.have_restore);
        g_assert_cmpuint(s.freezing_usec, ==, 4123);
        g_assert_cmpuint(s.frozen_usec, ==, 2345678);
        g_assert_cmpuint(s.memdump_usec, ==, 1200000);
        g_assert_cmpuint(s.memwrite_usec, ==, 900000);
        g_assert_cmpuint(s.pages_scanned, ==, 196610);
        g_assert_cmpuint(s.pages_written, ==, 196608);

        /* truncated, another image's magic, empty: refused, and nothing half-read */
        for (size_t k = 9; k < n; k += 3)
                g_assert_cmpint(criu_stats_parse(buf, k, &s), ==, -EBADMSG);
        g_assert_false(s.have_dump);
        uint8_t other[256];
        memcpy(other, buf, n);
        other[4] ^= 1;
        g_assert_cmpint(criu_stats_parse(other, n, &s), ==, -EBADMSG);
        g_assert_cmpint(criu_stats_parse(buf, 0, &s), ==, -EBADMSG);
        /* a required field missing: not a stats image */
        Proto partial = {};
        put_field(&partial, 1, 1);
        n = stats_image(1, &partial, buf);
        g_assert_cmpint(criu_stats_parse(buf, n, &s), ==, -EBADMSG);

        /* restore_stats_entry: compared, skipped_cow, forking, restore, restored */
        Proto r = {};
        put_field(&r, 1, 0);
        put_field(&r, 2, 0);
        put_field(&r, 3, 3000);
        put_field(&r, 4, 450000);
        put_field(&r, 5, 196608);
        n = stats_image(2, &r, buf);
        g_assert_cmpint(criu_stats_parse(buf, n, &s), ==, 0);
        g_assert_true(s.have_restore);
        g_assert_cmpuint(s.forking_usec, ==, 3000);
        g_assert_cmpuint(s.restore_usec, ==, 450000);
        g_assert_cmpuint(s.pages_restored, ==, 196608);
}

/* A real stats-dump, as CRIU 4.2.1 wrote it for a 768 MiB process. */
static void test_stats_fixture(void) {
        g_autofree char *data = NULL;
        gsize n = 0;
        g_assert_true(g_file_get_contents(SRCDIR "/tests/unit/data/stats-dump", &data, &n, NULL));
        CriuStats s;
        g_assert_cmpint(criu_stats_parse(data, n, &s), ==, 0);
        g_assert_true(s.have_dump);
        g_assert_cmpuint(s.frozen_usec, >, 0);
        g_assert_cmpuint(s.frozen_usec, >=, s.memdump_usec);
        g_assert_cmpuint(s.pages_written, >, 0);
        g_assert_cmpuint(s.pages_scanned, >=, s.pages_written);
}

static void test_stats_pairs(void) {
        CheckpointStats st = { .image_bytes = 800, .stored_bytes = 100, .criu_usec = 5, .commit_usec = 3 };
        StatsPair p[STATS_PAIRS_MAX];
        /* without CRIU's figures: ours only */
        size_t n = checkpoint_stats_pairs(&st, true, 10, p);
        g_assert_cmpuint(n, ==, 5);
        g_assert_cmpstr(p[0].key, ==, "total_usec");
        g_assert_cmpuint(p[0].value, ==, 10);
        g_assert_cmpstr(p[4].key, ==, "written_bytes");
        g_assert_cmpuint(p[4].value, ==, 100);
        st.criu.have_dump = true;
        st.criu.frozen_usec = 7;
        n = checkpoint_stats_pairs(&st, true, 10, p);
        g_assert_cmpuint(n, ==, 12);
        g_assert_cmpstr(p[2].key, ==, "frozen_usec");
        g_assert_cmpuint(p[2].value, ==, 7);
        st.criu.have_restore = true;
        n = checkpoint_stats_pairs(&st, false, 10, p);
        g_assert_cmpuint(n, ==, 11);
        g_assert_cmpstr(p[n - 2].key, ==, "read_bytes");
        g_assert_cmpstr(p[n - 1].key, ==, "streamed_bytes");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/progress/throttle", test_throttle);
        g_test_add_func("/progress/rate", test_rate);
        g_test_add_func("/progress/format", test_format);
        g_test_add_func("/progress/stats-parse", test_stats_parse);
        g_test_add_func("/progress/stats-fixture", test_stats_fixture);
        g_test_add_func("/progress/stats-pairs", test_stats_pairs);
        return g_test_run();
}
