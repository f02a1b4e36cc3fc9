/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for cedana's command line without a daemon: the verb and option tables are complete and
 * consistent, parsing picks out verbs, options and `run`'s command, usage errors exit 2 naming
 * the option and the help, completion is derived from the tables, and the detach key works. */

/* Before glib.h: macro.h defines MIN()/MAX() unconditionally, glib #undefs them first. */
#include "macro.h"

#include "bus-error.h"
#include "cli-args.h"
#include "cli-attach.h"
#include "cli-verbs.h"
#include "strv.h"

#include <getopt.h>
#include <glib.h>
#include <signal.h>
#include <string.h>

/* Parses a NULL-terminated word list as if typed after "cedana". */
static int parse(CliCommand *c, ...) {
        char *argv[64] = { (char *) "cedana" };
        int argc = 1;
        va_list ap;
        va_start(ap, c);
        for (const char *w; (w = va_arg(ap, const char *)) && argc < 63;)
                argv[argc++] = (char *) w;
        va_end(ap);
        argv[argc] = NULL;
        cli_args_reset();
        *c = (CliCommand) {};
        return cli_parse_argv(argc, argv, c);
}

static void test_option_table(void) {
        for (size_t i = 0; i < _OPT_MAX; i++) {
                const CliOption *o = &cli_options[i];
                g_assert_cmpint(o->id, ==, (int) i);
                g_assert_nonnull(o->name);
                g_assert_nonnull(o->help);
                g_assert_true(o->name[0] != '-' && strlen(o->name) > 1);
                g_assert_true(o->has_arg == no_argument || o->has_arg == required_argument ||
                              o->has_arg == optional_argument);
                /* A value needs a name in the help, a flag has none. */
                g_assert_true((o->has_arg == no_argument) == (o->metavar == NULL));
                g_assert_true((o->has_arg == no_argument) == (o->value == VALUE_NONE));
                for (size_t j = 0; j < i; j++) {
                        g_assert_cmpstr(cli_options[j].name, !=, o->name);
                        if (o->short_name)
                                g_assert_cmpint(cli_options[j].short_name, !=, o->short_name);
                }
                g_assert_true(cli_option_by_long(o->name) == o);
                if (o->short_name)
                        g_assert_true(cli_option_by_short(o->short_name) == o);
        }
}

static void test_verb_table(void) {
        for (size_t i = 0; i < cli_n_verbs; i++) {
                const Verb *v = &cli_verbs[i];
                if (g_test_verbose())
                        g_test_message("verb %s", verb_full_name(v));
                g_assert_nonnull(v->name);
                g_assert_nonnull(v->fn);
                g_assert_nonnull(v->summary);
                g_assert_nonnull(v->synopsis);
                g_assert_true(v->max_args == VERB_ANY || v->min_args <= v->max_args);
                g_assert_true(verb_find(v->group, v->name) == v);
                /* Global options are accepted everywhere; listing them per verb would hide that. */
                g_assert_cmpuint(v->options & OPTS_GLOBAL, ==, 0);
                /* `cedana dump --help` must not be confused with a verb called "dump". */
                if (v->group)
                        g_assert_null(verb_find(NULL, v->group));
                if (!(v->flags & VERB_HIDDEN)) {
                        g_assert_nonnull(v->section);
                        g_assert_true(v->summary[strlen(v->summary) - 1] != '.');
                }
                if (v->arg == VERB_ARG_PID || v->arg == VERB_ARG_JOB)
                        g_assert_cmpuint(v->min_args, ==, 1);
                for (size_t o = 0; o < _OPT_MAX; o++)
                        if (v->options & OPT_BIT(o))
                                g_assert_nonnull(cli_option_help(&cli_options[o], v));
        }
        g_assert_true(verb_is_group("dump"));
        g_assert_true(verb_is_group("job"));
        g_assert_false(verb_is_group("features"));
        g_assert_nonnull(verb_find("daemon", "status"));
        g_assert_null(verb_find(NULL, "status"));
        g_assert_cmpstr(verb_help_word(verb_find("dump", "job")), ==, "dump");
        g_assert_cmpstr(verb_help_word(verb_find(NULL, "features")), ==, "features");
}

/* Every verb the design names is there. */
static void test_verbs_present(void) {
        static const char *const verbs[][2] = {
                { "dump", "process" },   { "dump", "job" },      { "restore", "process" }, { "restore", "job" },
                { "run", "process" },    { "manage", "process" }, { "job", "list" },        { "job", "checkpoints" },
                { "job", "inspect" },    { "job", "kill" },      { "job", "delete" },      { "job", "attach" },
                { "checkpoint", "list" }, { "checkpoint", "delete" }, { NULL, "features" }, { NULL, "version" },
                { "daemon", "status" },  { NULL, "help" },
        };
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                g_assert_nonnull(verb_find(verbs[i][0], verbs[i][1]));
        g_assert_true(verb_find(NULL, "__complete")->flags & VERB_HIDDEN);
}

