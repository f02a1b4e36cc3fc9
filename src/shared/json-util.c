/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers around jansson: the strict parser settings, formatting, typed access. */

#include <stdio.h>
#include <stdlib.h>

#include "json-util.h"
#include "strv.h"

int json_parse_strict(const char *text, size_t n, json_t **ret, char **reterr) {
        json_error_t e;
        json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &e);
        if (!v) {
                if (reterr && asprintf(reterr, "line %i, column %i: %s", e.line, e.column, e.text) < 0)
                        *reterr = NULL;
                return -EBADMSG;
        }
        *ret = v;
        return 0;
}

int json_format(const json_t *v, JsonFormatFlags flags, char **ret) {
        size_t f = JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
        f |= (flags & JSON_FORMAT_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT;
        char *s = json_dumps(v, f);
        if (!s)
                return -ENOMEM;
        if (flags & JSON_FORMAT_PRETTY) {
                size_t l = strlen(s);
                char *t = realloc(s, l + 2);
                if (!t) {
                        free(s);
                        return -ENOMEM;
                }
                t[l] = '\n';
                t[l + 1] = 0;
                s = t;
        }
        *ret = s;
        return 0;
}

json_t *json_string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

json_t *json_strv(char *const *l) {
        json_t *a = json_array();
        if (!a)
                return NULL;
        for (char *const *s = l; s && *s; s++)
                if (json_array_append_new(a, json_string(*s)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

int json_object_set_string_or_null(json_t *o, const char *key, const char *s) {
        return json_object_set_new(o, key, json_string_or_null(s)) < 0 ? -ENOMEM : 0;
}

int json_object_set_u64(json_t *o, const char *key, uint64_t u) {
        if (u > INT64_MAX)
                return -ERANGE;
        return json_object_set_new(o, key, json_integer((json_int_t) u)) < 0 ? -ENOMEM : 0;
}

int json_get_u64(const json_t *v, uint64_t *ret) {
        if (!json_is_integer(v))
                return -EINVAL;
        json_int_t i = json_integer_value(v);
        if (i < 0)
                return -ERANGE;
        *ret = (uint64_t) i;
        return 0;
}

int json_get_strv(const json_t *v, char ***ret) {
        if (!json_is_array(v))
                return -EINVAL;
        _cleanup_strv_free_ char **l = calloc(json_array_size(v) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++) {
                const char *s = json_string_value(json_array_get(v, i));
                if (!s)
                        return -EINVAL;
                if (!(l[i] = strdup(s)))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
