/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated string arrays ("strv"): the shape argv, env and D-Bus "as" values take. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
char **strv_copy(char *const *l);
/* Appends a copy of value; returns -ENOMEM on failure, leaving *l as it was. */
int strv_extend(char ***l, const char *value);
/* Appends copies of each value up to a NULL; on failure *l may have some of them. */
int strv_extend_many_internal(char ***l, ...);
#define strv_extend_many(l, ...) strv_extend_many_internal((l), __VA_ARGS__, (const char *) NULL)
/* Appends value itself, taking ownership on success. */
int strv_push(char ***l, char *value);
bool strv_contains(char *const *l, const char *value);
/* Joins with separator; returns NULL on allocation failure. */
char *strv_join(char *const *l, const char *separator);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