static void test_parse_dump(void) {
        CliCommand c;
        g_assert_cmpint(parse(&c, "dump", "process", "1234", "--dir", "/tmp", "--leave-running", "--compression",
                              "zstd", "--external", "unix[1]", "--external=tty[2]", "--name=ck", NULL),
                        ==, 0);
        g_assert_true(c.verb == verb_find("dump", "process"));
        g_assert_cmpint(c.n_args, ==, 1);
        g_assert_cmpstr(c.args[0], ==, "1234");
        g_assert_cmpstr(arg_dir, ==, "/tmp");
        g_assert_cmpstr(arg_name, ==, "ck");
        g_assert_true(arg_leave_running);
        g_assert_false(arg_tcp_established);
        g_assert_cmpint(arg_compression, ==, COMPRESSION_ZSTD);
        g_assert_cmpuint(strv_length(arg_external), ==, 2);
        g_assert_cmpstr(arg_external[1], ==, "tty[2]");
        cli_command_done(&c);

        /* Options may come before the verb, as with systemctl. */
        g_assert_cmpint(parse(&c, "--json", "--no-pager", "-q", "dump", "job", "web", NULL), ==, 0);
        g_assert_true(c.verb == verb_find("dump", "job"));
        g_assert_cmpint(arg_json, ==, JSON_MODE_SHORT);
        g_assert_false(arg_pager);
        g_assert_true(arg_quiet);
        g_assert_cmpint(arg_compression, ==, _COMPRESSION_INVALID);
        cli_command_done(&c);

        g_assert_cmpint(parse(&c, "job", "list", "--json=pretty", "--no-legend", "--all", NULL), ==, 0);
        g_assert_cmpint(arg_json, ==, JSON_MODE_PRETTY);
        g_assert_false(arg_legend);
        g_assert_true(arg_all);
        g_assert_cmpint(c.n_args, ==, 0);
        g_assert_null(c.args);
        cli_command_done(&c);

        g_assert_cmpint(parse(&c, "job", "kill", "web", "--signal", "KILL", NULL), ==, 0);
        g_assert_cmpint(arg_signal, ==, SIGKILL);
        cli_command_done(&c);
        g_assert_cmpint(parse(&c, "job", "kill", "web", NULL), ==, 0);
        g_assert_cmpint(arg_signal, ==, SIGTERM);
        cli_command_done(&c);
}

static void test_parse_run(void) {
        CliCommand c;
        g_assert_cmpint(parse(&c, "run", "process", "--name", "web", "-E", "A=1", "--setenv=B=2", "--", "sh", "-c",
                              "echo --name", NULL),
                        ==, 0);
        g_assert_true(c.verb == verb_find("run", "process"));
        g_assert_cmpint(c.n_args, ==, 3);
        g_assert_cmpstr(c.args[0], ==, "sh");
        g_assert_cmpstr(c.args[1], ==, "-c");
        g_assert_cmpstr(c.args[2], ==, "echo --name");
        g_assert_cmpstr(arg_name, ==, "web");
        g_assert_cmpuint(strv_length(arg_setenv), ==, 2);
        cli_command_done(&c);

        /* Without "--", the command starts at the first word that is no option: its own options
         * stay its own. */
        g_assert_cmpint(parse(&c, "run", "process", "--attach", "ls", "-l", "--all", NULL), ==, 0);
        g_assert_cmpint(c.n_args, ==, 3);
        g_assert_cmpstr(c.args[1], ==, "-l");
        g_assert_cmpstr(c.args[2], ==, "--all");
        g_assert_true(arg_attach);
        g_assert_false(arg_all);
        cli_command_done(&c);

        /* restore process takes the checkpoint as its argument too */
        g_assert_cmpint(parse(&c, "restore", "process", "/var/tmp/ck.tar.zst", "--name", "web", NULL), ==, 0);
        g_assert_cmpint(c.n_args, ==, 1);
        g_assert_cmpstr(c.args[0], ==, "/var/tmp/ck.tar.zst");
        cli_command_done(&c);
        g_assert_cmpint(parse(&c, "restore", "process", "a", "b", NULL), ==, CEDANA_EXIT_USAGE);

        /* A "--" given as an option's value is not the end of the options. */
        g_assert_cmpint(parse(&c, "run", "process", "--name", "--", "true", NULL), ==, 0);
        g_assert_cmpstr(arg_name, ==, "--");
        g_assert_cmpint(c.n_args, ==, 1);
        g_assert_cmpstr(c.args[0], ==, "true");
        cli_command_done(&c);
}

