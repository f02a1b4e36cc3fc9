/* SPDX-License-Identifier: Apache-2.0 */
/* Small macros every cedana source file uses: cleanup attributes, ownership hand-over,
 * array sizes and errno helpers. Header only, no dependencies beyond libc. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _sentinel_ __attribute__((sentinel))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRLEN(x) (sizeof(x) - 1)
#ifndef MIN /* glib.h defines the same, for the tests */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* Hand over ownership of a pointer or fd: returns the value and clears the variable, so the
 * cleanup attribute on the old owner does nothing. */
#define TAKE_PTR(p)                           \
        ({                                    \
                __typeof__(p) _p_ = (p);      \
                (p) = NULL;                   \
                _p_;                          \
        })
#define TAKE_FD(fd)                           \
        ({                                    \
                int _fd_ = (fd);              \
                (fd) = -EBADF;                \
                _fd_;                         \
        })

/* Defines name##p(type **p) calling func(*p) when *p is non-NULL, for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Closes a pair of fds (pipes, socketpairs). */
static inline void close_pairp(int (*p)[2]) {
        safe_close((*p)[0]);
        safe_close((*p)[1]);
}
#define _cleanup_close_pair_ _cleanup_(close_pairp)

/* errno after a libc call, as a negative value; never 0, so a caller that forgot to set
 * errno still sees a failure. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr)                                \
        ({                                              \
                int _r_ = (expr);                       \
                _r_ < 0 ? negative_errno() : _r_;       \
        })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
/* Grows *p (of *allocated elements of size bytes) to hold at least need elements, doubling so
 * that appending one at a time stays linear. NULL on overflow or out of memory, *p untouched. */
static inline void *greedy_realloc(void **p, size_t *allocated, size_t need, size_t size) {
        if (need <= *allocated)
                return *p;
        size_t a = MAX(need, MAX(*allocated * 2, (size_t) 64));
        if (a > SIZE_MAX / size)
                return NULL;
        void *q = realloc(*p, a * size);
        if (!q)
                return NULL;
        *allocated = a;
        return (*p = q);
}
#define GREEDY_REALLOC(array, allocated, need) \
        greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]))

static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
