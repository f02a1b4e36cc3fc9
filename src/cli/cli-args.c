/* SPDX-License-Identifier: Apache-2.0 */
/* Command line parsing: getopt_long over the option table, the verb's words picked out between
 * the options, and every usage error as one sentence that says where the help is. */

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-error.h"
#include "cli-args.h"
#include "containerd.h"
#include "log.h"
#include "naming.h"
#include "parse-util.h"
#include "strv.h"

bool arg_pager = true;
bool arg_legend = true;
bool arg_ask_password = true;
bool arg_quiet = false;
JsonMode arg_json = JSON_MODE_OFF;

char *arg_dir = NULL;
char *arg_name = NULL;
Compression arg_compression = _COMPRESSION_INVALID;
bool arg_leave_running = false;
bool arg_tcp_established = false;
bool arg_file_locks = false;
bool arg_shell_job = false;
char **arg_external = NULL;
bool arg_link_remap = false;
bool arg_print_stats = false;
char *arg_path = NULL;
bool arg_no_server = false;
bool arg_attach = false;
char *arg_log = NULL;
char *arg_pid_file = NULL;
char **arg_setenv = NULL;
bool arg_all = false;
int arg_signal = SIGTERM;
bool arg_with_checkpoints = false;
uint32_t arg_keep = UINT32_MAX;
char *arg_job = NULL;
bool arg_follow = false;
uint64_t arg_every = 0;
bool arg_off = false;
bool arg_now = false;
char *arg_runc_root = NULL;
char *arg_id = NULL;
char *arg_bundle = NULL;
char *arg_namespace = NULL;

void cli_args_reset(void) {
        arg_pager = arg_legend = arg_ask_password = true;
        arg_quiet = false;
        arg_json = JSON_MODE_OFF;
        free(arg_dir);
        free(arg_name);
        free(arg_path);
        free(arg_log);
        free(arg_pid_file);
        free(arg_runc_root);
        free(arg_id);
        free(arg_bundle);
        free(arg_namespace);
        arg_dir = arg_name = arg_path = arg_log = arg_pid_file = arg_runc_root = arg_id = arg_bundle = NULL;
        arg_namespace = NULL;
        arg_external = strv_free(arg_external);
        arg_setenv = strv_free(arg_setenv);
        arg_compression = _COMPRESSION_INVALID;
        arg_leave_running = arg_tcp_established = arg_file_locks = arg_shell_job = arg_link_remap = false;
        arg_print_stats = false;
        arg_no_server = arg_attach = arg_all = arg_with_checkpoints = false;
        arg_signal = SIGTERM;
        arg_keep = UINT32_MAX;
        arg_job = mfree(arg_job);
        arg_follow = false;
        arg_every = 0;
        arg_off = arg_now = false;
}

void cli_command_done(CliCommand *c) {
        strv_free(c->args);
        *c = (CliCommand) {};
}

int log_usage(const char *help_word, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        if (help_word)
                fprintf(stderr, " See 'cedana %s --help'.\n", help_word);
        else
                fprintf(stderr, " See 'cedana --help'.\n");
        return CEDANA_EXIT_USAGE;
}

bool env_assignment_is_valid(const char *e) {
        const char *eq = strchr(e, '=');
        if (!eq || eq == e)
                return false;
        for (const char *c = e; c < eq; c++) {
                bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
                if (!alpha && !(c > e && *c >= '0' && *c <= '9'))
                        return false;
        }
        return true;
}

static int set_string(char **p, const char *value) {
        char *s = strdup(value);
        if (!s)
                return log_oom();
        free(*p);
        *p = s;
        return 0;
}

