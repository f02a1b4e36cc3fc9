/* SPDX-License-Identifier: Apache-2.0 */
/* Logging for cedanad and cedana: to the journal with structured fields when running under
 * systemd, to stderr otherwise. Error-logging calls return the negative errno they were given. */
#pragma once

#include <syslog.h>
#include <sys/types.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* the journal when started by systemd, else the console */
        LOG_TARGET_CONSOLE, /* stderr, plain "message" lines */
        LOG_TARGET_JOURNAL,
} LogTarget;

/* Fields that make `journalctl CEDANA_JOB=famous_hopper7` work. Any member may be unset. */
typedef struct LogContext {
        const char *message_id; /* 32 hex digits, see message-ids.h */
        const char *job;
        const char *unit;
        const char *checkpoint;
        pid_t pid;
        /* more fields, "CEDANA_FROZEN_USEC=1234" (NULL-terminated; at most LOG_FIELDS_MAX) */
        char *const *fields;
} LogContext;

#define LOG_FIELDS_MAX 32

void log_set_target(LogTarget target);
LogTarget log_get_target(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "err", ... or a number 0..7. */
int log_level_from_string(const char *s);
/* Name under which console messages are prefixed ("cedana: ..."); NULL for none. */
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const LogContext *ctx, const char *file, int line,
                 const char *func, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* Structured: log_ctx(LOG_INFO, LOG_CTX(.job = j->id, .pid = pid), "Started job %s.", j->id).
 * LOG_CTX's parentheses keep the initializer's commas away from the outer macro. */
#define LOG_CTX(...) (&(LogContext) { __VA_ARGS__ })
#define log_ctx(level, ctx, ...) log_internal((level), 0, (ctx), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_ctx_errno(level, error, ctx, ...) \
        log_internal((level), (error), (ctx), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
