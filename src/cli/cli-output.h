/* SPDX-License-Identifier: Apache-2.0 */
/* What cedana prints: tables with a header and a legend line (or the same rows as JSON), JSON
 * documents, colours on terminals, the pager, and a one-line progress indicator on stderr. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json-util.h"
#include "macro.h"

#define ANSI_RED "\x1B[0;31m"
#define ANSI_GREEN "\x1B[0;32m"
#define ANSI_YELLOW "\x1B[0;33m"
#define ANSI_GREY "\x1B[0;38;5;245m"
#define ANSI_HIGHLIGHT "\x1B[0;1;39m"
#define ANSI_UNDERLINE "\x1B[0;4m"
#define ANSI_NORMAL "\x1B[0m"

/* Decided once, before a pager takes stdout: stdout is a terminal, TERM is not "dumb" and
 * NO_COLOR is unset. */
bool colors_enabled(void);
/* For tests: force colours on or off. */
void colors_set(bool enabled);
static inline const char *ansi(const char *code) {
        return colors_enabled() ? code : "";
}

/* "●" where the locale is UTF-8, else "*". */
const char *glyph_bullet(void);

/* "       Label: value" lines of the inspect commands, as systemctl status has them; nothing for
 * an empty value. */
#define FIELD_LABEL_WIDTH 13
void print_field(const char *label, const char *value);
void print_fieldf(const char *label, const char *format, ...) _printf_(2, 3);

/* ---- tables ---- */

typedef enum TableAlign {
        TABLE_ALIGN_LEFT,
        TABLE_ALIGN_RIGHT,
} TableAlign;

typedef struct TableColumn {
        const char *header;   /* "JOB" */
        const char *json_key; /* "job" */
        TableAlign align;
} TableColumn;

typedef struct Table Table;

/* columns must outlive the table. */
int table_new(const TableColumn *columns, size_t n_columns, Table **ret);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
#define _cleanup_table_ _cleanup_(table_freep)

/* Appends the next cell (rows fill left to right). text is shown, json (owned, also on failure;
 * NULL means JSON null) goes into --json output; color is an ANSI_* code or NULL. */
int table_add_cell(Table *t, const char *text, const char *color, json_t *json);
/* NULL shows "-" and is null in JSON. */
int table_add_string(Table *t, const char *s);
int table_add_string_colored(Table *t, const char *s, const char *color);
int table_add_unsigned(Table *t, uint64_t u);
/* 0 shows "-" and is null in JSON. */
int table_add_pid(Table *t, uint32_t pid);
int table_add_boolean(Table *t, bool b);
/* format_bytes() for people; bytes in JSON. */
int table_add_bytes(Table *t, uint64_t bytes);
/* "3 seconds ago" / a date for people, µs since the epoch in JSON; 0 shows "-" and is null. */
int table_add_timestamp_relative(Table *t, uint64_t usec);
int table_add_timestamp(Table *t, uint64_t usec);

size_t table_get_rows(const Table *t);
/* The table as text: a header line unless !header, then the rows; columns separated by two
 * spaces, aligned by the width of their widest cell, no trailing blanks. */
int table_format(const Table *t, bool header, bool colors, char **ret);
/* The rows as an array of objects keyed by json_key. */
int table_to_json(const Table *t, json_t **ret);

/* "3 jobs listed." ("1 job listed.", "0 jobs listed."). */
int table_legend(size_t n, const char *singular, const char *plural, char **ret);

/* Prints t to stdout the way the user asked: JSON with --json, else the table with a header and
 * the legend line unless --no-legend. */
int table_print(const Table *t, const char *singular, const char *plural);

/* Prints v to stdout, compact or pretty per --json, with a trailing newline. */
int json_print(const json_t *v);

/* ---- statistics ---- */

/* Adds "compression_ratio" (written_bytes / image_bytes, a real) to a dump's statistics object
 * when both are there and image_bytes is not 0. */
int stats_add_ratio(json_t *stats);
/* The statistics object of a dump or restore (cedanad's Statistics signal) as "Label: value"
 * lines, durations and sizes for people, in a fixed order; keys it does not know are left out. */
int stats_format(const json_t *stats, char **ret);
/* With --print-stats (and without --json or --quiet): "Statistics:" and stats_format()'s lines on
 * stdout; "No statistics" when cedanad sent none. */
int print_stats(const json_t *stats);
/* A dump's reply: "Checkpoint ID written to PATH (SIZE)." and --print-stats, or the JSON of it. */
int print_dump_result(const char *id, const char *path, uint64_t size, json_t *stats);

/* ---- pager ---- */

/* With stdout on a terminal and no --no-pager: from now on stdout goes through $CEDANA_PAGER,
 * $PAGER or "less" (LESS=FRSXMK unless set), until pager_close(), which is also run at exit. */
void pager_open(void);
void pager_close(void);

/* ---- progress ---- */

/* "dumping: 120 MiB of 1.0 GiB (11%)" on one line of stderr, redrawn in place; only when stderr is
 * a terminal and --quiet is not given. With a rate (bytes/s, 0: none) ", 205 MiB/s" follows. */
void progress_show(const char *phase, uint64_t done, uint64_t total);
void progress_show_rate(const char *phase, uint64_t done, uint64_t total, uint64_t rate);
/* Erases the progress line, if one is shown. */
void progress_clear(void);