/* Stores one option's value. Returns 0 or an exit status. */
static int apply_option(const CliOption *o, const char *value, const char *help_word) {
        int r;

        switch (o->id) {
        case OPT_HELP:
        case OPT_VERSION:
                return 0; /* recorded in "given" */
        case OPT_NO_PAGER:
                arg_pager = false;
                return 0;
        case OPT_NO_LEGEND:
                arg_legend = false;
                return 0;
        case OPT_JSON:
                if (!value || streq(value, "short"))
                        arg_json = JSON_MODE_SHORT;
                else if (streq(value, "pretty"))
                        arg_json = JSON_MODE_PRETTY;
                else
                        return log_usage(help_word, "--json takes 'short' or 'pretty', not '%s'.", value);
                return 0;
        case OPT_NO_ASK_PASSWORD:
                arg_ask_password = false;
                return 0;
        case OPT_QUIET:
                arg_quiet = true;
                return 0;
        case OPT_DIR:
                return set_string(&arg_dir, value);
        case OPT_NAME:
                return set_string(&arg_name, value);
        case OPT_COMPRESSION:
                arg_compression = compression_from_string(value);
                if (arg_compression < 0)
                        return log_usage(help_word,
                                         "Compression '%s' is not supported; use none, tar, gzip, lz4, zlib or zstd.",
                                         value);
                return 0;
        case OPT_LEAVE_RUNNING:
                arg_leave_running = true;
                return 0;
        case OPT_TCP_ESTABLISHED:
                arg_tcp_established = true;
                return 0;
        case OPT_FILE_LOCKS:
                arg_file_locks = true;
                return 0;
        case OPT_SHELL_JOB:
                arg_shell_job = true;
                return 0;
        case OPT_EXTERNAL:
                if (isempty(value))
                        return log_usage(help_word, "--external needs a resource, e.g. unix[12345].");
                r = strv_extend(&arg_external, value);
                return r < 0 ? log_oom() : 0;
        case OPT_PRINT_STATS:
                arg_print_stats = true;
                return 0;
        case OPT_LINK_REMAP:
                arg_link_remap = true;
                return 0;
        case OPT_PATH:
                return set_string(&arg_path, value);
        case OPT_NO_SERVER:
                arg_no_server = true;
                return 0;
        case OPT_ATTACH:
                arg_attach = true;
                return 0;
        case OPT_LOG:
                return set_string(&arg_log, value);
        case OPT_PID_FILE:
                return set_string(&arg_pid_file, value);
        case OPT_SETENV:
                if (!env_assignment_is_valid(value))
                        return log_usage(help_word, "'%s' is not an environment assignment KEY=VALUE.", value);
                r = strv_extend(&arg_setenv, value);
                return r < 0 ? log_oom() : 0;
        case OPT_ALL:
                arg_all = true;
                return 0;
        case OPT_SIGNAL:
                if (parse_signal(value, &arg_signal) < 0)
                        return log_usage(help_word, "'%s' is not a signal; use a name like TERM or KILL, or a number.",
                                         value);
                return 0;
        case OPT_WITH_CHECKPOINTS:
                arg_with_checkpoints = true;
                return 0;
        case OPT_KEEP: {
                unsigned n;
                if (safe_atou(value, &n) < 0 || n >= UINT32_MAX)
                        return log_usage(help_word, "--keep needs a number of checkpoints, e.g. --keep 3, not '%s'.",
                                         value);
                arg_keep = n;
                return 0;
        }
        case OPT_FOLLOW:
                arg_follow = true;
                return 0;
        case OPT_EVERY:
                if (parse_timespan(value, &arg_every) < 0 || arg_every < USEC_PER_SEC)
                        return log_usage(help_word, "--every needs a time span of a second or more, such as 15min, "
                                         "1h or 1h 30min, not '%s'.", value);
                return 0;
        case OPT_OFF:
                arg_off = true;
                return 0;
        case OPT_NOW:
                arg_now = true;
                return 0;
        case OPT_JOB:
                if (!job_spec_is_valid(value))
                        return log_usage(help_word, "'%s' is not a valid job name.", value);
                return set_string(&arg_job, value);
        case OPT_RUNC_ROOT:
                return set_string(&arg_runc_root, value);
        case OPT_ID:
                return set_string(&arg_id, value);
        case OPT_BUNDLE:
                return set_string(&arg_bundle, value);
        case OPT_NAMESPACE:
                if (!containerd_name_is_valid(value))
                        return log_usage(help_word, "'%s' is not a valid containerd namespace.", value);
                return set_string(&arg_namespace, value);
        case _OPT_MAX:
                break;
        }
        return log_usage(help_word, "Unknown option.");
}

/* Words that name the verb so far: "dump" then "process". */
typedef struct VerbWords {
        const char *group;
        const Verb *verb;
        const char *unknown; /* the first word that matched nothing */
        unsigned n;          /* positional words consumed by the verb's name */
} VerbWords;

