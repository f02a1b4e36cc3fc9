/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's grammar in two tables: every option and every verb, with which options
 * each verb takes. Parsing, help, validation and shell completion are all derived from them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json-util.h"

typedef enum CliOptionId {
        /* global: every verb accepts these */
        OPT_HELP,
        OPT_VERSION,
        OPT_NO_PAGER,
        OPT_NO_LEGEND,
        OPT_JSON,
        OPT_NO_ASK_PASSWORD,
        OPT_QUIET,
        /* per verb */
        OPT_DIR,
        OPT_NAME,
        OPT_COMPRESSION,
        OPT_LEAVE_RUNNING,
        OPT_TCP_ESTABLISHED,
        OPT_FILE_LOCKS,
        OPT_SHELL_JOB,
        OPT_EXTERNAL,
        OPT_LINK_REMAP,
        OPT_PATH,
        OPT_NO_SERVER,
        OPT_ATTACH,
        OPT_LOG,
        OPT_PID_FILE,
        OPT_SETENV,
        OPT_ALL,
        OPT_SIGNAL,
        OPT_WITH_CHECKPOINTS,
        OPT_KEEP,
        OPT_JOB,
        OPT_FOLLOW,
        OPT_PRINT_STATS,
        OPT_RUNC_ROOT,
        OPT_ID,
        OPT_BUNDLE,
        OPT_NAMESPACE,
        OPT_EVERY,
        OPT_OFF,
        OPT_NOW,
        _OPT_MAX,
} CliOptionId;

#define OPT_BIT(o) (UINT64_C(1) << (o))
#define OPTS_GLOBAL                                                                             \
        (OPT_BIT(OPT_HELP) | OPT_BIT(OPT_VERSION) | OPT_BIT(OPT_NO_PAGER) | OPT_BIT(OPT_NO_LEGEND) | \
         OPT_BIT(OPT_JSON) | OPT_BIT(OPT_NO_ASK_PASSWORD) | OPT_BIT(OPT_QUIET))

/* What an option's value is, for completion. */
typedef enum CliValue {
        VALUE_NONE,        /* a flag */
        VALUE_TEXT,        /* free text: nothing to offer */
        VALUE_FILE,
        VALUE_DIR,
        VALUE_COMPRESSION,
        VALUE_SIGNAL,
        VALUE_JSON,
        VALUE_JOB,
} CliValue;

typedef struct CliOption {
        CliOptionId id;
        const char *name;    /* long name without "--" */
        char short_name;     /* 0 for none */
        int has_arg;         /* no_argument, required_argument, optional_argument */
        const char *metavar; /* "DIR" */
        CliValue value;
        const char *help;
} CliOption;

/* What a verb's positional arguments are, for completion and help. */
typedef enum VerbArg {
        VERB_ARG_NONE,
        VERB_ARG_PID,
        VERB_ARG_JOB,
        VERB_ARG_CONTAINER, /* a runc container's id */
        VERB_ARG_CONTAINERD, /* a containerd container's id */
        VERB_ARG_CHECKPOINT,
        VERB_ARG_PATH,    /* a file or directory */
        VERB_ARG_CHECKPOINT_OR_PATH, /* a checkpoint ID, or a file or directory */
        VERB_ARG_COMMAND, /* everything after the options, for `run process` */
        VERB_ARG_VERB,    /* a verb name, for `help` */
        VERB_ARG_RAW,     /* passed through unparsed, for `__complete` */
} VerbArg;

typedef enum VerbFlags {
        VERB_HIDDEN = 1 << 0,    /* not in help, not completed */
        VERB_RAW_ARGS = 1 << 1,  /* no option parsing: the words after the verb as they are */
        VERB_NO_DAEMON = 1 << 2, /* never talks to cedanad */
} VerbFlags;

#define VERB_ANY ((unsigned) -1)

typedef struct Verb Verb;

/* A verb's work. args are the positional arguments after the verb's own words. Returns the
 * exit status (0 or one of CEDANA_EXIT_*) after printing why, or a negative errno for an
 * unexpected failure that was logged, which becomes CEDANA_EXIT_FAILURE. */
typedef int (*VerbFunction)(const Verb *verb, int n_args, char **args);

