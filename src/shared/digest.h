/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 through OpenSSL's libcrypto: what binds a checkpoint record to its bytes. Digests are
 * handled as lowercase hex, the form cedana.json, the job store and sha256sum use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SHA256_HEX_LEN 64
#define SHA256_HEX_SIZE (SHA256_HEX_LEN + 1)

typedef struct Sha256 Sha256;

int sha256_new(Sha256 **ret);
Sha256 *sha256_free(Sha256 *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sha256 *, sha256_free);
/* Starts over, as if new. */
int sha256_reset(Sha256 *h);
int sha256_update(Sha256 *h, const void *buf, size_t n);
/* The digest of everything fed since the last reset, as 64 lowercase hex digits and a NUL. */
int sha256_final_hex(Sha256 *h, char ret[SHA256_HEX_SIZE]);
/* One-shot. */
int sha256_hex(const void *buf, size_t n, char ret[SHA256_HEX_SIZE]);
/* Exactly 64 lowercase hex digits. */
bool sha256_hex_is_valid(const char *s);