static void verb_words_add(VerbWords *w, const char *word) {
        if (w->verb || w->unknown)
                return;
        if (!w->group) {
                if (verb_is_group(word))
                        w->group = word;
                else if (!(w->verb = verb_find(NULL, word)) || (w->verb->flags & VERB_HIDDEN)) {
                        w->verb = NULL;
                        w->unknown = word;
                }
        } else if (!(w->verb = verb_find(w->group, word)))
                w->unknown = word;
        w->n++;
}

static const char *verb_words_help(const VerbWords *w) {
        return w->verb ? verb_help_word(w->verb) : w->group;
}

static void sub_verbs(const char *group, char *buf, size_t l) {
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; i < cli_n_verbs && n < l; i++)
                if (streq_ptr(cli_verbs[i].group, group))
                        n += (size_t) snprintf(buf + n, l - n, "%s%s", n > 0 ? ", " : "", cli_verbs[i].name);
}

static int check_verb(const VerbWords *w, const CliCommand *c) {
        char list[128];
        if (w->unknown && !w->group)
                return log_usage(NULL, "Unknown command '%s'.", w->unknown);
        if (w->unknown || (w->group && !w->verb)) {
                if (c->help && !w->unknown)
                        return 0; /* `cedana dump --help` */
                sub_verbs(w->group, list, sizeof(list));
                if (w->unknown)
                        return log_usage(w->group, "Unknown command 'cedana %s %s'; use one of: %s.", w->group,
                                         w->unknown, list);
                return log_usage(w->group, "'cedana %s' needs one of: %s.", w->group, list);
        }
        if (!w->verb && !c->help && !c->version)
                return log_usage(NULL, "No command given, e.g. 'cedana job list'.");
        return 0;
}

static int check_options(const Verb *v, uint64_t given) {
        for (size_t i = 0; i < _OPT_MAX; i++)
                if ((given & OPT_BIT(i)) && !verb_accepts_option(v, (CliOptionId) i))
                        return log_verb_usage(v, "Option --%s does not apply to 'cedana %s'.", cli_options[i].name,
                                              verb_full_name(v));
        return 0;
}

static int check_arg_count(const Verb *v, int n_args, char **args) {
        const char *name = verb_full_name(v);
        if ((unsigned) n_args < v->min_args) {
                if (v->arg == VERB_ARG_COMMAND)
                        return log_verb_usage(v, "'cedana %s' needs a command to run, after '--'.", name);
                const char *what = v->arg == VERB_ARG_PID          ? "a process ID"
                                   : v->arg == VERB_ARG_JOB        ? "a job name"
                                   : v->arg == VERB_ARG_CONTAINER  ? "a container id"
                                   : v->arg == VERB_ARG_CONTAINERD ? "a container id"
                                   : v->arg == VERB_ARG_CHECKPOINT ? "at least one checkpoint ID"
                                                                   : "more arguments";
                return log_verb_usage(v, "'cedana %s' needs %s.", name, what);
        }
        if (v->max_args != VERB_ANY && (unsigned) n_args > v->max_args) {
                if (v->max_args == 0)
                        return log_verb_usage(v, "'cedana %s' takes no arguments, but got '%s'.", name, args[0]);
                return log_verb_usage(v, "'cedana %s' takes %s%u argument%s, but got '%s' too.", name,
                                      v->min_args < v->max_args ? "at most " : "", v->max_args,
                                      v->max_args == 1 ? "" : "s", args[v->max_args]);
        }
        return 0;
}

#define OPTION_VAL_BASE 0x100

static void build_getopt_tables(struct option *longopts, char *shortopts) {
        size_t n = 0;
        /* '+': stop at the first non-option, so the verb's words and `run`'s command are ours to
         * pick out; ':': report a missing value as ':' rather than '?'. */
        shortopts[n++] = '+';
        shortopts[n++] = ':';
        for (size_t i = 0; i < _OPT_MAX; i++) {
                const CliOption *o = &cli_options[i];
                longopts[i] = (struct option) { o->name, o->has_arg, NULL, OPTION_VAL_BASE + (int) i };
                if (o->short_name) {
                        shortopts[n++] = o->short_name;
                        if (o->has_arg == required_argument)
                                shortopts[n++] = ':';
                }
        }
        longopts[_OPT_MAX] = (struct option) {};
        shortopts[n] = 0;
}

