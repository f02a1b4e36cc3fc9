/* SPDX-License-Identifier: Apache-2.0 */
/* A small JSON document model: build, format (compact or pretty), and a strict parser for
 * untrusted input (checkpoint metadata). Used for cedana.json and the CLI's --json output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct JsonVariant JsonVariant;

typedef enum JsonType {
        JSON_NULL,
        JSON_BOOLEAN,
        JSON_INTEGER,  /* fits int64_t and is negative */
        JSON_UNSIGNED, /* fits uint64_t */
        JSON_REAL,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
} JsonType;

/* Constructors return 0 or -ENOMEM; strings (and object keys) that are not valid UTF-8 are
 * -EINVAL, since JSON text cannot carry them. */
int json_new_null(JsonVariant **ret);
int json_new_boolean(bool b, JsonVariant **ret);
int json_new_integer(int64_t i, JsonVariant **ret); /* non-negative values become JSON_UNSIGNED */
int json_new_unsigned(uint64_t u, JsonVariant **ret);
int json_new_real(double d, JsonVariant **ret);
int json_new_string(const char *s, JsonVariant **ret); /* NULL gives a JSON null */
int json_new_strv(char *const *l, JsonVariant **ret);  /* array of strings */
int json_new_array(JsonVariant **ret);
int json_new_object(JsonVariant **ret);

/* A deep copy (NULL copies as a JSON null). */
int json_copy(const JsonVariant *v, JsonVariant **ret);

JsonVariant *json_free(JsonVariant *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonVariant *, json_free);
#define _cleanup_json_ _cleanup_(json_freep)

/* Take ownership of value, also on failure. Setting an existing key replaces its value in place
 * (object keys keep their insertion order). -EINVAL when the container has the wrong type. */
int json_array_append(JsonVariant *array, JsonVariant *value);
int json_object_set(JsonVariant *object, const char *key, JsonVariant *value);
int json_object_set_string(JsonVariant *object, const char *key, const char *s);
int json_object_set_unsigned(JsonVariant *object, const char *key, uint64_t u);
int json_object_set_integer(JsonVariant *object, const char *key, int64_t i);
int json_object_set_boolean(JsonVariant *object, const char *key, bool b);
int json_object_set_strv(JsonVariant *object, const char *key, char *const *l);
/* Removes key if present; returns 1 if removed, 0 if absent. */
int json_object_remove(JsonVariant *object, const char *key);

JsonType json_type(const JsonVariant *v); /* NULL is JSON_NULL */
/* Array elements, or object members; 0 for scalars. */
size_t json_elements(const JsonVariant *v);
JsonVariant *json_array_get(const JsonVariant *array, size_t i);
const char *json_object_key_at(const JsonVariant *object, size_t i);
JsonVariant *json_object_value_at(const JsonVariant *object, size_t i);
/* NULL when absent or when object is not an object. */
JsonVariant *json_object_get(const JsonVariant *object, const char *key);

/* Accessors: NULL / -EINVAL when v has another type (or is NULL). */
const char *json_string(const JsonVariant *v);
int json_get_boolean(const JsonVariant *v, bool *ret);
int json_get_unsigned(const JsonVariant *v, uint64_t *ret); /* -ERANGE for negative integers */
int json_get_integer(const JsonVariant *v, int64_t *ret);   /* -ERANGE above INT64_MAX */
/* Array of strings into a strv (empty array -> empty strv, never NULL on success). */
int json_get_strv(const JsonVariant *v, char ***ret);

typedef enum JsonFormatFlags {
        JSON_FORMAT_PRETTY = 1 << 0, /* indent by 2, one member per line, trailing newline */
} JsonFormatFlags;

/* Deterministic: object members in insertion order, strings escaped per RFC 8259 (control
 * characters as \u00xx, non-ASCII UTF-8 passed through), reals with %.17g in the C locale plus
 * ".0" when that looks like an integer (so they parse back as reals), NaN and infinities as
 * null. Compact output has no whitespace and no trailing newline. */
int json_format(const JsonVariant *v, JsonFormatFlags flags, char **ret);

/* Strict RFC 8259 parser for untrusted input: n bytes of s (NUL not required), a single value
 * with optional surrounding whitespace, nesting at most 64 deep, strings valid UTF-8 without NUL,
 * duplicate object keys rejected, numbers that fit int64/uint64 as integers (others as reals;
 * a real overflowing a double and number literals over 1024 characters are rejected, leading
 * zeros too). Returns 0, -ENOMEM, or -EBADMSG with *reterr (if given) like "line 3, column 7:
 * unexpected character 'x', expected ',' or ']'" (1-based; columns count bytes). */
int json_parse(const char *s, size_t n, JsonVariant **ret, char **reterr);