struct Verb {
        const char *group; /* "dump" for `dump process`; NULL for one-word verbs */
        const char *name;
        unsigned min_args, max_args; /* positional arguments after the verb words */
        VerbFunction fn;
        uint64_t options; /* OPT_BIT()s accepted beyond OPTS_GLOBAL */
        VerbArg arg;
        VerbFlags flags;
        const char *section; /* heading in `cedana --help` */
        const char *synopsis; /* arguments and options, after the verb words */
        const char *summary;  /* one line for `cedana --help` */
        const char *description; /* a paragraph for `cedana VERB --help`; NULL: summary */
};

extern const CliOption cli_options[_OPT_MAX];
extern const Verb cli_verbs[];
extern const size_t cli_n_verbs;

const CliOption *cli_option_by_id(CliOptionId id);
const CliOption *cli_option_by_long(const char *name);
const CliOption *cli_option_by_short(char c);

/* The verb `group name` (group may be NULL for one-word verbs). */
const Verb *verb_find(const char *group, const char *name);
/* Whether word names a group of two-word verbs ("dump", "job", ...). */
bool verb_is_group(const char *word);
/* "dump process" or "features", in a static buffer. */
const char *verb_full_name(const Verb *v);
/* The word the usage hint names: the group, or the verb itself: "dump", "features". */
const char *verb_help_word(const Verb *v);
bool verb_accepts_option(const Verb *v, CliOptionId id);

/* The option's help line for this verb (--name means a checkpoint for dump, a job elsewhere). */
const char *cli_option_help(const CliOption *o, const Verb *v);

/* The exit statuses, for help and the manual. */
typedef struct CliExitStatus {
        int code;
        const char *brief; /* a few words, for --help */
        const char *text;  /* a sentence, for cedana(1) */
} CliExitStatus;

extern const CliExitStatus cli_exit_statuses[];
extern const size_t cli_n_exit_statuses;

/* The headings of `cedana --help`, in order. */
extern const char *const cli_sections[];
extern const size_t cli_n_sections;

/* `cedana --help`, `cedana VERB --help` and `cedana GROUP --help`, to stdout. */
void cli_help_main(void);
void cli_help_verb(const Verb *v);
/* Every verb of the group; false if there is no such group. */
bool cli_help_group(const char *group);

/* The verb functions, in cedana-*.c. */
int verb_dump(const Verb *verb, int n_args, char **args);
int verb_restore(const Verb *verb, int n_args, char **args);
int verb_run(const Verb *verb, int n_args, char **args);
int verb_manage(const Verb *verb, int n_args, char **args);
int verb_job_list(const Verb *verb, int n_args, char **args);
int verb_job_checkpoints(const Verb *verb, int n_args, char **args);
int verb_job_inspect(const Verb *verb, int n_args, char **args);
int verb_job_kill(const Verb *verb, int n_args, char **args);
int verb_job_delete(const Verb *verb, int n_args, char **args);
int verb_job_prune(const Verb *verb, int n_args, char **args);
int verb_job_logs(const Verb *verb, int n_args, char **args);
int verb_job_attach(const Verb *verb, int n_args, char **args);
int verb_job_schedule(const Verb *verb, int n_args, char **args);
int verb_job_persist(const Verb *verb, int n_args, char **args);
int verb_job_restore_persisted(const Verb *verb, int n_args, char **args);
int verb_checkpoint_list(const Verb *verb, int n_args, char **args);
int verb_checkpoint_delete(const Verb *verb, int n_args, char **args);
int verb_checkpoint_prune(const Verb *verb, int n_args, char **args);
int verb_checkpoint_inspect(const Verb *verb, int n_args, char **args);
int verb_features(const Verb *verb, int n_args, char **args);
/* cedanad's Features ("key=value" and "flag" strings) as the JSON object `features --json` prints. */
json_t *features_to_json(char **features);
int verb_version(const Verb *verb, int n_args, char **args);
int verb_daemon_status(const Verb *verb, int n_args, char **args);
int verb_help(const Verb *verb, int n_args, char **args);
int verb_man(const Verb *verb, int n_args, char **args);
int verb_complete(const Verb *verb, int n_args, char **args);
