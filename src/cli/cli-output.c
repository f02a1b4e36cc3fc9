/* SPDX-License-Identifier: Apache-2.0 */
/* Output the way systemctl does it: aligned tables with a legend, the same data as JSON with
 * stable keys, colours only on terminals, a pager for long listings, progress on stderr. */

#include <fcntl.h>
#include <inttypes.h>
#include <langinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "cli-args.h"
#include "cli-output.h"
#include "fd-util.h"
#include "format-util.h"
#include "log.h"
#include "progress.h"

/* ---- colours ---- */

static int colors_cached = -1;

bool colors_enabled(void) {
        if (colors_cached < 0) {
                const char *term = getenv("TERM");
                colors_cached = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq_ptr(term, "dumb") && term;
        }
        return colors_cached;
}

void colors_set(bool enabled) {
        colors_cached = enabled;
}

const char *glyph_bullet(void) {
        return streq_ptr(nl_langinfo(CODESET), "UTF-8") ? "\u25CF" : "*";
}

/* ---- tables ---- */

typedef struct TableCell {
        char *text;
        const char *color;
        json_t *json;
} TableCell;

struct Table {
        const TableColumn *columns;
        size_t n_columns;
        TableCell *cells;
        size_t n_cells, allocated;
};

int table_new(const TableColumn *columns, size_t n_columns, Table **ret) {
        Table *t = calloc(1, sizeof(Table));
        if (!t)
                return -ENOMEM;
        t->columns = columns;
        t->n_columns = n_columns;
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++) {
                free(t->cells[i].text);
                json_decref(t->cells[i].json);
        }
        free(t->cells);
        free(t);
        return NULL;
}

int table_add_cell(Table *t, const char *text, const char *color, json_t *json) {
        if (t->n_cells == t->allocated) {
                size_t n = MAX(t->allocated * 2, (size_t) 32);
                TableCell *c = realloc(t->cells, n * sizeof(TableCell));
                if (!c) {
                        json_decref(json);
                        return -ENOMEM;
                }
                t->cells = c;
                t->allocated = n;
        }
        char *s = strdup(text ?: "-");
        if (!s) {
                json_decref(json);
                return -ENOMEM;
        }
        t->cells[t->n_cells++] = (TableCell) { .text = s, .color = color, .json = json };
        return 0;
}

int table_add_string_colored(Table *t, const char *s, const char *color) {
        /* A path that is not UTF-8 cannot be JSON text; one null beats no listing at all. */
        json_t *j = s ? json_string(s) : NULL;
        if (!j)
                j = json_null();
        return table_add_cell(t, s, color, j);
}

int table_add_string(Table *t, const char *s) {
        return table_add_string_colored(t, s, NULL);
}

int table_add_unsigned(Table *t, uint64_t u) {
        char buf[32];
        json_t *j = json_integer((json_int_t) u);
        if (!j)
                return -ENOMEM;
        (void) snprintf(buf, sizeof(buf), "%" PRIu64, u);
        return table_add_cell(t, buf, NULL, j);
}

int table_add_pid(Table *t, uint32_t pid) {
        if (pid == 0)
                return table_add_cell(t, "-", NULL, NULL);
        return table_add_unsigned(t, pid);
}

int table_add_boolean(Table *t, bool b) {
        return table_add_cell(t, b ? "yes" : "no", NULL, json_boolean(b));
}

int table_add_bytes(Table *t, uint64_t bytes) {
        char buf[FORMAT_BYTES_MAX];
        json_t *j = json_integer((json_int_t) bytes);
        if (!j)
                return -ENOMEM;
        return table_add_cell(t, format_bytes(buf, sizeof(buf), bytes), NULL, j);
}

static int add_time(Table *t, uint64_t usec, bool relative) {
        char buf[FORMAT_TIMESTAMP_MAX];
        if (usec == 0 || usec == UINT64_MAX)
                return table_add_cell(t, "-", NULL, NULL);
        json_t *j = json_integer((json_int_t) usec);
        if (!j)
                return -ENOMEM;
        return table_add_cell(t, relative ? format_timestamp_relative(buf, sizeof(buf), usec, 0)
                                          : format_timestamp(buf, sizeof(buf), usec),
                              NULL, j);
}

int table_add_timestamp_relative(Table *t, uint64_t usec) {
        return add_time(t, usec, true);
}

int table_add_timestamp(Table *t, uint64_t usec) {
        return add_time(t, usec, false);
}

size_t table_get_rows(const Table *t) {
        return t->n_cells / t->n_columns;
}

