/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the few things cedana adds around jansson: the strict settings for untrusted input,
 * formatting in our two styles, typed getters. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "json-util.h"
#include "strv.h"

#include <errno.h>
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void assert_rejected(const char *s, size_t n, const char *reason) {
        json_t *v = NULL;
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(json_parse_strict(s, n, &v, &err), ==, -EBADMSG);
        g_assert_null(v);
        g_assert_nonnull(err);
        if (!strstr(err, reason))
                g_test_message("'%s' was rejected with '%s'", s, err);
        g_assert_nonnull(strstr(err, reason));
}

static void test_strict(void) {
        assert_rejected("{\"a\": 1, \"a\": 2}", 16, "duplicate object key");
        assert_rejected("{\"a\": {\"b\": 1, \"b\": 1}}", 24, "duplicate object key");
        /* a NUL inside a string, and anything after the value */
        assert_rejected("{\"a\": \"x\\u0000y\"}", 17, "\\u0000 is not allowed");
        assert_rejected("{\"a\": 1} x", 10, "end of file expected");
        assert_rejected("{\"a\": 1}", 5, "");
        assert_rejected("", 0, "");
        assert_rejected("\xff\xfe", 2, "");
        /* the position is reported, for people who edit cedana.json by hand */
        json_t *v = NULL;
        _cleanup_free_ char *err = NULL;
        g_assert_cmpint(json_parse_strict("{\n  \"a\": 1,\n  \"a\": 2\n}", 22, &v, &err), ==, -EBADMSG);
        g_assert_nonnull(strstr(err, "line 3"));
}

static void test_format(void) {
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *text = NULL;
        char *err = NULL;
        const char *in = "{\"z\":1,\"a\":[true,null,\"h\\u00f6\"],\"m\":{\"k\":-2}}";
        g_assert_cmpint(json_parse_strict(in, strlen(in), &v, &err), ==, 0);
        /* members stay in their order, UTF-8 passes through, compact has no whitespace */
        g_assert_cmpint(json_format(v, 0, &text), ==, 0);
        g_assert_cmpstr(text, ==, "{\"z\":1,\"a\":[true,null,\"h\xc3\xb6\"],\"m\":{\"k\":-2}}");
        free(text);
        g_assert_cmpint(json_format(v, JSON_FORMAT_PRETTY, &text), ==, 0);
        g_assert_cmpstr(text, ==, "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null,\n    \"h\xc3\xb6\"\n  ],\n"
                                  "  \"m\": {\n    \"k\": -2\n  }\n}\n");
}

static void test_getters(void) {
        _cleanup_json_ json_t *v = json_pack("{s:I, s:i, s:[s, s], s:[s, i], s:s}", "big", (json_int_t) INT64_MAX,
                                             "neg", -1, "l", "a", "b", "bad", "a", 1, "s", "x");
        uint64_t u;
        g_assert_cmpint(json_get_u64(json_object_get(v, "big"), &u), ==, 0);
        g_assert_cmpuint(u, ==, (uint64_t) INT64_MAX);
        g_assert_cmpint(json_get_u64(json_object_get(v, "neg"), &u), ==, -ERANGE);
        g_assert_cmpint(json_get_u64(json_object_get(v, "s"), &u), ==, -EINVAL);
        g_assert_cmpint(json_get_u64(NULL, &u), ==, -EINVAL);
        _cleanup_strv_free_ char **l = NULL;
        g_assert_cmpint(json_get_strv(json_object_get(v, "l"), &l), ==, 0);
        g_assert_cmpuint(strv_length(l), ==, 2);
        g_assert_cmpstr(l[1], ==, "b");
        char **bad = NULL;
        g_assert_cmpint(json_get_strv(json_object_get(v, "bad"), &bad), ==, -EINVAL);
        g_assert_null(bad);

        _cleanup_json_ json_t *o = json_object();
        g_assert_cmpint(json_object_set_u64(o, "u", 5), ==, 0);
        g_assert_cmpint(json_object_set_u64(o, "huge", UINT64_MAX), ==, -ERANGE);
        g_assert_cmpint(json_object_set_string_or_null(o, "n", NULL), ==, 0);
        g_assert_true(json_is_null(json_object_get(o, "n")));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/json-util/strict", test_strict);
        g_test_add_func("/json-util/format", test_format);
        g_test_add_func("/json-util/getters", test_getters);
        return g_test_run();
}
