/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the JSON model: formatting, round trips, and the parser's strictness on hostile
 * input (every rejection is checked for its exact position and reason). */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "json.h"
#include "strv.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static JsonVariant *parse_ok(const char *s) {
        JsonVariant *v = NULL;
        char *err = NULL;
        int r;

        r = json_parse(s, strlen(s), &v, &err);
        if (r < 0)
                g_test_message("parsing '%s' failed: %s", s, err ?: "(no message)");
        g_assert_cmpint(r, ==, 0);
        g_assert_null(err);
        g_assert_nonnull(v);
        return v;
}

static char *format(const JsonVariant *v, JsonFormatFlags flags) {
        char *s = NULL;

        g_assert_cmpint(json_format(v, flags, &s), ==, 0);
        g_assert_nonnull(s);
        return s;
}

/* Parses n bytes of s and formats them compactly again. */
static void assert_roundtrip(const char *in, const char *expected) {
        _cleanup_json_ JsonVariant *v = parse_ok(in);
        _cleanup_free_ char *out = format(v, 0);

        g_assert_cmpstr(out, ==, expected ?: in);
}

static void assert_rejected_n(const char *s, size_t n, const char *expected) {
        JsonVariant *v = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = json_parse(s, n, &v, &err);
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_null(v);
        g_assert_nonnull(err);
        g_assert_cmpstr(err, ==, expected);
}

static void assert_rejected(const char *s, const char *expected) {
        assert_rejected_n(s, strlen(s), expected);
}

static void test_build_and_format(void) {
        _cleanup_json_ JsonVariant *o = NULL;
        _cleanup_free_ char *compact = NULL, *pretty = NULL;
        JsonVariant *a = NULL, *e = NULL;
        char *const l[] = { (char *) "x", (char *) "y", NULL };

        g_assert_cmpint(json_new_object(&o), ==, 0);
        g_assert_cmpint(json_object_set_string(o, "name", "famous_hopper7"), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(o, "size", UINT64_MAX), ==, 0);
        g_assert_cmpint(json_object_set_integer(o, "neg", INT64_MIN), ==, 0);
        g_assert_cmpint(json_object_set_integer(o, "pos", 5), ==, 0);
        g_assert_cmpint(json_object_set_boolean(o, "t", true), ==, 0);
        g_assert_cmpint(json_object_set_boolean(o, "f", false), ==, 0);
        g_assert_cmpint(json_object_set_string(o, "none", NULL), ==, 0);
        g_assert_cmpint(json_object_set_strv(o, "l", l), ==, 0);
        g_assert_cmpint(json_object_set_strv(o, "empty", NULL), ==, 0);

        g_assert_cmpint(json_new_array(&a), ==, 0);
        g_assert_cmpint(json_new_real(0.5, &e), ==, 0);
        g_assert_cmpint(json_array_append(a, e), ==, 0);
        g_assert_cmpint(json_new_real(2.0, &e), ==, 0);
        g_assert_cmpint(json_array_append(a, e), ==, 0);
        g_assert_cmpint(json_new_object(&e), ==, 0);
        g_assert_cmpint(json_array_append(a, e), ==, 0);
        g_assert_cmpint(json_new_null(&e), ==, 0);
        g_assert_cmpint(json_array_append(a, e), ==, 0);
        g_assert_cmpint(json_object_set(o, "a", a), ==, 0);

        g_assert_cmpint(json_type(json_object_get(o, "pos")), ==, JSON_UNSIGNED);
        g_assert_cmpint(json_type(json_object_get(o, "neg")), ==, JSON_INTEGER);
        g_assert_cmpint(json_type(json_object_get(o, "none")), ==, JSON_NULL);
        g_assert_cmpuint(json_elements(o), ==, 10);
        g_assert_cmpuint(json_elements(json_object_get(o, "a")), ==, 4);
        g_assert_cmpuint(json_elements(json_object_get(o, "size")), ==, 0);

        compact = format(o, 0);
        g_assert_cmpstr(compact, ==,
                        "{\"name\":\"famous_hopper7\",\"size\":18446744073709551615,\"neg\":-9223372036854775808,"
                        "\"pos\":5,\"t\":true,\"f\":false,\"none\":null,\"l\":[\"x\",\"y\"],\"empty\":[],"
                        "\"a\":[0.5,2.0,{},null]}");

        pretty = format(o, JSON_FORMAT_PRETTY);
        g_assert_cmpstr(pretty, ==,
                        "{\n"
                        "  \"name\": \"famous_hopper7\",\n"
                        "  \"size\": 18446744073709551615,\n"
                        "  \"neg\": -9223372036854775808,\n"
                        "  \"pos\": 5,\n"
                        "  \"t\": true,\n"
                        "  \"f\": false,\n"
                        "  \"none\": null,\n"
                        "  \"l\": [\n"
                        "    \"x\",\n"
                        "    \"y\"\n"
                        "  ],\n"
                        "  \"empty\": [],\n"
                        "  \"a\": [\n"
                        "    0.5,\n"
                        "    2.0,\n"
                        "    {},\n"
                        "    null\n"
                        "  ]\n"
                        "}\n");

        /* Pretty output parses back to the same document. */
        {
                _cleanup_json_ JsonVariant *back = parse_ok(pretty);
                _cleanup_free_ char *again = format(back, 0);
                g_assert_cmpstr(again, ==, compact);
        }
}

