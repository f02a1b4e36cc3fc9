/* SPDX-License-Identifier: Apache-2.0 */
/* Log sink: formats one message and sends it to the journal (with CODE_*, ERRNO= and the
 * LogContext fields) or to stderr. %m in a format expands to strerror(error). */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static LogTarget log_target = LOG_TARGET_AUTO;
static int log_max_level = LOG_INFO;
static const char *log_prefix = NULL;

void log_set_target(LogTarget target) {
        log_target = target;
}

LogTarget log_get_target(void) {
        if (log_target == LOG_TARGET_AUTO)
                /* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
                log_target = getenv("JOURNAL_STREAM") ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        return log_target;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

static void log_to_journal(int level, int error, const LogContext *ctx, const char *file, int line,
                           const char *func, const char *message) {
        char buf[10][256];
        struct iovec iov[12 + LOG_FIELDS_MAX];
        size_t n = 0;

#define ADD(...)                                                                        \
        do {                                                                            \
                int _l = snprintf(buf[n], sizeof(buf[n]), __VA_ARGS__);                 \
                iov[n] = (struct iovec) { buf[n], (size_t) MIN(_l, (int) sizeof(buf[n]) - 1) }; \
                n++;                                                                    \
        } while (0)

        ADD("PRIORITY=%i", level);
        ADD("CODE_FILE=%s", file);
        ADD("CODE_LINE=%i", line);
        ADD("CODE_FUNC=%s", func);
        if (error != 0)
                ADD("ERRNO=%i", abs(error));
        if (ctx) {
                if (ctx->message_id)
                        ADD("MESSAGE_ID=%s", ctx->message_id);
                if (ctx->job)
                        ADD("CEDANA_JOB=%s", ctx->job);
                if (ctx->unit)
                        ADD("CEDANA_UNIT=%s", ctx->unit);
                if (ctx->checkpoint)
                        ADD("CEDANA_CHECKPOINT=%s", ctx->checkpoint);
                if (ctx->pid > 0)
                        ADD("CEDANA_PID=%i", (int) ctx->pid);
                for (size_t i = 0; ctx->fields && ctx->fields[i] && i < LOG_FIELDS_MAX; i++)
                        iov[n++] = (struct iovec) { ctx->fields[i], strlen(ctx->fields[i]) };
        }
#undef ADD
        /* The message itself may be long (CRIU's error lines, paths): not truncated. */
        _cleanup_free_ char *m = NULL;
        if (asprintf(&m, "MESSAGE=%s", message) < 0)
                return;
        iov[n++] = (struct iovec) { m, strlen(m) };
        (void) sd_journal_sendv(iov, (int) n);
}

int log_internal(int level, int error, const LogContext *ctx, const char *file, int line,
                 const char *func, const char *format, ...) {
        int saved = errno;
        if (error > 0)
                error = -error;
        if (LOG_PRI(level) > log_max_level)
                goto finish;

        /* %m means "the error given", not whatever errno happens to be. */
        errno = error != 0 ? -error : saved;
        char message[4096];
        va_list ap;
        va_start(ap, format);
        (void) vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);

        if (log_get_target() == LOG_TARGET_JOURNAL)
                log_to_journal(LOG_PRI(level), error, ctx, file, line, func, message);
        else if (log_prefix)
                fprintf(stderr, "%s: %s\n", log_prefix, message);
        else
                fprintf(stderr, "%s\n", message);
finish:
        errno = saved;
        return error;
}
