/* SPDX-License-Identifier: Apache-2.0 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "curl-util.h"
#include "grpc.h"
#include "message.h"

/* Answers are a container's record or a task's state: small. A bigger one is not containerd's. */
#define GRPC_ANSWER_MAX (16U << 20)
#define GRPC_MESSAGE_MAX 1024
#define GRPC_CONNECT_TIMEOUT_SEC 10L

struct GrpcChannel {
        CURL *curl;
        struct curl_slist *headers;
        char *socket_path;
        /* The call under way: */
        char *body;
        size_t body_size;
        bool too_big;
        int status; /* grpc-status, -1 until it came */
        char message[GRPC_MESSAGE_MAX];
        char errbuf[CURL_ERROR_SIZE];
};

GrpcChannel *grpc_channel_free(GrpcChannel *ch) {
        if (!ch)
                return NULL;
        if (ch->curl)
                curl_easy_cleanup(ch->curl);
        curl_slist_free_all(ch->headers);
        free(ch->socket_path);
        free(ch->body);
        free(ch);
        return NULL;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        GrpcChannel *ch = userdata;
        size_t len = size * n;
        if (ch->body_size + len > GRPC_ANSWER_MAX) {
                ch->too_big = true;
                return 0;
        }
        char *b = realloc(ch->body, ch->body_size + len);
        if (!b)
                return 0;
        memcpy(b + ch->body_size, data, len);
        ch->body = b;
        ch->body_size += len;
        return len;
}

/* grpc-message is percent-encoded (grpc/doc/PROTOCOL-HTTP2.md). */
static void percent_decode(const char *s, size_t len, char *out, size_t out_size) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 1 < out_size; i++) {
                if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char) s[i + 1]) &&
                    isxdigit((unsigned char) s[i + 2])) {
                        char hex[3] = { s[i + 1], s[i + 2], 0 };
                        out[o++] = (char) strtoul(hex, NULL, 16);
                        i += 2;
                } else
                        out[o++] = s[i];
        }
        out[o] = 0;
}

/* Headers and trailers alike: the status comes in the trailers, or in the headers of an answer
 * that is nothing but its status. */
static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        GrpcChannel *ch = userdata;
        size_t len = size * n, k = len;
        while (k > 0 && (data[k - 1] == '\r' || data[k - 1] == '\n'))
                k--;
        static const char status[] = "grpc-status:", message[] = "grpc-message:";
        if (k > STRLEN(status) && strncasecmp(data, status, STRLEN(status)) == 0) {
                char num[16] = "";
                size_t i = STRLEN(status), m = 0;
                while (i < k && data[i] == ' ')
                        i++;
                while (i < k && m + 1 < sizeof(num))
                        num[m++] = data[i++];
                char *end;
                long v = strtol(num, &end, 10);
                ch->status = m > 0 && *end == 0 && v >= 0 && v < 64 ? (int) v : 2 /* UNKNOWN */;
        } else if (k > STRLEN(message) && strncasecmp(data, message, STRLEN(message)) == 0) {
                size_t i = STRLEN(message);
                while (i < k && data[i] == ' ')
                        i++;
                percent_decode(data + i, k - i, ch->message, sizeof(ch->message));
        }
        return len;
}

int grpc_channel_new(const char *socket_path, char *const *metadata, GrpcChannel **ret) {
        int r = curl_init();
        if (r < 0)
                return r;
        GrpcChannel *ch = calloc(1, sizeof(GrpcChannel));
        if (!ch)
                return -ENOMEM;
        _cleanup_(grpc_channel_freep) GrpcChannel *owned = ch;
        if (!(ch->socket_path = strdup(socket_path)) || !(ch->curl = curl_easy_init()))
                return -ENOMEM;
        const char *fixed[] = { "content-type: application/grpc", "te: trailers", "grpc-accept-encoding: identity",
                                "Accept:", "Expect:" };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                struct curl_slist *l = curl_slist_append(ch->headers, fixed[i]);
                if (!l)
                        return -ENOMEM;
                ch->headers = l;
        }
        for (char *const *m = metadata; m && *m; m++) {
                struct curl_slist *l = curl_slist_append(ch->headers, *m);
                if (!l)
                        return -ENOMEM;
                ch->headers = l;
        }
        *ret = TAKE_PTR(owned);
        return 0;
}

