/* SPDX-License-Identifier: Apache-2.0 */

#include <errno.h>
#include <pthread.h>

#include "curl-util.h"

/* curl_global_init() is not thread-safe in every libcurl we accept (7.75 and later), so it runs
 * exactly once, whichever thread gets here first. There is no curl_global_cleanup(): handles may
 * live in other threads until the process ends. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int curl_init(void) {
        (void) pthread_once(&curl_once, curl_init_once);
        return curl_init_result == CURLE_OK ? 0 : -ENOMEM;
}
