/* SPDX-License-Identifier: Apache-2.0 */
/* cedanad: the checkpoint/restore service. Parses its few options and runs the Manager; all
 * else lives in the cedanad static library. */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

static void help(void) {
        printf("cedanad [OPTIONS...]\n\n"
               "The cedana checkpoint/restore service. Started by systemd (cedanad.socket or D-Bus\n"
               "activation of org.cedana.Checkpoint1); not meant to be run by hand.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --config=FILE       Read FILE instead of " PKGSYSCONFDIR "/cedana.conf\n"
               "     --config-dir=DIR    Read drop-ins from DIR instead of " PKGSYSCONFDIR "/cedana.conf.d\n"
               "     --state-dir=DIR     Keep the job store in DIR instead of " STATEDIR "\n"
               "     --log-dir=DIR       Keep job and CRIU logs in DIR instead of " LOGDIR "\n"
               "     --log-level=LEVEL   debug, info, notice, warning or err (default: info)\n"
               "     --log-target=TARGET journal or console (default: journal under systemd)\n");
}

static int parse_argv(int argc, char *argv[], Manager *m) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_CONFIG_DIR, ARG_STATE_DIR, ARG_LOG_DIR, ARG_LOG_LEVEL, ARG_LOG_TARGET };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "log-dir", required_argument, NULL, ARG_LOG_DIR },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                {}
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                char **target = NULL;
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cedanad %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG:
                        target = &m->config_file;
                        break;
                case ARG_CONFIG_DIR:
                        target = &m->config_dropin_dir;
                        break;
                case ARG_STATE_DIR:
                        target = &m->state_dir;
                        break;
                case ARG_LOG_DIR:
                        target = &m->log_dir;
                        break;
                case ARG_LOG_LEVEL: {
                        int l = log_level_from_string(optarg);
                        if (l < 0)
                                return log_error_errno(l, "Unknown log level '%s'.", optarg);
                        log_set_max_level(l);
                        break;
                }
                case ARG_LOG_TARGET:
                        if (streq(optarg, "journal"))
                                log_set_target(LOG_TARGET_JOURNAL);
                        else if (streq(optarg, "console"))
                                log_set_target(LOG_TARGET_CONSOLE);
                        else
                                return log_error_errno(-EINVAL, "Unknown log target '%s'.", optarg);
                        break;
                case '?':
                        return -EINVAL;
                }
                if (target) {
                        free(*target);
                        if (!(*target = strdup(optarg)))
                                return log_oom();
                }
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "cedanad takes no arguments.");
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        log_set_prefix(NULL);
        /* A client that goes away mid-write (an attached terminal) is an EPIPE, not our end. */
        (void) signal(SIGPIPE, SIG_IGN);
        int r = manager_new(&m);
        if (r < 0) {
                log_error_errno(r, "Failed to set up cedanad: %m");
                return EXIT_FAILURE;
        }
        r = parse_argv(argc, argv, m);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        r = manager_startup(m);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=Failed to start: %s\nERRNO=%i", strerror(-r), -r);
                return EXIT_FAILURE;
        }
        r = manager_run(m);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