static int parse_error(int c, char *argv[], const VerbWords *w) {
        const char *word = argv[optind - 1];
        const CliOption *o = NULL;
        if (optopt >= OPTION_VAL_BASE)
                o = cli_option_by_id((CliOptionId) (optopt - OPTION_VAL_BASE));
        else if (optopt > 0)
                o = cli_option_by_short((char) optopt);

        if (c == ':') {
                if (o)
                        return log_usage(verb_words_help(w), "Option --%s needs a value (%s).", o->name, o->metavar);
                return log_usage(verb_words_help(w), "Option '%s' needs a value.", word);
        }
        if (o && o->has_arg == no_argument && strchr(word, '='))
                return log_usage(verb_words_help(w), "Option --%s takes no value.", o->name);
        if (optopt > 0 && optopt < OPTION_VAL_BASE)
                return log_usage(verb_words_help(w), "Unknown option '-%c'.", optopt);
        return log_usage(verb_words_help(w), "Unknown option '%s'.", word);
}

int cli_parse_argv(int argc, char *argv[], CliCommand *ret) {
        struct option longopts[_OPT_MAX + 1];
        char shortopts[2 + 2 * _OPT_MAX + 1];
        _cleanup_strv_free_ char **args = NULL;
        CliCommand c = {};
        VerbWords w = {};
        int r;

        /* Raw verbs see their words as they are: `cedana __complete --di` is no option. */
        if (argc >= 2) {
                const Verb *v = verb_find(NULL, argv[1]);
                if (v && (v->flags & VERB_RAW_ARGS)) {
                        args = strv_copy(argv + 2);
                        if (!args)
                                return log_oom();
                        int n = (int) strv_length(args);
                        *ret = (CliCommand) { .verb = v, .n_args = n, .args = TAKE_PTR(args) };
                        return 0;
                }
        }

        build_getopt_tables(longopts, shortopts);
        optind = 0; /* glibc: start over, also on a second call (tests) */
        opterr = 0;
        for (;;) {
                int before = MAX(optind, 1);
                int opt = getopt_long(argc, argv, shortopts, longopts, NULL);

                if (opt == -1) {
                        bool dashdash = optind == before + 1 && streq(argv[before], "--");
                        if (optind >= argc)
                                break;
                        /* Either "--" ended the options, or a word that is no option: a verb word, a
                         * positional argument, or the start of `run`'s command. */
                        if (dashdash || (w.verb && w.verb->arg == VERB_ARG_COMMAND)) {
                                for (; optind < argc; optind++) {
                                        verb_words_add(&w, argv[optind]);
                                        if (strv_extend(&args, argv[optind]) < 0)
                                                return log_oom();
                                }
                                break;
                        }
                        verb_words_add(&w, argv[optind]);
                        if (strv_extend(&args, argv[optind]) < 0)
                                return log_oom();
                        optind++;
                        continue;
                }
                if (opt == '?' || opt == ':')
                        return parse_error(opt, argv, &w);

                const CliOption *o = opt >= OPTION_VAL_BASE ? cli_option_by_id((CliOptionId) (opt - OPTION_VAL_BASE))
                                                            : cli_option_by_short((char) opt);
                if (!o)
                        return parse_error('?', argv, &w);
                c.given |= OPT_BIT(o->id);
                r = apply_option(o, optarg, verb_words_help(&w));
                if (r != 0)
                        return r;
        }

        c.help = c.given & OPT_BIT(OPT_HELP);
        c.version = c.given & OPT_BIT(OPT_VERSION);
        r = check_verb(&w, &c);
        if (r != 0)
                return r;

        c.verb = w.verb;
        c.group = w.verb ? NULL : w.group;
        size_t n = strv_length(args);
        if (w.n < n) {
                /* Drop the verb's own words; what remains are its arguments. */
                for (size_t i = 0; i < w.n; i++)
                        free(args[i]);
                memmove(args, args + w.n, (n - w.n + 1) * sizeof(char *));
        } else
                args = strv_free(args);
        c.n_args = (int) strv_length(args);
        c.args = TAKE_PTR(args);

        if (c.verb && !c.help) {
                r = check_options(c.verb, c.given);
                if (r == 0)
                        r = check_arg_count(c.verb, c.n_args, c.args);
                if (r != 0) {
                        cli_command_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}
