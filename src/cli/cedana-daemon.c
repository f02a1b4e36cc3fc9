/* SPDX-License-Identifier: Apache-2.0 */
/* The verbs about cedanad itself: features, version, daemon status; and help, which needs no
 * daemon at all. */

#include <stdio.h>
#include <unistd.h>

#include "build-config.h"
#include "bus-error.h"
#include "cedana-job.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "config.h"
#include "log.h"
#include "strv.h"

static int get_string_property(CliBus *bus, const char *name, sd_bus_error *error, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;
        int r = cli_bus_get_property(bus, NULL, CEDANA_MANAGER_INTERFACE, name, error, &reply, "s");
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &s);
        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_features(CliBus *bus, sd_bus_error *error, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = cli_bus_get_property(bus, NULL, CEDANA_MANAGER_INTERFACE, "Features", error, &reply, "as");
        if (r < 0)
                return r;
        return sd_bus_message_read_strv(reply, ret);
}

/* The Features property ("criu=4.2.1", "compression=zstd" once per format, "polkit",
 * "gpu=no") as one JSON object: {"criu": "4.2.1", "compression": ["none", ...], "polkit": true,
 * "gpu": false}, keys with '_' for '-' as in every other JSON of ours. */
json_t *features_to_json(char **features) {
        _cleanup_json_ json_t *o = json_object();
        if (!o)
                return NULL;
        STRV_FOREACH(f, features) {
                char key[64];
                size_t l = strcspn(*f, "=");
                snprintf(key, sizeof(key), "%.*s", (int) MIN(l, sizeof(key) - 1), *f);
                for (char *p = key; *p; p++)
                        if (*p == '-')
                                *p = '_';
                const char *v = (*f)[l] == '=' ? *f + l + 1 : NULL;
                json_t *value = !v ? json_true() : streq(v, "no") ? json_false() : json_string(v);
                int r;
                if (streq(key, "compression")) {
                        if (!json_object_get(o, key) && json_object_set_new(o, key, json_array()) < 0) {
                                json_decref(value);
                                return NULL;
                        }
                        r = json_array_append_new(json_object_get(o, key), value);
                } else
                        r = json_object_set_new(o, key, value);
                if (r < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

int verb_features(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **features = NULL;
        int r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = get_features(&bus, &error, &features);
        if (r < 0)
                return log_bus_error(&error, r, "read cedanad's features");
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = features_to_json(features);
                if (!v)
                        return log_oom();
                return json_print(v);
        }
        STRV_FOREACH(f, features)
                printf("%s\n", *f);
        return 0;
}

int verb_version(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_free_ char *daemon = NULL;

        /* The client's version is useful on its own: a missing daemon is no error here. */
        if (cli_bus_connect(&bus, CLI_BUS_QUIET) == 0)
                (void) get_string_property(&bus, "Version", NULL, &daemon);
        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = json_pack("{s:s, s:o}", "cedana", PACKAGE_VERSION, "cedanad",
                                                     json_string_or_null(daemon));
                if (!v)
                        return log_oom();
                return json_print(v);
        }
        printf("cedana %s\n", PACKAGE_VERSION);
        printf("cedanad %s\n", daemon ?: "(not reachable)");
        return 0;
}

int verb_daemon_status(const Verb *verb, int n_args, char **args) {
        _cleanup_(cli_bus_done) CliBus bus = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unref_pairp) sd_bus_message *replies[2] = {};
        _cleanup_free_ char *version = NULL, *directory = NULL;
        _cleanup_strv_free_ char **features = NULL;
        _cleanup_free_ JobInfo *jobs = NULL;
        size_t n = 0, running = 0, scheduled = 0, persisted = 0;
        int r;

        r = cli_bus_connect(&bus, 0);
        if (r != 0)
                return r;
        r = get_string_property(&bus, "Version", &error, &version);
        if (r >= 0)
                r = get_string_property(&bus, "CheckpointDirectory", &error, &directory);
        if (r >= 0)
                r = get_features(&bus, &error, &features);
        if (r >= 0)
                r = list_jobs_with_schedules(&bus, &error, replies, &jobs, &n);
        if (r < 0)
                return log_bus_error(&error, r, "ask cedanad about itself");
        for (size_t i = 0; i < n; i++) {
                running += streq(jobs[i].state, "running");
                scheduled += jobs[i].schedule_usec > 0;
                persisted += jobs[i].persist || jobs[i].restore_at_boot;
        }

        if (arg_json != JSON_MODE_OFF) {
                _cleanup_json_ json_t *v = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "running", 1,
                                                     "connection", bus.private_socket ? "private-socket" : "system-bus",
                                                     "version", version, "checkpoint_directory", directory, "jobs",
                                                     (json_int_t) n, "running_jobs", (json_int_t) running,
                                                     "scheduled_jobs", (json_int_t) scheduled, "persisted_jobs",
                                                     (json_int_t) persisted, "features", json_strv(features));
                if (!v)
                        return log_oom();
                return json_print(v);
        }

        _cleanup_free_ char *joined = strv_join(features, " ");
        printf("%s%s%s cedanad is running, reached through %s.\n", ansi(ANSI_GREEN), glyph_bullet(), ansi(ANSI_NORMAL),
               cli_bus_describe(&bus));
        print_field("Version", version);
        /* Yours, where the configured one is per user. */
        _cleanup_free_ char *mine = NULL;
        print_field("Checkpoints", checkpoint_directory_expand(directory, getuid(), &mine, NULL) >= 0 ? mine : directory);
        print_fieldf("Jobs", "%zu (%zu running, %zu on a schedule, %zu kept across reboots)", n, running, scheduled,
                     persisted);
        print_field("Features", strempty(joined));
        return 0;
}

int verb_help(const Verb *verb, int n_args, char **args) {
        const Verb *v;

        if (n_args == 0) {
                cli_help_main();
                return 0;
        }
        if (n_args == 1 && cli_help_group(args[0]))
                return 0;
        v = n_args == 1 ? verb_find(NULL, args[0]) : verb_find(args[0], args[1]);
        if (!v || (v->flags & VERB_HIDDEN)) {
                if (n_args == 1)
                        return log_usage(NULL, "Unknown command '%s'.", args[0]);
                return log_usage(NULL, "Unknown command '%s %s'.", args[0], args[1]);
        }
        cli_help_verb(v);
        return 0;
}