static CURLcode setup(GrpcChannel *ch, const char *url, const uint8_t *frame, size_t frame_size, unsigned timeout) {
        CURL *h = ch->curl;
        curl_easy_reset(h);
        CURL_SET(h, CURLOPT_URL, url);
        CURL_SET(h, CURLOPT_UNIX_SOCKET_PATH, ch->socket_path);
        CURL_SET(h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        /* A connection per call: libcurl 7.88 breaks a reused cleartext HTTP/2 connection on a
         * unix socket ("Error in the HTTP2 framing layer" on the second call), and connecting to
         * a local socket costs next to nothing. */
        CURL_SET(h, CURLOPT_FRESH_CONNECT, 1L);
        CURL_SET(h, CURLOPT_FORBID_REUSE, 1L);
        CURL_SET(h, CURLOPT_NOSIGNAL, 1L);
        CURL_SET(h, CURLOPT_ERRORBUFFER, ch->errbuf);
        CURL_SET(h, CURLOPT_USERAGENT, "cedana/" PACKAGE_VERSION);
        CURL_SET(h, CURLOPT_CONNECTTIMEOUT, GRPC_CONNECT_TIMEOUT_SEC);
        CURL_SET(h, CURLOPT_TIMEOUT, (long) timeout);
        CURL_SET(h, CURLOPT_HTTPHEADER, ch->headers);
        CURL_SET(h, CURLOPT_POST, 1L);
        CURL_SET(h, CURLOPT_POSTFIELDS, frame);
        CURL_SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) frame_size);
        CURL_SET(h, CURLOPT_HEADERFUNCTION, on_header);
        CURL_SET(h, CURLOPT_HEADERDATA, ch);
        CURL_SET(h, CURLOPT_WRITEFUNCTION, on_body);
        CURL_SET(h, CURLOPT_WRITEDATA, ch);
        return CURLE_OK;
}

static int transport_failed(GrpcChannel *ch, CURLcode c, char **ret_message) {
        const char *why = ch->errbuf[0] ? ch->errbuf : curl_easy_strerror(c);
        switch (c) {
        case CURLE_COULDNT_CONNECT:
                return message_set(ret_message, access(ch->socket_path, F_OK) < 0 ? -ENOENT : -ECONNREFUSED, "%s",
                                   why);
        case CURLE_OPERATION_TIMEDOUT:
                return message_set(ret_message, -ETIMEDOUT, "%s", why);
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return message_set(ret_message, -EPROTO, "%s", ch->too_big ? "the answer is too big" : why);
        }
}

int grpc_call(GrpcChannel *ch, const char *method, const ProtobufCMessage *request,
              const ProtobufCMessageDescriptor *answer, unsigned timeout_sec, ProtobufCMessage **ret,
              char **ret_message) {
        size_t size = protobuf_c_message_get_packed_size(request);
        if (size > UINT32_MAX)
                return -E2BIG;
        _cleanup_free_ uint8_t *frame = malloc(5 + size);
        _cleanup_free_ char *url = NULL;
        if (!frame || asprintf(&url, "http://localhost%s", method) < 0)
                return -ENOMEM;
        frame[0] = 0;
        frame[1] = (uint8_t) (size >> 24);
        frame[2] = (uint8_t) (size >> 16);
        frame[3] = (uint8_t) (size >> 8);
        frame[4] = (uint8_t) size;
        protobuf_c_message_pack(request, frame + 5);

        ch->body = mfree(ch->body);
        ch->body_size = 0;
        ch->too_big = false;
        ch->status = -1;
        ch->message[0] = ch->errbuf[0] = 0;
        CURLcode c = setup(ch, url, frame, 5 + size, timeout_sec);
        if (c == CURLE_OK)
                c = curl_easy_perform(ch->curl);
        if (c != CURLE_OK)
                return transport_failed(ch, c, ret_message);
        long code = 0;
        (void) curl_easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200)
                return message_set(ret_message, -EPROTO, "HTTP status %ld, not a gRPC answer", code);
        if (ch->status < 0)
                return message_set(ret_message, -EPROTO, "the answer carries no gRPC status");
        if (ch->status != GRPC_OK)
                return message_set(ret_message, ch->status, "%s", ch->message[0] ? ch->message : "no message");

        const uint8_t *b = (const uint8_t *) ch->body;
        uint32_t len = ch->body_size >= 5 ? (uint32_t) b[1] << 24 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 8 | b[4]
                                          : 0;
        if (ch->body_size < 5 || b[0] != 0 || len != ch->body_size - 5)
                return message_set(ret_message, -EPROTO, "the answer is not one uncompressed gRPC message");
        ProtobufCMessage *m = protobuf_c_message_unpack(answer, NULL, len, b + 5);
        if (!m)
                return message_set(ret_message, -EPROTO, "the answer is not a %s", answer->name);
        if (ret)
                *ret = m;
        else
                protobuf_c_message_free_unpacked(m, NULL);
        return 0;
}
