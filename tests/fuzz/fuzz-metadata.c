/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as cedana.json, through the JSON parser and the metadata
 * validator; whatever is accepted must format and parse back to the same metadata. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        JsonVariant *v = NULL;
        char *err = NULL;
        if (json_parse((const char *) data, size, &v, &err) < 0) {
                free(err);
                return 0;
        }
        /* Formatting what was parsed and parsing it again gives the same text. */
        char *a = NULL, *b = NULL;
        JsonVariant *w = NULL;
        if (json_format(v, 0, &a) < 0 || json_parse(a, strlen(a), &w, NULL) < 0 || json_format(w, 0, &b) < 0 ||
            strcmp(a, b) != 0)
                abort();

        CheckpointMetadata *m = NULL;
        if (metadata_from_json(v, &m, &err) >= 0) {
                JsonVariant *again = NULL;
                CheckpointMetadata *m2 = NULL;
                if (metadata_to_json(m, &again) < 0 || metadata_from_json(again, &m2, NULL) < 0)
                        abort();
                if (m2->n_files != m->n_files || m2->size != m->size || strcmp(m2->id, m->id) != 0)
                        abort();
                json_free(again);
                metadata_free(m2);
        }
        metadata_free(m);
        free(err);
        free(a);
        free(b);
        json_free(w);
        json_free(v);
        return 0;
}
