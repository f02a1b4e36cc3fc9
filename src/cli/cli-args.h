/* SPDX-License-Identifier: Apache-2.0 */
/* cedana's command line, parsed against the tables in cli-verbs.c into the arg_* settings and
 * the verb to run, with usage errors that name the option, the verb and where help is. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cli-verbs.h"
#include "compression.h"
#include "macro.h"

typedef enum JsonMode {
        JSON_MODE_OFF,
        JSON_MODE_SHORT,
        JSON_MODE_PRETTY,
} JsonMode;

extern bool arg_pager;
extern bool arg_legend;
extern bool arg_ask_password;
extern bool arg_quiet;
extern JsonMode arg_json;

extern char *arg_dir;
extern char *arg_name;
extern Compression arg_compression; /* _COMPRESSION_INVALID: not given, the daemon decides */
extern bool arg_leave_running;
extern bool arg_tcp_established;
extern bool arg_file_locks;
extern bool arg_shell_job;
extern char **arg_external;
extern bool arg_link_remap;
extern bool arg_print_stats;
extern char *arg_path;
extern bool arg_no_server;
extern bool arg_attach;
extern char *arg_log;
extern char *arg_pid_file;
extern char **arg_setenv;
extern bool arg_all;
extern int arg_signal;
extern bool arg_with_checkpoints;
extern uint32_t arg_keep; /* UINT32_MAX: not given */
extern char *arg_job;
extern bool arg_follow;
extern char *arg_runc_root;
extern char *arg_id;
extern char *arg_bundle;
extern char *arg_namespace;
extern uint64_t arg_every; /* µs; 0: not given */
extern bool arg_off;
extern bool arg_now;

typedef struct CliCommand {
        const Verb *verb;   /* NULL only with help or version */
        const char *group;  /* set when only a group was named: `cedana dump --help` */
        char **args;        /* positional arguments after the verb's words (a strv) */
        int n_args;
        uint64_t given;     /* OPT_BIT()s that appeared */
        bool help;
        bool version;
} CliCommand;

/* Parses argv into the arg_* settings and *ret. Returns 0, or an exit status (> 0) after printing
 * a usage error. Validates that every option given applies to the verb and the number of
 * positional arguments; values that need the verb's context (--name) are the verb's to check. */
int cli_parse_argv(int argc, char *argv[], CliCommand *ret);
void cli_command_done(CliCommand *c);
/* Back to the defaults, freeing what parsing allocated (for tests). */
void cli_args_reset(void);

/* Prints "MESSAGE See 'cedana WORD --help'." (or 'cedana --help' for a NULL word) on one line of
 * stderr and returns CEDANA_EXIT_USAGE. */
int log_usage(const char *help_word, const char *format, ...) _printf_(2, 3);
#define log_verb_usage(verb, ...) log_usage(verb_help_word(verb), __VA_ARGS__)

/* A KEY=VALUE environment assignment with a portable variable name. */
bool env_assignment_is_valid(const char *e);
