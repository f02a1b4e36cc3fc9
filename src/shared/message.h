/* SPDX-License-Identifier: Apache-2.0 */
/* The one sentence a failure carries beside its return code, for the user to read. */
#pragma once

#include "macro.h"

/* Sets *reterr (if reterr is given and *reterr is still NULL: the first cause wins) and
 * returns r. */
int message_set(char **reterr, int r, const char *format, ...) _printf_(3, 4);

/* The failure that explains how a piece of work of several steps ended: the first one recorded;
 * what fails after it is a consequence. code 0: nothing failed. */
typedef struct Outcome {
        int code;
        char *message;
} Outcome;

/* Records r (a CedanaError or -errno) and its sentence unless a failure is recorded already;
 * returns -1, what CRIU's callbacks return to give up. */
int outcome_set(Outcome *o, int r, const char *format, ...) _printf_(3, 4);
void outcome_done(Outcome *o);
