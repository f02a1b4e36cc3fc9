/* SPDX-License-Identifier: Apache-2.0 */
/* s3:// URLs against the configured store and each user's own prefix. */

#include <stdio.h>
#include <stdlib.h>

#include "bus-error.h"
#include "config.h"
#include "macro.h"
#include "manager.h"
#include "message.h"
#include "remote.h"

int manager_s3_config(Manager *m, S3Config *ret, char **reterr) {
        const Config *c = &m->config;
        if (!c->s3_endpoint)
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "cedanad has no object store to keep checkpoints "
                                   "in; ask the administrator to set [S3] Endpoint= in cedana.conf.");
        S3Config s = { .path_style = c->s3_path_style };
        int r = s3_credentials_read(c->s3_credentials_file, &s.access_key, &s.secret_key);
        if (r == -ENOENT)
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "The object store's credentials file %s does not "
                                   "exist; ask the administrator to create it ([S3] CredentialsFile=).",
                                   c->s3_credentials_file);
        if (r == -EPERM)
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "The object store's credentials file %s is not "
                                   "root's alone; it must be owned by root with mode 0600.", c->s3_credentials_file);
        if (r == -EBADMSG)
                return message_set(reterr, CEDANA_E_NOT_SUPPORTED, "The object store's credentials file %s needs "
                                   "the lines AccessKeyId= and SecretAccessKey=.", c->s3_credentials_file);
        if (r < 0)
                return message_set(reterr, r, "Cannot read the object store's credentials file %s: %s.",
                                   c->s3_credentials_file, strerror(-r));
        if (!(s.endpoint = strdup(c->s3_endpoint)) || !(s.region = strdup(c->s3_region)) ||
            (c->s3_ca_file && !(s.ca_file = strdup(c->s3_ca_file)))) {
                s3_config_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int remote_check_url(Manager *m, uid_t caller, const char *url, bool dir, char **ret_url, sd_bus_error *error) {
        if (!m->config.s3_endpoint)
                return bus_error_setf(error, CEDANA_E_NOT_SUPPORTED, "cedanad has no object store to keep checkpoints "
                                      "in; ask the administrator to set [S3] Endpoint= in cedana.conf.");
        _cleanup_free_ char *bucket = NULL, *key = NULL;
        if (s3_url_parse(url, &bucket, &key) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.128s' is not an s3://BUCKET/KEY URL "
                                         "cedana can use.", url);
        /* A directory's key ends where a name is added after a '/'. */
        size_t l = strlen(key);
        while (dir && l > 0 && key[l - 1] == '/')
                key[--l] = 0;
        if (!dir && l == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%.128s' names a bucket, not a "
                                         "checkpoint; give s3://BUCKET/KEY.", url);
        if (caller != 0) {
                _cleanup_free_ char *prefix = NULL;
                int r = checkpoint_directory_expand(m->config.s3_user_prefix, caller, &prefix, NULL);
                if (r < 0)
                        return r;
                /* "users/1000" as a directory is the prefix itself. */
                bool inside = startswith(key, prefix) ||
                              (dir && strncmp(key, prefix, strlen(prefix) - 1) == 0 && key[strlen(prefix) - 1] == 0);
                if (!inside)
                        return bus_error_setf(error, CEDANA_E_PATH_NOT_ALLOWED, "Your checkpoints on the object store "
                                              "go below s3://%s/%s; choose a %s there.", bucket, prefix,
                                              dir ? "--dir" : "path");
        }
        char *u = NULL;
        if (asprintf(&u, "s3://%s%s%s", bucket, l > 0 ? "/" : "", key) < 0)
                return -ENOMEM;
        *ret_url = u;
        return 0;
}
