/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as cedana.json, through the metadata parser and validator;
 * whatever is accepted must format and parse back to the same metadata, with the digest of
 * what was written. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CheckpointMetadata *m = NULL;
        char *err = NULL;
        if (metadata_parse((const char *) data, size, &m, &err) < 0) {
                /* every refusal says why */
                if (!err)
                        abort();
                free(err);
                return 0;
        }
        /* Accepted: as we would write it, it reads back the same. Metadata of format 1 is
         * written as format 2, with digests we do not have: only format 2 goes round. */
        if (m->format_version == METADATA_FORMAT_VERSION) {
                char *text = NULL, digest[METADATA_DIGEST_SIZE];
                size_t n = 0;
                CheckpointMetadata *m2 = NULL;
                if (metadata_format(m, &text, &n, digest) < 0 || metadata_parse(text, n, &m2, NULL) < 0)
                        abort();
                if (m2->n_files != m->n_files || m2->size != m->size || strcmp(m2->id, m->id) != 0 ||
                    strcmp(m2->digest, digest) != 0)
                        abort();
                metadata_free(m2);
                free(text);
        }
        metadata_free(m);
        free(err);
        return 0;
}
