/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana __man`: the commands, options and exit statuses of cedana(1) as scdoc, written from
 * the same tables as --help and completion, so the manual cannot disagree with the program.
 * man/render puts it into man/cedana.1.scd.in at build time. */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli-verbs.h"
#include "macro.h"

/* Text in scdoc: '*' and '_' would start emphasis, '\' escapes. */
static void put_text(const char *s) {
        for (; *s; s++) {
                if (strchr("*_\\", *s))
                        putchar('\\');
                putchar(*s);
        }
}

/* A sentence: what the help says, with its final period. */
static void put_sentence(const char *s) {
        put_text(s);
        if (!isempty(s) && s[strlen(s) - 1] != '.')
                putchar('.');
}

/* "--dir DIR": the option bold, its value underlined. */
static void put_option(const CliOption *o) {
        if (o->short_name)
                printf("*-%c*, ", o->short_name);
        printf("*--");
        put_text(o->name);
        printf("*");
        if (o->metavar) {
                printf(o->has_arg == optional_argument ? "[=_" : " _");
                put_text(o->metavar);
                printf(o->has_arg == optional_argument ? "_]" : "_");
        }
}

static void put_options(uint64_t mask, const Verb *v) {
        for (size_t i = 0; i < _OPT_MAX; i++) {
                if (!(mask & OPT_BIT(i)))
                        continue;
                printf("\t");
                put_option(&cli_options[i]);
                printf("\n\t\t");
                put_sentence(cli_option_help(&cli_options[i], v));
                printf("\n\n");
        }
}

static void put_verb(const Verb *v) {
        printf("*cedana %s*", verb_full_name(v));
        if (!isempty(v->synopsis)) {
                putchar(' ');
                put_text(v->synopsis);
        }
        printf("\n\t");
        put_sentence(v->description ?: v->summary);
        printf("\n\n");
        put_options(v->options, v);
}

int verb_man(const Verb *verb, int n_args, char **args) {
        printf("# COMMANDS\n\n");
        for (size_t s = 0; s < cli_n_sections; s++) {
                printf("## %s\n\n", cli_sections[s]);
                for (size_t i = 0; i < cli_n_verbs; i++)
                        if (!(cli_verbs[i].flags & VERB_HIDDEN) && streq_ptr(cli_verbs[i].section, cli_sections[s]))
                                put_verb(&cli_verbs[i]);
        }
        printf("# OPTIONS\n\nEvery command takes these:\n\n");
        put_options(OPTS_GLOBAL, NULL);
        printf("# EXIT STATUS\n\n");
        for (size_t i = 0; i < cli_n_exit_statuses; i++) {
                printf("*%d*\n\t", cli_exit_statuses[i].code);
                put_text(cli_exit_statuses[i].text);
                printf("\n\n");
        }
        return 0;
}
