/* SPDX-License-Identifier: Apache-2.0 */
/* jansson with cleanup attributes and the few helpers cedana needs around it: strict parsing of
 * untrusted documents, formatting in our two styles, and typed getters. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* jansson's own cleanup function (behind its json_auto_t). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Untrusted input: a single value, duplicate object keys and NUL in strings refused, object
 * members kept in their order. -EBADMSG with "line L, column C: what" in *reterr. */
int json_parse_strict(const char *text, size_t n, json_t **ret, char **reterr);

typedef enum JsonFormatFlags {
        JSON_FORMAT_PRETTY = 1 << 0, /* two-space indent, one member per line, trailing newline */
} JsonFormatFlags;
/* Members in insertion order, UTF-8 passed through; compact output has no whitespace. */
int json_format(const json_t *v, JsonFormatFlags flags, char **ret);

/* NULL gives JSON null; the *_new setters take the value even on failure, as jansson's do. */
json_t *json_string_or_null(const char *s);
json_t *json_strv(char *const *l);
int json_object_set_string_or_null(json_t *o, const char *key, const char *s);
int json_object_set_u64(json_t *o, const char *key, uint64_t u);

/* Typed getters: -EINVAL when absent or of another type. */
int json_get_u64(const json_t *v, uint64_t *ret); /* -ERANGE for negative integers */
int json_get_strv(const json_t *v, char ***ret);  /* an array of strings */
