/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 over OpenSSL's EVP interface, which picks the CPU's SHA instructions when it has them. */

#include <openssl/evp.h>

#include "digest.h"

struct Sha256 {
        EVP_MD_CTX *ctx;
};

int sha256_new(Sha256 **ret) {
        Sha256 *h = calloc(1, sizeof(Sha256));
        if (!h)
                return -ENOMEM;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || sha256_reset(h) < 0) {
                sha256_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

Sha256 *sha256_free(Sha256 *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

int sha256_reset(Sha256 *h) {
        return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int sha256_update(Sha256 *h, const void *buf, size_t n) {
        if (n == 0)
                return 0;
        return EVP_DigestUpdate(h->ctx, buf, n) == 1 ? 0 : -EIO;
}

int sha256_final_hex(Sha256 *h, char ret[SHA256_HEX_SIZE]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n * 2 != SHA256_HEX_LEN)
                return -EIO;
        for (unsigned i = 0; i < n; i++) {
                ret[2 * i] = hex[md[i] >> 4];
                ret[2 * i + 1] = hex[md[i] & 15];
        }
        ret[SHA256_HEX_LEN] = 0;
        return sha256_reset(h);
}

int sha256_hex(const void *buf, size_t n, char ret[SHA256_HEX_SIZE]) {
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        int r = sha256_new(&h);
        if (r >= 0)
                r = sha256_update(h, buf, n);
        if (r >= 0)
                r = sha256_final_hex(h, ret);
        return r;
}

bool sha256_hex_is_valid(const char *s) {
        if (!s || strlen(s) != SHA256_HEX_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}
