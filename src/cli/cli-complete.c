/* SPDX-License-Identifier: Apache-2.0 */
/* `cedana __complete WORDS...`: the candidates for the last word, worked out from the verb and
 * option tables, so the bash, zsh and fish scripts stay thin and never list verbs themselves. */

#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cedana-job.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-complete.h"
#include "cli-verbs.h"
#include "compression.h"
#include "containerd.h"
#include "log.h"
#include "parse-util.h"
#include "path-util.h"
#include "runc.h"

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void candidate(const char *prefix, const char *value, const char *typed) {
        _cleanup_free_ char *s = NULL;
        if (asprintf(&s, "%s%s", prefix, value) < 0)
                return;
        if (startswith(s, typed))
                printf("%s\n", s);
}

static void complete_from_daemon(bool checkpoints, const char *typed);

static void complete_value(const CliOption *o, const char *prefix, const char *typed) {
        static const char *const signals[] = { "TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT" };

        switch (o->value) {
        case VALUE_FILE:
                printf("%s\n", COMPLETE_FILES);
                break;
        case VALUE_DIR:
                printf("%s\n", COMPLETE_DIRS);
                break;
        case VALUE_COMPRESSION:
                for (Compression c = 0; c < _COMPRESSION_MAX; c++)
                        candidate(prefix, compression_to_string(c), typed);
                break;
        case VALUE_SIGNAL:
                for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                        candidate(prefix, signals[i], typed);
                break;
        case VALUE_JSON:
                candidate(prefix, "short", typed);
                candidate(prefix, "pretty", typed);
                break;
        case VALUE_JOB:
                if (isempty(prefix))
                        complete_from_daemon(false, typed);
                break;
        case VALUE_NONE:
        case VALUE_TEXT:
                break;
        }
}

static void complete_options(const Verb *v, const char *typed) {
        /* The verb's own options first: they are what one is looking for. */
        for (size_t k = 0; k < 2 * _OPT_MAX; k++) {
                const CliOption *o = &cli_options[k % _OPT_MAX];
                bool global = OPTS_GLOBAL & OPT_BIT(o->id);
                if ((k < _OPT_MAX) == global)
                        continue;
                if (!global && !(v && verb_accepts_option(v, o->id)))
                        continue;
                candidate("--", o->name, typed);
                if (o->has_arg == optional_argument) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "--%s=", o->name) >= 0)
                                complete_value(o, p, typed);
                }
        }
}

static void complete_verbs(const char *group, const char *typed) {
        for (size_t i = 0; i < cli_n_verbs; i++) {
                const Verb *v = &cli_verbs[i];
                if (v->flags & VERB_HIDDEN)
                        continue;
                if (group) {
                        if (streq_ptr(v->group, group))
                                candidate("", v->name, typed);
                        continue;
                }
                /* Each group once, at its first verb. */
                bool seen = false;
                for (size_t j = 0; v->group && j < i; j++)
                        seen = seen || streq_ptr(cli_verbs[j].group, v->group);
                if (!seen)
                        candidate("", v->group ?: v->name, typed);
        }
}

/* The caller's processes (everyone's for root), from /proc. */
static void complete_pids(const char *typed) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        struct dirent *de;
        uid_t uid = getuid();
        pid_t self = getpid();
        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;
                pid_t pid;
                if (parse_pid(de->d_name, &pid) < 0 || pid == self || pid == 1)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || (uid != 0 && st.st_uid != uid))
                        continue;
                candidate("", de->d_name, typed);
        }
}

/* runc's containers, as its state directory lists them (readable by root only, like runc's own
 * list). */
static void complete_containers(const char *typed) {
        _cleanup_(closedirp) DIR *d = opendir(arg_runc_root ?: RUNC_DEFAULT_ROOT);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (de->d_type == DT_DIR && runc_id_is_valid(de->d_name))
                        candidate("", de->d_name, typed);
}

/* containerd's tasks in the namespace given (or the default one), as its shims' state lists them
 * (readable by root only). */
static void complete_containerd(const char *typed) {
        _cleanup_free_ char *dir = path_join("/run/containerd/io.containerd.runtime.v2.task",
                                             arg_namespace ?: CONTAINERD_DEFAULT_NAMESPACE);
        _cleanup_(closedirp) DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (de->d_type == DT_DIR && containerd_name_is_valid(de->d_name))
                        candidate("", de->d_name, typed);
}

/* Job names or checkpoint ids from cedanad; nothing at all if it cannot be reached. */
static void complete_from_daemon(bool checkpoints, const char *typed) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t n = 0;

        if (cli_bus_connect(&bus, CLI_BUS_QUIET) != 0)
                return;
        if (checkpoints) {
                _cleanup_free_ CheckpointInfo *list = NULL;
                if (list_checkpoints(&bus, "", NULL, &reply, &list, &n) < 0)
                        return;
                for (size_t i = 0; i < n; i++)
                        candidate("", list[i].id, typed);
        } else {
                _cleanup_free_ JobInfo *jobs = NULL;
                if (list_jobs(&bus, NULL, &reply, &jobs, &n) < 0)
                        return;
                for (size_t i = 0; i < n; i++)
                        candidate("", jobs[i].id, typed);
        }
}