static void test_parse_help(void) {
        CliCommand c;
        g_assert_cmpint(parse(&c, "dump", "--help", NULL), ==, 0);
        g_assert_true(c.help);
        g_assert_null(c.verb);
        g_assert_cmpstr(c.group, ==, "dump");
        cli_command_done(&c);

        g_assert_cmpint(parse(&c, "dump", "process", "-h", NULL), ==, 0);
        g_assert_true(c.help);
        g_assert_true(c.verb == verb_find("dump", "process"));
        cli_command_done(&c);

        g_assert_cmpint(parse(&c, "--version", NULL), ==, 0);
        g_assert_true(c.version);
        cli_command_done(&c);

        g_assert_cmpint(parse(&c, "help", "dump", "job", NULL), ==, 0);
        g_assert_true(c.verb == verb_find(NULL, "help"));
        g_assert_cmpint(c.n_args, ==, 2);
        cli_command_done(&c);

        /* The completion verb sees its words untouched, options included. */
        g_assert_cmpint(parse(&c, "__complete", "dump", "process", "--di", NULL), ==, 0);
        g_assert_true(c.verb == verb_find(NULL, "__complete"));
        g_assert_cmpint(c.n_args, ==, 3);
        g_assert_cmpstr(c.args[2], ==, "--di");
        cli_command_done(&c);
}

