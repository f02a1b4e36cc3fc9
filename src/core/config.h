/* SPDX-License-Identifier: Apache-2.0 */
/* /etc/cedana/cedana.conf and its cedana.conf.d/ drop-ins: an INI file with [Checkpoint],
 * [CRIU], [Containers], [Daemon], [Jobs], [Restore] and [S3] sections. Bad values are errors naming file and line. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compression.h"

typedef struct Config {
        /* [Checkpoint] Directory=, absolute, with %u (user name) and %U (uid) of the caller;
         * default DEFAULT_CHECKPOINT_DIR */
        char *checkpoint_directory;
        Compression compression;    /* [Checkpoint] Compression=, default none */
        char *criu_binary;          /* [CRIU] Binary=, absolute; default CRIU_BINARY */
        int criu_log_level;         /* [CRIU] LogLevel=, 0..4, default 4 */
        char *runc_binary;          /* [Containers] Runc=, absolute; default RUNC_BINARY */
        char *containerd_address;   /* [Containers] Containerd=, its socket; default CONTAINERD_DEFAULT_ADDRESS */
        uint64_t idle_exit_usec;    /* [Daemon] IdleExitSec=, seconds or "infinity" (UINT64_MAX) */
        uint64_t max_restore_bytes; /* [Restore] MaxArchiveSize=, bytes with K/M/G/T suffixes */
        /* [Jobs] CollectAfterSec=: ended jobs without checkpoints, and CRIU's logs of failed
         * operations, are removed this long after they ended; UINT64_MAX: never */
        uint64_t collect_after_usec;
        /* [Jobs] PersistAll=: every running job is checkpointed at shutdown and restored at boot,
         * as if marked with `cedana job persist`; default no */
        bool persist_all;
        unsigned restore_timeout_sec; /* [Restore] TimeoutSec=: CRIU is stopped after this; 0: never */
        /* [S3]: the object store s3:// checkpoints go to; NULL endpoint: none configured. */
        char *s3_endpoint;          /* Endpoint=, http:// or https://, without a trailing slash */
        char *s3_region;            /* Region=, default "us-east-1" */
        char *s3_credentials_file;  /* CredentialsFile=, default PKGSYSCONFDIR "/s3-credentials" */
        char *s3_ca_file;           /* CAFile=, NULL: the system's CAs */
        bool s3_path_style;         /* PathStyle=, default yes */
        /* UserPrefix=, with %U or %u: where ordinary users' keys must begin, default "users/%U/" */
        char *s3_user_prefix;
} Config;

#define CONFIG_S3_REGION_DEFAULT "us-east-1"
#define CONFIG_S3_USER_PREFIX_DEFAULT "users/%U/"
#define CONFIG_S3_CREDENTIALS_DEFAULT PKGSYSCONFDIR "/s3-credentials"

#define CONFIG_COLLECT_AFTER_DEFAULT_USEC (UINT64_C(7) * 24 * 3600 * 1000000)
#define CONFIG_RESTORE_TIMEOUT_DEFAULT_SEC 3600

/* A Directory= value for uid, its specifiers expanded. *ret_per_user (may be NULL): whether it
 * had any, and so is a directory cedanad creates for the user on demand. */
int checkpoint_directory_expand(const char *pattern, uid_t uid, char **ret, bool *ret_per_user);
static inline int config_checkpoint_directory_for(const Config *c, uid_t uid, char **ret, bool *ret_per_user) {
        return checkpoint_directory_expand(c->checkpoint_directory, uid, ret, ret_per_user);
}

/* Fills in the built-in defaults. */
int config_init(Config *c);
void config_done(Config *c);

/* Applies main_path, then every *.conf in dropin_dir in lexical order (later wins; hidden files
 * are skipped); either may be NULL. c must have been set up by config_init(). Missing files and
 * directories are fine. Syntax errors and bad values are logged as "FILE:LINE: message" and
 * return -EINVAL (the first error; parsing continues to report all, and every valid assignment
 * is applied). A file that exists but cannot be read is logged and its -errno returned (if it
 * is the first error). An empty value ("Key=") resets the key to its default. Unknown sections
 * and keys are logged as warnings with file and line, and ignored. */
int config_load(Config *c, const char *main_path, const char *dropin_dir);
