/* SPDX-License-Identifier: Apache-2.0 */
/* Releasing dump and restore options: the D-Bus handlers, the CLI and the checkpoint metadata
 * all fill these structures and free them the same way. */

#include <stdlib.h>

#include "options.h"
#include "strv.h"

void dump_options_done(DumpOptions *o) {
        if (!o)
                return;

        free(o->dir);
        free(o->name);
        strv_free(o->external);
        strv_free(o->attach_pipes);
        free(o->attach_tty);
        free(o->job_log);
        free(o->attach_tty_modes);
        *o = (DumpOptions) {};
}

void restore_options_done(RestoreOptions *o) {
        if (!o)
                return;

        free(o->log);
        free(o->pid_file);
        *o = (RestoreOptions) {};
}
