/* SPDX-License-Identifier: Apache-2.0 */
/* What every libcurl user in cedana shares: the library's one-time global set-up. */
#pragma once

#include <curl/curl.h>

/* curl_global_init(), once per process, from whichever thread comes first. 0 or -ENOMEM. */
int curl_init(void);

/* Sets an option on an easy handle, or returns CURLE_FAILED_INIT from the calling function. */
#define CURL_SET(h, opt, val)                                        \
        do {                                                         \
                if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) \
                        return CURLE_FAILED_INIT;                    \
        } while (0)
