/* SPDX-License-Identifier: Apache-2.0 */
/* s3:// checkpoints as cedanad allows them: the administrator's object store ([S3] in
 * cedana.conf, its credentials root's alone) and, for ordinary users, only keys below their own
 * prefix, so that another user's objects are out of reach through cedanad. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "s3.h"

typedef struct Manager Manager;

/* The configured store with its credentials read now (root's file, nobody else's to read).
 * NOT_SUPPORTED with a sentence when there is none, or its credentials cannot be used. */
int manager_s3_config(Manager *m, S3Config *ret, char **reterr);

/* Whether caller may use url ("s3://BUCKET/KEY"; a directory when dir): a store is configured,
 * the URL is well formed, and for anyone but root the key is below their UserPrefix=. < 0 with
 * *error (NotSupported, InvalidArgs, PathNotAllowed). *ret_url: the URL as cedana writes it (no
 * trailing '/' for a directory). */
int remote_check_url(Manager *m, uid_t caller, const char *url, bool dir, char **ret_url, sd_bus_error *error);
