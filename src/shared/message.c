/* SPDX-License-Identifier: Apache-2.0 */
/* Error sentences beside return codes. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "message.h"

int message_set(char **reterr, int r, const char *format, ...) {
        if (reterr && !*reterr) {
                va_list ap;
                va_start(ap, format);
                if (vasprintf(reterr, format, ap) < 0)
                        *reterr = NULL;
                va_end(ap);
        }
        return r;
}

int outcome_set(Outcome *o, int r, const char *format, ...) {
        if (o->code == 0) {
                o->code = r;
                va_list ap;
                va_start(ap, format);
                if (vasprintf(&o->message, format, ap) < 0)
                        o->message = NULL;
                va_end(ap);
        }
        return -1;
}

void outcome_done(Outcome *o) {
        free(o->message);
        *o = (Outcome) {};
}
