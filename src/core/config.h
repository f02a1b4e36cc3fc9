/* SPDX-License-Identifier: Apache-2.0 */
/* /etc/cedana/cedana.conf and its cedana.conf.d/ drop-ins: an INI file with [Checkpoint],
 * [CRIU] and [Daemon] sections. Bad values are errors naming file and line. */
#pragma once

#include <stdint.h>

#include "compression.h"

typedef struct Config {
        char *checkpoint_directory; /* [Checkpoint] Directory=, absolute; default DEFAULT_CHECKPOINT_DIR */
        Compression compression;    /* [Checkpoint] Compression=, default none */
        char *criu_binary;          /* [CRIU] Binary=, absolute; default CRIU_BINARY */
        int criu_log_level;         /* [CRIU] LogLevel=, 0..4, default 4 */
        uint64_t idle_exit_usec;    /* [Daemon] IdleExitSec=, seconds or "infinity" (UINT64_MAX) */
        uint64_t max_restore_bytes; /* [Restore] MaxArchiveSize=, bytes with K/M/G/T suffixes */
} Config;

/* Fills in the built-in defaults. */
int config_init(Config *c);
void config_done(Config *c);

/* Applies main_path, then every *.conf in dropin_dir in lexical order (later wins). Missing
 * files and directories are fine. Syntax errors and bad values are logged as
 * "FILE:LINE: message" and return -EINVAL (the first error; parsing continues to report all).
 * Unknown sections and keys are logged as warnings with file and line, and ignored. */
int config_load(Config *c, const char *main_path, const char *dropin_dir);
