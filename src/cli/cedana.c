/* SPDX-License-Identifier: Apache-2.0 */
/* cedana, the command-line client of cedanad: parses the command line against the verb table
 * and runs the verb; everything else lives in the verb files and cli-*.c. */

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "bus-error.h"
#include "cli-args.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "log.h"

int main(int argc, char *argv[]) {
        _cleanup_(cli_command_done) CliCommand c = {};
        const char *level = getenv("CEDANA_LOG_LEVEL");
        int r;

        (void) setlocale(LC_ALL, "");
        /* Errors are for the person at the terminal, as plain sentences, even under systemd. */
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_prefix(NULL);
        if (level && log_level_from_string(level) >= 0)
                log_set_max_level(log_level_from_string(level));

        r = cli_parse_argv(argc, argv, &c);
        if (r != 0)
                return r;
        if (c.help) {
                if (c.verb)
                        cli_help_verb(c.verb);
                else if (c.group)
                        (void) cli_help_group(c.group);
                else
                        cli_help_main();
                return CEDANA_EXIT_SUCCESS;
        }
        if (c.version) {
                printf("cedana %s\n", PACKAGE_VERSION);
                return CEDANA_EXIT_SUCCESS;
        }

        r = c.verb->fn(c.verb, c.n_args, c.args);
        fflush(stdout);
        pager_close();
        polkit_agent_close();
        return r < 0 ? CEDANA_EXIT_FAILURE : r;
}
