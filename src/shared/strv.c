/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated string arrays: allocation, copying and joining. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        _cleanup_strv_free_ char **c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(l[i]);
                if (!c[i])
                        return NULL;
        }
        return TAKE_PTR(c);
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, (n + 2) * sizeof(char *));
        if (!c)
                return -ENOMEM;
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        _cleanup_free_ char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        int r = strv_push(l, v);
        if (r < 0)
                return r;
        TAKE_PTR(v);
        return 0;
}

int strv_extend_many_internal(char ***l, ...) {
        va_list ap;
        int r = 0;
        va_start(ap, l);
        for (const char *v; r >= 0 && (v = va_arg(ap, const char *));)
                r = strv_extend(l, v);
        va_end(ap);
        return r;
}

bool strv_contains(char *const *l, const char *value) {
        STRV_FOREACH(i, l)
                if (streq(*i, value))
                        return true;
        return false;
}

char *strv_join(char *const *l, const char *separator) {
        size_t sl = strlen(separator), n = 1;
        STRV_FOREACH(i, l)
                n += strlen(*i) + sl;
        char *r = malloc(n), *p = r;
        if (!r)
                return NULL;
        *p = 0;
        STRV_FOREACH(i, l) {
                if (i != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *i);
        }
        return r;
}
