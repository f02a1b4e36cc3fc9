/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's commonest failures in words that say what happened and what to do, for the user; CRIU's
 * own line stays in its log. Matched on the last error line of CRIU's log: CRIU reports these
 * in no other way. */
#pragma once

/* One sentence for CRIU's error line, or NULL (also without memory) when it is not one of the
 * known ones. */
char *criu_explain(const char *line);