static void test_scalars_pretty(void) {
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *s = NULL, *t = NULL;

        g_assert_cmpint(json_new_unsigned(7, &v), ==, 0);
        s = format(v, JSON_FORMAT_PRETTY);
        g_assert_cmpstr(s, ==, "7\n");
        t = format(v, 0);
        g_assert_cmpstr(t, ==, "7");
}

static void test_roundtrip(void) {
        assert_roundtrip("{}", NULL);
        assert_roundtrip("[]", NULL);
        assert_roundtrip("null", NULL);
        assert_roundtrip("true", NULL);
        assert_roundtrip("\"\"", NULL);
        assert_roundtrip("{\"a\":[1,-2,{\"b\":null,\"c\":[[]]}],\"d\":\"e\"}", NULL);
        assert_roundtrip(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", "{\"a\":[1,2]}");
        /* Insertion order, not sorted. */
        assert_roundtrip("{\"z\":1,\"a\":2,\"m\":3}", NULL);
}

static void test_escapes(void) {
        _cleanup_json_ JsonVariant *v = NULL, *p = NULL;
        _cleanup_free_ char *s = NULL;

        g_assert_cmpint(json_new_string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end", &v), ==, 0);
        s = format(v, 0);
        g_assert_cmpstr(s, ==, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f end\"");

        p = parse_ok(s);
        g_assert_cmpstr(json_string(p), ==, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end");

        json_free(p);
        p = parse_ok("\"\\/\\u0041\\u00e9\\u00E9\"");
        g_assert_cmpstr(json_string(p), ==, "/A\xc3\xa9\xc3\xa9");
}

static void test_unicode(void) {
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *s = NULL;

        /* U+1F600 as a surrogate pair; U+20AC; U+FFFF; U+10FFFF as a pair. */
        v = parse_ok("\"\\ud83d\\ude00 \\u20ac \\uffff \\udbff\\udfff\"");
        g_assert_cmpstr(json_string(v), ==, "\xf0\x9f\x98\x80 \xe2\x82\xac \xef\xbf\xbf \xf4\x8f\xbf\xbf");
        /* UTF-8 goes out as it came in, not escaped. */
        s = format(v, 0);
        g_assert_cmpstr(s, ==, "\"\xf0\x9f\x98\x80 \xe2\x82\xac \xef\xbf\xbf \xf4\x8f\xbf\xbf\"");

        /* Raw UTF-8 of every length at its boundaries. */
        assert_roundtrip("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"", NULL);
}

static void test_constructor_utf8(void) {
        JsonVariant *v = NULL, *o = NULL;

        g_assert_cmpint(json_new_string("\xff", &v), ==, -EINVAL);
        g_assert_null(v);
        g_assert_cmpint(json_new_string("\xc0\xaf", &v), ==, -EINVAL);
        g_assert_cmpint(json_new_string("\xed\xa0\x80", &v), ==, -EINVAL);
        g_assert_cmpint(json_new_string("caf\xc3\xa9", &v), ==, 0);
        json_free(v);

        g_assert_cmpint(json_new_object(&o), ==, 0);
        g_assert_cmpint(json_object_set_string(o, "\xff", "x"), ==, -EINVAL);
        g_assert_cmpuint(json_elements(o), ==, 0);
        json_free(o);
}

static void test_reject(void) {
        static const char big_exp_real[] = "1e400";
        char *long_number;

        assert_rejected("", "line 1, column 1: unexpected end of input, expected a value");
        assert_rejected("   \n  ", "line 2, column 3: unexpected end of input, expected a value");
        assert_rejected("01", "line 1, column 1: numbers must not have leading zeros");
        assert_rejected("-01", "line 1, column 1: numbers must not have leading zeros");
        assert_rejected("[00]", "line 1, column 2: numbers must not have leading zeros");
        assert_rejected("-", "line 1, column 2: unexpected end of input, expected a digit");
        assert_rejected("-a", "line 1, column 2: unexpected character 'a', expected a digit");
        assert_rejected("+1", "line 1, column 1: unexpected character '+', expected a value");
        assert_rejected(".5", "line 1, column 1: unexpected character '.', expected a value");
        assert_rejected("1.", "line 1, column 3: unexpected end of input, expected a digit after '.'");
        assert_rejected("1.e5", "line 1, column 3: unexpected character 'e', expected a digit after '.'");
        assert_rejected("1e", "line 1, column 3: unexpected end of input, expected a digit in the exponent");
        assert_rejected("1e+", "line 1, column 4: unexpected end of input, expected a digit in the exponent");
        assert_rejected(big_exp_real, "line 1, column 1: number out of range");
        assert_rejected("-1e400", "line 1, column 1: number out of range");
        assert_rejected("NaN", "line 1, column 1: unexpected character 'N', expected a value");
        assert_rejected("Infinity", "line 1, column 1: unexpected character 'I', expected a value");
        assert_rejected("0x10", "line 1, column 2: unexpected data after the value");

        assert_rejected("tru", "line 1, column 1: invalid literal, expected 'true'");
        assert_rejected("nul", "line 1, column 1: invalid literal, expected 'null'");
        assert_rejected("True", "line 1, column 1: unexpected character 'T', expected a value");
        assert_rejected("truex", "line 1, column 5: unexpected data after the value");
        assert_rejected("1 2", "line 1, column 3: unexpected data after the value");
        assert_rejected("{} {}", "line 1, column 4: unexpected data after the value");
        assert_rejected("\xef\xbb\xbf{}", "line 1, column 1: unexpected byte 0xef, expected a value");
        assert_rejected("'a'", "line 1, column 1: unexpected character ''', expected a value");

        assert_rejected("[", "line 1, column 2: unexpected end of input, expected a value");
        assert_rejected("[1", "line 1, column 3: unexpected end of input, expected ',' or ']'");
        assert_rejected("[1,]", "line 1, column 4: trailing comma in array");
        assert_rejected("[1 2]", "line 1, column 4: unexpected character '2', expected ',' or ']'");
        assert_rejected("[,1]", "line 1, column 2: unexpected character ',', expected a value");
        assert_rejected("{", "line 1, column 2: unexpected end of input, expected a string (object key)");
        assert_rejected("{\"a\":1,}", "line 1, column 8: trailing comma in object");
        assert_rejected("{1:2}", "line 1, column 2: unexpected character '1', expected a string (object key)");
        assert_rejected("{\"a\"}", "line 1, column 5: unexpected character '}', expected ':'");
        assert_rejected("{\"a\":}", "line 1, column 6: unexpected character '}', expected a value");
        assert_rejected("{\"a\":1 \"b\":2}", "line 1, column 8: unexpected character '\"', expected ',' or '}'");
        assert_rejected("{\n  \"a\": 1,\n  \"b\" 2\n}", "line 3, column 7: unexpected character '2', expected ':'");

        /* Strings. */
        assert_rejected("\"abc", "line 1, column 1: unterminated string");
        assert_rejected("\"abc\\", "line 1, column 5: unterminated string");
        assert_rejected("\"a\nb\"", "line 1, column 3: unescaped control character 0x0a in string");
        assert_rejected("\"a\tb\"", "line 1, column 3: unescaped control character 0x09 in string");
        assert_rejected_n("\"a\0b\"", 5, "line 1, column 3: NUL byte in string");
        assert_rejected("\"\\u0000\"", "line 1, column 2: \\u0000 is not allowed in strings");
        assert_rejected("\"\\x\"", "line 1, column 2: invalid escape sequence");
        assert_rejected("\"\\U0041\"", "line 1, column 2: invalid escape sequence");
        assert_rejected("\"\\u12G4\"", "line 1, column 6: invalid hexadecimal digit in \\u escape");
        assert_rejected("\"\\u12\"", "line 1, column 4: truncated \\u escape");
        assert_rejected("\"\\u12\"  ", "line 1, column 6: invalid hexadecimal digit in \\u escape");
        assert_rejected("\"\\u12", "line 1, column 4: truncated \\u escape");
        assert_rejected("\"\\ud800\"", "line 1, column 2: unpaired surrogate in \\u escape");
        assert_rejected("\"\\ud800x\"", "line 1, column 2: unpaired surrogate in \\u escape");
        assert_rejected("\"\\ud800\\u0041\"", "line 1, column 2: unpaired surrogate in \\u escape");
        assert_rejected("\"\\ud800\\ud800\"", "line 1, column 2: unpaired surrogate in \\u escape");
        assert_rejected("\"\\udc00\"", "line 1, column 2: unpaired surrogate in \\u escape");
        assert_rejected("\"\\udfff\\ud800\"", "line 1, column 2: unpaired surrogate in \\u escape");

        /* Malformed UTF-8: overlong forms, surrogates, above U+10FFFF, stray and missing
         * continuation bytes. */
        assert_rejected("\"\xc0\xaf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xc1\xbf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xe0\x80\xaf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xe0\x9f\xbf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xf0\x80\x80\xaf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xf0\x8f\xbf\xbf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xed\xa0\x80\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xed\xbf\xbf\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xf4\x90\x80\x80\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xf5\x80\x80\x80\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xf8\x88\x80\x80\x80\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xff\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"ab\x80\"", "line 1, column 4: invalid UTF-8 in string");
        assert_rejected("\"\xc3\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected("\"\xe2\x82\"", "line 1, column 2: invalid UTF-8 in string");
        assert_rejected_n("\"\xe2\x82", 3, "line 1, column 2: invalid UTF-8 in string");
        /* Invalid UTF-8 in a key too. */
        assert_rejected("{\"\xff\":1}", "line 1, column 3: invalid UTF-8 in string");

        /* A number literal long enough to be an attack on strtod(). */
        long_number = g_strnfill(1100, '1');
        long_number[0] = '0';
        long_number[1] = '.';
        assert_rejected(long_number, "line 1, column 1: number too long");
        g_free(long_number);

        /* The parse stops at n: the NUL and what follows are not part of the input. */
        {
                _cleanup_json_ JsonVariant *v = NULL;
                g_assert_cmpint(json_parse("[1]garbage", 3, &v, NULL), ==, 0);
                g_assert_cmpint(json_type(v), ==, JSON_ARRAY);
        }
        /* Without reterr, the error is still reported. */
        g_assert_cmpint(json_parse("[", 1, NULL, NULL), ==, -EBADMSG);
}

static void test_duplicate_keys(void) {
        assert_rejected("{\"a\":1,\"a\":2}", "line 1, column 8: duplicate object key \"a\"");
        /* The same key spelt with an escape is the same key. */
        assert_rejected("{\"a\":1,\"\\u0061\":2}", "line 1, column 8: duplicate object key \"a\"");
        /* The first duplicate in document order is reported, however the keys sort. */
        assert_rejected("{\"z\":1,\"b\":1,\"a\":1,\"z\":2,\"a\":2,\"b\":3}",
                        "line 1, column 20: duplicate object key \"z\"");
        assert_rejected("{\"x\":{\"k\":1,\"k\":1}}", "line 1, column 13: duplicate object key \"k\"");

        /* Many distinct keys are fine; one duplicate among them is not. */
        {
                GString *s = g_string_new("{");
                JsonVariant *v = NULL;
                _cleanup_free_ char *err = NULL;

                for (unsigned i = 0; i < 5000; i++)
                        g_string_append_printf(s, "%s\"k%u\":%u", i ? "," : "", i, i);
                g_string_append(s, "}");
                v = parse_ok(s->str);
                g_assert_cmpuint(json_elements(v), ==, 5000);
                g_assert_cmpuint(json_type(json_object_get(v, "k4999")), ==, JSON_UNSIGNED);
                json_free(v);
                v = NULL;

                g_string_truncate(s, s->len - 1);
                g_string_append(s, ",\"k17\":0}");
                g_assert_cmpint(json_parse(s->str, s->len, &v, &err), ==, -EBADMSG);
                g_assert_null(v);
                g_assert_true(g_str_has_suffix(err, "duplicate object key \"k17\""));
                g_string_free(s, TRUE);
        }
}

static char *nested(unsigned depth, const char *open, const char *inner, const char *close) {
        GString *s = g_string_new(NULL);

        for (unsigned i = 0; i < depth; i++)
                g_string_append(s, open);
        g_string_append(s, inner);
        for (unsigned i = 0; i < depth; i++)
                g_string_append(s, close);
        return g_string_free(s, FALSE);
}

static void test_depth(void) {
        char *s;
        JsonVariant *v, *i;
        unsigned depth = 0;

        s = nested(64, "[", "1", "]");
        v = parse_ok(s);
        for (i = v; json_type(i) == JSON_ARRAY; i = json_array_get(i, 0))
                depth++;
        g_assert_cmpuint(depth, ==, 64);
        json_free(v);
        g_free(s);

        s = nested(65, "[", "1", "]");
        assert_rejected(s, "line 1, column 65: nesting too deep (more than 64 levels)");
        g_free(s);

        s = nested(64, "{\"a\":", "{}", "}");
        assert_rejected(s, "line 1, column 321: nesting too deep (more than 64 levels)");
        g_free(s);
        s = nested(63, "{\"a\":", "{}", "}");
        v = parse_ok(s);
        json_free(v);
        g_free(s);

        /* Far deeper than the limit: refused without exhausting the stack. */
        s = nested(100000, "[", "", "]");
        assert_rejected(s, "line 1, column 65: nesting too deep (more than 64 levels)");
        g_free(s);
}

static void test_numbers(void) {
        JsonVariant *v;
        uint64_t u;
        int64_t i;

        v = parse_ok("18446744073709551615");
        g_assert_cmpint(json_type(v), ==, JSON_UNSIGNED);
        g_assert_cmpint(json_get_unsigned(v, &u), ==, 0);
        g_assert_cmpuint(u, ==, UINT64_MAX);
        g_assert_cmpint(json_get_integer(v, &i), ==, -ERANGE);
        json_free(v);

        v = parse_ok("9223372036854775807");
        g_assert_cmpint(json_type(v), ==, JSON_UNSIGNED);
        g_assert_cmpint(json_get_integer(v, &i), ==, 0);
        g_assert_cmpint(i, ==, INT64_MAX);
        json_free(v);

        v = parse_ok("18446744073709551616");
        g_assert_cmpint(json_type(v), ==, JSON_REAL);
        g_assert_cmpint(json_get_unsigned(v, &u), ==, -EINVAL);
        json_free(v);

        v = parse_ok("-9223372036854775808");
        g_assert_cmpint(json_type(v), ==, JSON_INTEGER);
        g_assert_cmpint(json_get_integer(v, &i), ==, 0);
        g_assert_cmpint(i, ==, INT64_MIN);
        g_assert_cmpint(json_get_unsigned(v, &u), ==, -ERANGE);
        json_free(v);

        v = parse_ok("-9223372036854775809");
        g_assert_cmpint(json_type(v), ==, JSON_REAL);
        json_free(v);

        v = parse_ok("-0");
        g_assert_cmpint(json_type(v), ==, JSON_UNSIGNED);
        g_assert_cmpint(json_get_unsigned(v, &u), ==, 0);
        g_assert_cmpuint(u, ==, 0);
        json_free(v);

        v = parse_ok("-1");
        g_assert_cmpint(json_type(v), ==, JSON_INTEGER);
        json_free(v);

        v = parse_ok("1E2");
        g_assert_cmpint(json_type(v), ==, JSON_REAL);
        json_free(v);

        v = parse_ok("\"5\"");
        g_assert_cmpint(json_get_unsigned(v, &u), ==, -EINVAL);
        g_assert_cmpint(json_get_integer(v, &i), ==, -EINVAL);
        json_free(v);

        g_assert_cmpint(json_get_unsigned(NULL, &u), ==, -EINVAL);

        assert_roundtrip("[0,1,-1,123456789012,-123456789012]", NULL);
        assert_roundtrip("[0.5,-0.25,1e2,1E-2,2.5e+3,-0.0,1.0]", "[0.5,-0.25,100.0,0.01,2500.0,-0.0,1.0]");
        assert_roundtrip("1e-400", "0.0");
        assert_roundtrip("1.7976931348623157e308", "1.7976931348623157e+308");
}

static void test_reals(void) {
        static const double values[] = { 0.1, -2.5e-310, 1e300, 3.141592653589793, 1.0 / 3.0, 1e21, -0.0 };

        for (size_t k = 0; k < G_N_ELEMENTS(values); k++) {
                _cleanup_json_ JsonVariant *v = NULL, *back = NULL;
                _cleanup_free_ char *s = NULL;
                double d;

                g_assert_cmpint(json_new_real(values[k], &v), ==, 0);
                s = format(v, 0);
                back = parse_ok(s);
                /* Always a real again, and exactly the same double. */
                g_assert_cmpint(json_type(back), ==, JSON_REAL);
                g_assert_cmpint(sscanf(s, "%lf", &d), ==, 1);
                g_assert_true(memcmp(&d, &values[k], sizeof(d)) == 0);
        }

        {
                _cleanup_json_ JsonVariant *v = NULL;
                _cleanup_free_ char *s = NULL;

                g_assert_cmpint(json_new_real(NAN, &v), ==, 0);
                s = format(v, 0);
                g_assert_cmpstr(s, ==, "null");
        }
        {
                _cleanup_json_ JsonVariant *v = NULL;
                _cleanup_free_ char *s = NULL;

                g_assert_cmpint(json_new_real(-INFINITY, &v), ==, 0);
                s = format(v, 0);
                g_assert_cmpstr(s, ==, "null");
        }
}

static void test_object_ops(void) {
        _cleanup_json_ JsonVariant *o = NULL, *a = NULL;
        _cleanup_free_ char *s = NULL, *t = NULL, *u = NULL;
        JsonVariant *v = NULL;

        g_assert_cmpint(json_new_object(&o), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(o, "a", 1), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(o, "b", 2), ==, 0);
        g_assert_cmpint(json_object_set_unsigned(o, "c", 3), ==, 0);

        /* Replacing keeps the key where it was. */
        g_assert_cmpint(json_object_set_string(o, "b", "two"), ==, 0);
        g_assert_cmpuint(json_elements(o), ==, 3);
        s = format(o, 0);
        g_assert_cmpstr(s, ==, "{\"a\":1,\"b\":\"two\",\"c\":3}");
        g_assert_cmpstr(json_object_key_at(o, 1), ==, "b");
        g_assert_cmpstr(json_string(json_object_value_at(o, 1)), ==, "two");
        g_assert_null(json_object_key_at(o, 3));
        g_assert_null(json_object_value_at(o, 3));

        g_assert_cmpint(json_object_remove(o, "a"), ==, 1);
        g_assert_cmpint(json_object_remove(o, "a"), ==, 0);
        g_assert_cmpint(json_object_remove(o, "zzz"), ==, 0);
        t = format(o, 0);
        g_assert_cmpstr(t, ==, "{\"b\":\"two\",\"c\":3}");
        g_assert_null(json_object_get(o, "a"));
        g_assert_nonnull(json_object_get(o, "c"));

        g_assert_cmpint(json_object_remove(o, "c"), ==, 1);
        g_assert_cmpint(json_object_remove(o, "b"), ==, 1);
        g_assert_cmpuint(json_elements(o), ==, 0);
        g_assert_cmpint(json_object_set_boolean(o, "x", true), ==, 0);
        u = format(o, 0);
        g_assert_cmpstr(u, ==, "{\"x\":true}");

        /* Wrong container types: -EINVAL, and the value is consumed anyway. */
        g_assert_cmpint(json_new_array(&a), ==, 0);
        g_assert_cmpint(json_new_null(&v), ==, 0);
        g_assert_cmpint(json_object_set(a, "k", v), ==, -EINVAL);
        g_assert_cmpint(json_new_null(&v), ==, 0);
        g_assert_cmpint(json_array_append(o, v), ==, -EINVAL);
        g_assert_cmpint(json_object_set(o, "k", NULL), ==, -EINVAL);
        g_assert_cmpint(json_object_remove(a, "k"), ==, -EINVAL);
        g_assert_null(json_object_get(a, "k"));
        g_assert_null(json_array_get(o, 0));
        g_assert_null(json_array_get(a, 0));
        g_assert_null(json_string(a));
        g_assert_cmpint(json_get_boolean(a, NULL), ==, -EINVAL);
        g_assert_cmpint(json_type(NULL), ==, JSON_NULL);
}

static void test_strv(void) {
        char *const l[] = { (char *) "unix[12345]", (char *) "", (char *) "tty[88:0]", NULL };
        _cleanup_json_ JsonVariant *v = NULL, *e = NULL, *bad = NULL;
        _cleanup_strv_free_ char **back = NULL, **empty = NULL;
        char **none = NULL;

        g_assert_cmpint(json_new_strv(l, &v), ==, 0);
        g_assert_cmpuint(json_elements(v), ==, 3);
        g_assert_cmpint(json_get_strv(v, &back), ==, 0);
        g_assert_cmpuint(strv_length(back), ==, 3);
        for (size_t i = 0; i < 3; i++)
                g_assert_cmpstr(back[i], ==, l[i]);

        g_assert_cmpint(json_new_strv(NULL, &e), ==, 0);
        g_assert_cmpint(json_get_strv(e, &empty), ==, 0);
        g_assert_nonnull(empty);
        g_assert_null(empty[0]);

        bad = parse_ok("[\"a\",1]");
        g_assert_cmpint(json_get_strv(bad, &none), ==, -EINVAL);
        g_assert_null(none);
        g_assert_cmpint(json_get_strv(json_array_get(bad, 0), &none), ==, -EINVAL);
}

static void test_copy(void) {
        _cleanup_json_ JsonVariant *v = NULL, *c = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL;

        v = parse_ok("{\"a\":[1,-2,3.5,\"s\",null,true,{\"b\":{}}],\"c\":\"\xc3\xa9\"}");
        g_assert_cmpint(json_copy(v, &c), ==, 0);
        a = format(v, 0);
        b = format(c, 0);
        g_assert_cmpstr(a, ==, b);

        /* Independent of the original. */
        g_assert_cmpint(json_object_remove(c, "a"), ==, 1);
        d = format(v, 0);
        g_assert_cmpstr(d, ==, a);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/json/build-and-format", test_build_and_format);
        g_test_add_func("/json/scalars-pretty", test_scalars_pretty);
        g_test_add_func("/json/roundtrip", test_roundtrip);
        g_test_add_func("/json/escapes", test_escapes);
        g_test_add_func("/json/unicode", test_unicode);
        g_test_add_func("/json/constructor-utf8", test_constructor_utf8);
        g_test_add_func("/json/reject", test_reject);
        g_test_add_func("/json/duplicate-keys", test_duplicate_keys);
        g_test_add_func("/json/depth", test_depth);
        g_test_add_func("/json/numbers", test_numbers);
        g_test_add_func("/json/reals", test_reals);
        g_test_add_func("/json/object-ops", test_object_ops);
        g_test_add_func("/json/strv", test_strv);
        g_test_add_func("/json/copy", test_copy);

        return g_test_run();
}
