/* SPDX-License-Identifier: Apache-2.0 */
/* The checkpoint formats a user can ask for (--compression) and the file suffix of each. */
#pragma once

#include <errno.h>

typedef enum Compression {
        COMPRESSION_NONE, /* a plain directory of CRIU images */
        COMPRESSION_TAR,  /* <name>.tar */
        COMPRESSION_GZIP, /* <name>.tar.gz */
        COMPRESSION_LZ4,  /* <name>.tar.lz4 (LZ4 frame format) */
        COMPRESSION_ZLIB, /* <name>.tar.zlib (RFC 1950 stream) */
        COMPRESSION_ZSTD, /* <name>.tar.zst */
        _COMPRESSION_MAX,
        _COMPRESSION_INVALID = -EINVAL,
} Compression;

/* "none", "tar", "gzip", "lz4", "zlib", "zstd"; NULL when out of range. */
const char *compression_to_string(Compression c);
/* The inverse; _COMPRESSION_INVALID for anything else (also NULL). */
Compression compression_from_string(const char *s);
/* "", ".tar", ".tar.gz", ".tar.lz4", ".tar.zlib", ".tar.zst"; NULL when out of range. */
const char *compression_suffix(Compression c);