/* Where the words before the one being completed have got us. */
typedef struct CompleteState {
        const char *group;
        const Verb *verb;
        bool unknown;               /* a word matched no verb: offer nothing */
        bool dashdash;              /* "--" seen */
        bool command;               /* inside `run`'s command */
        unsigned n_args;            /* positional arguments after the verb's words */
        char *const *args;          /* the first of them */
        const CliOption *needs_value; /* the previous word is an option still wanting its value */
} CompleteState;

static const CliOption *option_wanting_value(const char *word) {
        if (startswith(word, "--")) {
                if (strchr(word, '='))
                        return NULL;
                const CliOption *o = cli_option_by_long(word + 2);
                return o && o->has_arg == required_argument ? o : NULL;
        }
        /* "-qE": the last option of a cluster takes the next word if it wants a value and
         * nothing follows it in this word. */
        for (const char *c = word + 1; *c; c++) {
                const CliOption *o = cli_option_by_short(*c);
                if (o && o->has_arg == required_argument)
                        return c[1] == 0 ? o : NULL;
        }
        return NULL;
}

static void complete_state_feed(CompleteState *s, char *const *words, size_t i) {
        const char *w = words[i];
        if (s->needs_value) {
                s->needs_value = NULL;
                return;
        }
        if (!s->dashdash && !s->command) {
                if (streq(w, "--")) {
                        s->dashdash = true;
                        return;
                }
                if (w[0] == '-' && w[1] != 0) {
                        s->needs_value = option_wanting_value(w);
                        return;
                }
        }
        if (s->verb) {
                if (s->n_args++ == 0)
                        s->args = words + i;
                if (s->verb->arg == VERB_ARG_COMMAND)
                        s->command = true;
                return;
        }
        if (!s->group && verb_is_group(w))
                s->group = w;
        else if (!(s->verb = verb_find(s->group, w)) || (s->verb->flags & VERB_HIDDEN)) {
                s->verb = NULL;
                s->unknown = true;
        }
}

int verb_complete(const Verb *verb, int n_words, char **words) {
        CompleteState s = {};
        const char *typed = n_words > 0 ? words[n_words - 1] : "";

        /* Completion must never prompt, print errors, or wait long. */
        arg_ask_password = false;
        log_set_max_level(LOG_CRIT);

        for (int i = 0; i + 1 < n_words && !s.unknown; i++)
                complete_state_feed(&s, words, (size_t) i);
        if (s.unknown)
                return 0;
        if (s.needs_value) {
                complete_value(s.needs_value, "", typed);
                return 0;
        }
        if (!s.dashdash && !s.command && typed[0] == '-') {
                const char *eq = strchr(typed, '=');
                if (startswith(typed, "--") && eq) {
                        _cleanup_free_ char *name = strndup(typed + 2, (size_t) (eq - typed - 2));
                        const CliOption *o = name ? cli_option_by_long(name) : NULL;
                        if (o && o->has_arg != no_argument) {
                                _cleanup_free_ char *prefix = strndup(typed, (size_t) (eq - typed + 1));
                                if (prefix)
                                        complete_value(o, prefix, typed);
                        }
                        return 0;
                }
                complete_options(s.verb, typed);
                return 0;
        }

        if (!s.verb) {
                complete_verbs(s.group, typed);
                return 0;
        }
        switch (s.verb->arg) {
        case VERB_ARG_PID:
                if (s.n_args == 0)
                        complete_pids(typed);
                break;
        case VERB_ARG_JOB:
                if (s.n_args == 0)
                        complete_from_daemon(false, typed);
                break;
        case VERB_ARG_CONTAINER:
                if (s.n_args == 0)
                        complete_containers(typed);
                break;
        case VERB_ARG_CONTAINERD:
                if (s.n_args == 0)
                        complete_containerd(typed);
                break;
        case VERB_ARG_CHECKPOINT:
                complete_from_daemon(true, typed);
                break;
        case VERB_ARG_PATH:
                if (s.n_args == 0)
                        printf("%s\n", COMPLETE_FILES);
                break;
        case VERB_ARG_CHECKPOINT_OR_PATH:
                /* What is typed as a path completes as one; anything else as an ID. */
                if (s.n_args == 0 && (strchr(typed, '/') || typed[0] == '.' || typed[0] == '~'))
                        printf("%s\n", COMPLETE_FILES);
                else if (s.n_args == 0)
                        complete_from_daemon(true, typed);
                break;
        case VERB_ARG_COMMAND:
                printf("%s\n", s.n_args == 0 ? COMPLETE_COMMANDS : COMPLETE_FILES);
                break;
        case VERB_ARG_VERB:
                if (s.n_args == 0)
                        complete_verbs(NULL, typed);
                else if (s.n_args == 1 && verb_is_group(s.args[0]))
                        complete_verbs(s.args[0], typed);
                break;
        case VERB_ARG_NONE:
                /* Nothing positional to offer: show what can be said instead. */
                if (typed[0] == 0)
                        complete_options(s.verb, typed);
                break;
        case VERB_ARG_RAW:
                break;
        }
        return 0;
}
