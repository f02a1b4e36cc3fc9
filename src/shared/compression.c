/* SPDX-License-Identifier: Apache-2.0 */
/* Names and file suffixes of the checkpoint formats, as used on the command line, on the bus
 * and in file names. */

#include <stddef.h>
#include <string.h>

#include "compression.h"
#include "macro.h"

static const char *const compression_table[_COMPRESSION_MAX] = {
        [COMPRESSION_NONE] = "none",
        [COMPRESSION_TAR] = "tar",
        [COMPRESSION_GZIP] = "gzip",
        [COMPRESSION_LZ4] = "lz4",
        [COMPRESSION_ZLIB] = "zlib",
        [COMPRESSION_ZSTD] = "zstd",
};

static const char *const compression_suffix_table[_COMPRESSION_MAX] = {
        [COMPRESSION_NONE] = "",
        [COMPRESSION_TAR] = ".tar",
        [COMPRESSION_GZIP] = ".tar.gz",
        [COMPRESSION_LZ4] = ".tar.lz4",
        [COMPRESSION_ZLIB] = ".tar.zlib",
        [COMPRESSION_ZSTD] = ".tar.zst",
};

const char *compression_to_string(Compression c) {
        if (c < 0 || c >= _COMPRESSION_MAX)
                return NULL;
        return compression_table[c];
}

Compression compression_from_string(const char *s) {
        if (!s)
                return _COMPRESSION_INVALID;
        for (Compression c = 0; c < _COMPRESSION_MAX; c++)
                if (streq(compression_table[c], s))
                        return c;
        return _COMPRESSION_INVALID;
}

const char *compression_suffix(Compression c) {
        if (c < 0 || c >= _COMPRESSION_MAX)
                return NULL;
        return compression_suffix_table[c];
}