static void test_usage_errors(void) {
        static const char *const cases[][8] = {
                /* an option that belongs to another verb */
                { "restore", "process", "--path", "x", "--leave-running", NULL },
                { "dump", "process", "1", "--path", "x", NULL },
                { "job", "list", "--signal", "KILL", NULL },
                { "restore", "job", "web", "--no-server", NULL },
                /* unknown things */
                { "frobnicate", NULL },
                { "dump", "container", "1", NULL },
                { "job", "list", "--frobnicate", NULL },
                { "job", "list", "-Z", NULL },
                /* missing or bad values */
                { "dump", "process", "1", "--dir", NULL },
                { "dump", "process", "1", "--compression", "bzip2", NULL },
                { "job", "kill", "web", "--signal", "FOO", NULL },
                { "job", "list", "--json=yaml", NULL },
                { "job", "list", "--all=yes", NULL },
                { "run", "process", "-E", "NOEQUALS", "--", "true", NULL },
                { "run", "process", "-E", "1A=b", "--", "true", NULL },
                /* argument counts */
                { NULL },
                { "dump", NULL },
                { "dump", "process", NULL },
                { "dump", "process", "1", "2", NULL },
                { "job", "list", "extra", NULL },
                { "run", "process", "--name", "x", NULL },
                { "checkpoint", "delete", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[10] = { (char *) "cedana" };
                int argc = 1;
                CliCommand c = {};
                for (size_t j = 0; cases[i][j]; j++)
                        argv[argc++] = (char *) cases[i][j];
                cli_args_reset();
                int r = cli_parse_argv(argc, argv, &c);
                if (r != CEDANA_EXIT_USAGE)
                        g_test_message("case %zu (%s %s) gave %i", i, strempty(argv[1]), strempty(argv[2]), r);
                g_assert_cmpint(r, ==, CEDANA_EXIT_USAGE);
                cli_command_done(&c);
        }
}

/* The message names the option, the verb, and where the help is, on one line. */
static void test_usage_message(void) {
        if (g_test_subprocess()) {
                CliCommand c;
                exit(parse(&c, "restore", "process", "--path", "x", "--leave-running", NULL));
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_failed();
        g_test_trap_assert_stderr("Option --leave-running does not apply to 'cedana restore process'. "
                                  "See 'cedana restore --help'.\n");
        g_test_trap_assert_stdout("");
}

static void test_help_output(void) {
        if (g_test_subprocess()) {
                cli_help_main();
                g_assert_true(cli_help_group("job"));
                g_assert_false(cli_help_group("nope"));
                cli_help_verb(verb_find("run", "process"));
                exit(0);
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        /* main help: every visible verb, no hidden one, the exit codes */
        g_test_trap_assert_stdout("*dump process PID*daemon status*");
        g_test_trap_assert_stdout_unmatched("*__complete*");
        g_test_trap_assert_stdout("*3 cedanad not reachable*");
        /* group help: each sub-verb with its options */
        g_test_trap_assert_stdout("*cedana job list [--all]*--all*cedana job kill*--signal SIGNAL*");
        /* verb help names the verb-specific meaning of an option */
        g_test_trap_assert_stdout("*cedana run process*--name NAME*Name the job*-E --setenv KEY=VALUE*");
}

static void test_env_assignment(void) {
        g_assert_true(env_assignment_is_valid("A=1"));
        g_assert_true(env_assignment_is_valid("_x9="));
        g_assert_true(env_assignment_is_valid("LANG=C.UTF-8=x"));
        g_assert_false(env_assignment_is_valid("=1"));
        g_assert_false(env_assignment_is_valid("A"));
        g_assert_false(env_assignment_is_valid("9A=1"));
        g_assert_false(env_assignment_is_valid("A-B=1"));
}

static void test_detach(void) {
        DetachState d = {};
        const char three[] = { DETACH_CHAR, DETACH_CHAR, DETACH_CHAR };
        const char two[] = { DETACH_CHAR, DETACH_CHAR };

        g_assert_true(detach_feed(&d, three, 3, 10 * USEC_PER_SEC));

        /* one at a time, within the second */
        d = (DetachState) {};
        g_assert_false(detach_feed(&d, two, 1, 1000));
        g_assert_false(detach_feed(&d, two, 1, 1000 + 400 * USEC_PER_MSEC));
        g_assert_true(detach_feed(&d, two, 1, 1000 + 900 * USEC_PER_MSEC));

        /* too slow: starts over */
        d = (DetachState) {};
        g_assert_false(detach_feed(&d, two, 2, 1000));
        g_assert_false(detach_feed(&d, two, 1, 1000 + 2 * USEC_PER_SEC));
        g_assert_false(detach_feed(&d, two, 1, 1000 + 2 * USEC_PER_SEC + 1));
        g_assert_true(detach_feed(&d, two, 1, 1000 + 2 * USEC_PER_SEC + 2));

        /* anything typed in between resets the count */
        d = (DetachState) {};
        g_assert_false(detach_feed(&d, "\x1d\x1dx\x1d", 4, 1000));
        g_assert_false(detach_feed(&d, "a", 1, 1000));
        g_assert_false(detach_feed(&d, "\x1d\x1d", 2, 1000));
        g_assert_true(detach_feed(&d, "\x1d", 1, 1000));
}

/* Runs `cedana __complete WORDS...` in a subprocess, for its stdout. */
static void complete(const char *const *words) {
        char *argv[16] = { (char *) "cedana", (char *) "__complete" };
        int argc = 2;
        for (size_t i = 0; words[i]; i++)
                argv[argc++] = (char *) words[i];
        CliCommand c = {};
        cli_args_reset();
        g_assert_cmpint(cli_parse_argv(argc, argv, &c), ==, 0);
        exit(c.verb->fn(c.verb, c.n_args, c.args));
}

static void test_complete_verbs(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "dump", "", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("process\njob\nrunc\ncontainerd\n");
}

static void test_complete_prefix(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "du", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("dump\n");
}

static void test_complete_options(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "restore", "process", "--", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        /* the verb's own options, from the table, before the global ones; none of dump's */
        g_test_trap_assert_stdout("--name\n*--path\n--no-server\n--attach\n--log\n--pid-file\n*--no-legend\n*");
        g_test_trap_assert_stdout_unmatched("*--leave-running*");
}

static void test_complete_values(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "dump", "process", "1", "--compression", "z", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("zlib\nzstd\n");
}

static void test_complete_values_inline(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "job", "list", "--json=", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("--json=short\n--json=pretty\n");
}

static void test_complete_files(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "restore", "process", "--path", "/tm", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("__files__\n");
}

static void test_complete_command(void) {
        if (g_test_subprocess()) {
                complete((const char *[]) { "run", "process", "--name", "x", "--", "", NULL });
                return;
        }
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("__commands__\n");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/cli-verbs/option-table", test_option_table);
        g_test_add_func("/cli-verbs/verb-table", test_verb_table);
        g_test_add_func("/cli-verbs/verbs-present", test_verbs_present);
        g_test_add_func("/cli-verbs/parse-dump", test_parse_dump);
        g_test_add_func("/cli-verbs/parse-run", test_parse_run);
        g_test_add_func("/cli-verbs/parse-help", test_parse_help);
        g_test_add_func("/cli-verbs/usage-errors", test_usage_errors);
        g_test_add_func("/cli-verbs/usage-message", test_usage_message);
        g_test_add_func("/cli-verbs/help-output", test_help_output);
        g_test_add_func("/cli-verbs/env-assignment", test_env_assignment);
        g_test_add_func("/cli-verbs/detach", test_detach);
        g_test_add_func("/cli-verbs/complete-verbs", test_complete_verbs);
        g_test_add_func("/cli-verbs/complete-prefix", test_complete_prefix);
        g_test_add_func("/cli-verbs/complete-options", test_complete_options);
        g_test_add_func("/cli-verbs/complete-values", test_complete_values);
        g_test_add_func("/cli-verbs/complete-values-inline", test_complete_values_inline);
        g_test_add_func("/cli-verbs/complete-files", test_complete_files);
        g_test_add_func("/cli-verbs/complete-command", test_complete_command);

        int r = g_test_run();
        cli_args_reset();
        return r;
}