/* Terminal columns of a UTF-8 string: one per character; good enough for names and paths. */
static size_t text_width(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

static void append_padding(FILE *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                fputc(' ', f);
}

int table_format(const Table *t, bool header, bool colors, char **ret) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, rows = table_get_rows(t);
        if (!width)
                return -ENOMEM;

        for (size_t c = 0; c < t->n_columns; c++) {
                width[c] = header ? text_width(t->columns[c].header) : 0;
                for (size_t r = 0; r < rows; r++)
                        width[c] = MAX(width[c], text_width(t->cells[r * t->n_columns + c].text));
        }

        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t r = header ? 0 : 1; r < rows + 1; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *text = r == 0 ? t->columns[c].header : t->cells[(r - 1) * t->n_columns + c].text;
                        const char *color = r == 0 ? ANSI_UNDERLINE : t->cells[(r - 1) * t->n_columns + c].color;
                        size_t pad = width[c] - text_width(text);
                        bool last = c + 1 == t->n_columns;
                        if (c > 0)
                                fputs("  ", f);
                        if (t->columns[c].align == TABLE_ALIGN_RIGHT)
                                append_padding(f, pad);
                        /* Underline the header only as far as the text, like systemctl. */
                        fprintf(f, "%s%s%s", colors && color ? color : "", text, colors && color ? ANSI_NORMAL : "");
                        if (t->columns[c].align == TABLE_ALIGN_LEFT && !last)
                                append_padding(f, pad);
                }
                fputc('\n', f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int table_to_json(const Table *t, json_t **ret) {
        _cleanup_json_ json_t *array = json_array();
        if (!array)
                return -ENOMEM;
        for (size_t row = 0; row < table_get_rows(t); row++) {
                json_t *o = json_object();
                if (!o || json_array_append_new(array, o) < 0)
                        return -ENOMEM;
                for (size_t c = 0; c < t->n_columns; c++) {
                        json_t *v = t->cells[row * t->n_columns + c].json;
                        /* A cell without a value (a dash) is null. */
                        if (json_object_set(o, t->columns[c].json_key, v ?: json_null()) < 0)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(array);
        return 0;
}

int table_legend(size_t n, const char *singular, const char *plural, char **ret) {
        if (asprintf(ret, "%zu %s listed.", n, n == 1 ? singular : plural) < 0)
                return -ENOMEM;
        return 0;
}

int json_print(const json_t *v) {
        _cleanup_free_ char *s = NULL;
        int r = json_format(v, arg_json == JSON_MODE_PRETTY ? JSON_FORMAT_PRETTY : 0, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to format JSON: %m");
        fputs(s, stdout);
        if (arg_json != JSON_MODE_PRETTY)
                fputc('\n', stdout);
        return 0;
}

int table_print(const Table *t, const char *singular, const char *plural) {
        _cleanup_free_ char *text = NULL, *legend = NULL;
        int r;

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = NULL;
                r = table_to_json(t, &v);
                if (r < 0)
                        return log_error_errno(r, "Failed to build JSON: %m");
                return json_print(v);
        }

        r = table_legend(table_get_rows(t), singular, plural, &legend);
        if (r < 0)
                return log_oom();
        /* An empty listing is just the legend, like systemctl's "0 units listed." */
        if (table_get_rows(t) == 0) {
                if (arg_legend)
                        printf("%s\n", legend);
                return 0;
        }
        r = table_format(t, arg_legend, colors_enabled(), &text);
        if (r < 0)
                return log_oom();
        pager_open();
        fputs(text, stdout);
        if (arg_legend)
                printf("\n%s\n", legend);
        return 0;
}

/* ---- pager ---- */

static pid_t pager_pid = 0;
static int saved_stdout = -EBADF;

static _noreturn_ void pager_child(int read_fd) {
        const char *pager = getenv("CEDANA_PAGER") ?: getenv("PAGER");

        if (dup2(read_fd, STDIN_FILENO) < 0)
                _exit(EXIT_FAILURE);
        if (read_fd != STDIN_FILENO)
                close(read_fd);
        /* The same defaults systemd uses: quit if one screen, raw colours, chop long lines,
         * no init sequence, quit on ^C. */
        (void) setenv("LESS", "FRSXMK", 0);
        (void) signal(SIGPIPE, SIG_DFL);

        if (pager)
                execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
        execlp("less", "less", (char *) NULL);
        execlp("more", "more", (char *) NULL);
        /* No pager at all: pass the text through. */
        char buf[4096];
        ssize_t n;
        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
                if (loop_write(STDOUT_FILENO, buf, (size_t) n) < 0)
                        break;
        _exit(EXIT_SUCCESS);
}

void pager_open(void) {
        _cleanup_close_pair_ int fds[2] = { -EBADF, -EBADF };
        const char *pager = getenv("CEDANA_PAGER") ?: getenv("PAGER");

        if (!arg_pager || pager_pid > 0 || arg_json != JSON_MODE_OFF)
                return;
        if (!isatty(STDOUT_FILENO))
                return;
        if (pager && (isempty(pager) || streq(pager, "cat")))
                return;
        (void) colors_enabled(); /* decide while stdout is still the terminal */

        if (pipe2(fds, O_CLOEXEC) < 0)
                return;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                return;
        if (pid == 0) {
                int fd = fds[0];
                fds[0] = -EBADF;
                pager_child(fd);
        }
        saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                saved_stdout = safe_close(saved_stdout);
                return;
        }
        pager_pid = pid;
        /* A user who quits the pager early should not see an error from us. */
        (void) signal(SIGPIPE, SIG_DFL);
        atexit(pager_close);
}

void pager_close(void) {
        if (pager_pid <= 0)
                return;
        fflush(stdout);
        /* EOF for the pager: our end of the pipe is stdout. */
        if (saved_stdout >= 0) {
                (void) dup2(saved_stdout, STDOUT_FILENO);
                saved_stdout = safe_close(saved_stdout);
        } else
                (void) close(STDOUT_FILENO);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}

/* ---- statistics ---- */

typedef enum StatKind {
        STAT_USEC,
        STAT_BYTES,
        STAT_COUNT,
        STAT_RATIO,
} StatKind;

static const struct {
        const char *key, *label;
        StatKind kind;
} stat_rows[] = {
        { "total_usec", "Total time", STAT_USEC },
        { "frozen_usec", "Frozen", STAT_USEC },
        { "freezing_usec", "Freezing", STAT_USEC },
        { "memdump_usec", "Memory dump", STAT_USEC },
        { "memwrite_usec", "Memory write", STAT_USEC },
        { "commit_usec", "Commit", STAT_USEC },
        { "prepare_usec", "Preparing", STAT_USEC },
        { "forking_usec", "Forking", STAT_USEC },
        { "restore_usec", "Restoring", STAT_USEC },
        { "criu_usec", "CRIU", STAT_USEC },
        { "pages_scanned", "Pages scanned", STAT_COUNT },
        { "pages_written", "Pages written", STAT_COUNT },
        { "pages_restored", "Pages restored", STAT_COUNT },
        { "image_bytes", "Images", STAT_BYTES },
        { "written_bytes", "Written", STAT_BYTES },
        { "read_bytes", "Read", STAT_BYTES },
        { "streamed_bytes", "Streamed", STAT_BYTES },
        { "compression_ratio", "Ratio", STAT_RATIO },
};

int stats_add_ratio(json_t *stats) {
        json_t *images = json_object_get(stats, "image_bytes"), *written = json_object_get(stats, "written_bytes");
        if (!json_is_integer(images) || !json_is_integer(written) || json_integer_value(images) <= 0)
                return 0;
        double ratio = (double) json_integer_value(written) / (double) json_integer_value(images);
        return json_object_set_new(stats, "compression_ratio", json_real(ratio)) < 0 ? -ENOMEM : 0;
}

int stats_format(const json_t *stats, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(stat_rows); i++) {
                json_t *v = json_object_get(stats, stat_rows[i].key);
                char buf[FORMAT_TIMESPAN_MAX];
                if (!json_is_number(v))
                        continue;
                uint64_t u = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t) json_integer_value(v) : 0;
                fprintf(f, "%*s: ", FIELD_LABEL_WIDTH, stat_rows[i].label);
                switch (stat_rows[i].kind) {
                case STAT_USEC:
                        fprintf(f, "%s\n", format_timespan(buf, sizeof(buf), u));
                        break;
                case STAT_BYTES:
                        fprintf(f, "%s\n", format_bytes(buf, sizeof(buf), u));
                        break;
                case STAT_COUNT:
                        fprintf(f, "%" PRIu64 "\n", u);
                        break;
                case STAT_RATIO:
                        fprintf(f, "%.3f (written / images)\n", json_number_value(v));
                        break;
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int print_stats(const json_t *stats) {
        if (!arg_print_stats || arg_json != JSON_MODE_OFF || arg_quiet)
                return 0;
        if (!stats) {
                printf("No statistics: cedanad sent none.\n");
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        if (stats_format(stats, &text) < 0)
                return log_oom();
        printf("Statistics:\n%s", text);
        return 0;
}

/* ---- progress ---- */

static bool progress_shown = false;

void progress_show(const char *phase, uint64_t done, uint64_t total) {
        progress_show_rate(phase, done, total, 0);
}

void progress_show_rate(const char *phase, uint64_t done, uint64_t total, uint64_t rate) {
        char line[FORMAT_PROGRESS_MAX];

        if (arg_quiet || !isatty(STDERR_FILENO))
                return;
        fputs("\r\x1B[K", stderr);
        fputs(format_progress(line, sizeof(line), phase, done, total, rate), stderr);
        fflush(stderr);
        progress_shown = true;
}

void progress_clear(void) {
        if (!progress_shown)
                return;
        fputs("\r\x1B[K", stderr);
        fflush(stderr);
        progress_shown = false;
}

void print_field(const char *label, const char *value) {
        if (!isempty(value))
                printf("%*s: %s\n", FIELD_LABEL_WIDTH, label, value);
}

void print_fieldf(const char *label, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        print_field(label, s);
}
