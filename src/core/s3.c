/* SPDX-License-Identifier: Apache-2.0 */
/* The S3 client: requests signed by libcurl (CURLOPT_AWS_SIGV4), retried when the failure is
 * passing, and every answer the store can give turned into one outcome and one sentence. */

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"
#include "bus-error.h"
#include "curl-util.h"
#include "digest.h"
#include "fd-util.h"
#include "log.h"
#include "message.h"
#include "s3.h"
#include "strv.h"

#define S3_SINGLE_PUT_MAX (16ULL << 20) /* below: one PUT; else multipart */
#define S3_PART_SIZE (8ULL << 20)
/* Parts uploaded at once, each on its own connection with its own buffer: one connection to a
 * store seldom fills the link (RGW on one connection here: 60-120 MiB/s), and memory stays
 * bounded (2 parts of 8 MiB: with cedanad, a 1 GiB upload stays under 64 MiB of RSS). */
#define S3_PARTS_IN_FLIGHT 2
#define S3_PARTS_MAX 10000ULL             /* S3's limits */
#define S3_OBJECT_MAX (5ULL << 40)
#define S3_RETRIES 3
#define S3_BACKOFF_FIRST_MSEC 500
#define S3_BODY_MAX (64U << 10)           /* what is kept of a body: error answers and small XML */
#define S3_TAG_MAX 1024
#define S3_CREDENTIALS_MAX (64U << 10)
#define S3_KEY_MAX 1024
#define S3_META_NAME_MAX 128
#define S3_PROGRESS_STEP (4ULL << 20)
#define S3_CONNECT_TIMEOUT_SEC 10L
#define S3_LOW_SPEED_BYTES 1024L          /* slower than this ... */
#define S3_LOW_SPEED_SEC 30L              /* ... for this long: the transfer is given up (and retried) */
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- configuration and credentials --------------------------------------------------------- */

static void free_secret(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

void s3_config_done(S3Config *c) {
        free(c->endpoint);
        free(c->region);
        free(c->access_key);
        free_secret(c->secret_key);
        free(c->ca_file);
        *c = (S3Config) {};
}

typedef struct SecretBuffer {
        char *data;
        size_t size;
} SecretBuffer;

static void secret_buffer_done(SecretBuffer *b) {
        if (b->data) {
                explicit_bzero(b->data, b->size);
                free(b->data);
        }
}

static void free_secretp(char **s) {
        free_secret(*s);
}

/* Keys and secrets go into an Authorization header's Credential=, so nothing that could end or
 * split a header field: printable ASCII, no spaces. */
static bool credential_is_valid(const char *s) {
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        return false;
        return true;
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

static int credentials_parse(char *text, char **ret_access_key, char **ret_secret_key) {
        _cleanup_free_ char *access_key = NULL;
        _cleanup_(free_secretp) char *secret_key = NULL;
        char *save = NULL;

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line = strip(line);
                if (*line == 0 || *line == '#')
                        continue;
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                const char *name = strip(line), *value = strip(eq + 1);
                char **slot = streq(name, "AccessKeyId") ? &access_key
                            : streq(name, "SecretAccessKey") ? &secret_key
                            : NULL;
                if (!slot || *slot || !credential_is_valid(value))
                        return -EBADMSG;
                *slot = strdup(value);
                if (!*slot)
                        return -ENOMEM;
        }
        if (!access_key || !secret_key)
                return -EBADMSG;
        *ret_access_key = TAKE_PTR(access_key);
        *ret_secret_key = TAKE_PTR(secret_key);
        return 0;
}

int s3_credentials_read(const char *path, char **ret_access_key, char **ret_secret_key) {
        _cleanup_(secret_buffer_done) SecretBuffer b = {};
        struct stat st;

        /* O_NOFOLLOW: a symlink is refused, not followed to whatever it names; O_NONBLOCK: a FIFO
         * put there must not block the open (it is refused below). */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ELOOP ? -EPERM : negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* A secret that others could read or replace is no secret of root's. */
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0066) != 0)
                return -EPERM;

        b.size = S3_CREDENTIALS_MAX + 1;
        b.data = malloc(b.size + 1);
        if (!b.data)
                return -ENOMEM;
        ssize_t n = loop_read(fd, b.data, b.size);
        if (n < 0)
                return (int) n;
        if ((size_t) n > S3_CREDENTIALS_MAX || memchr(b.data, 0, (size_t) n))
                return -EBADMSG;
        b.data[n] = 0;
        return credentials_parse(b.data, ret_access_key, ret_secret_key);
}

/* ---- names ---------------------------------------------------------------------------------- */

bool s3_url_is(const char *s) {
        return s && startswith(s, "s3://");
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool bucket_is_valid(const char *b) {
        size_t n = strlen(b);
        if (n < 3 || n > 63 || !is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1]) || strstr(b, ".."))
                return false;
        for (const char *p = b; *p; p++)
                if (!is_lower_alnum(*p) && *p != '.' && *p != '-')
                        return false;
        return true;
}

/* No "." or ".." segments: curl (and proxies) would resolve them away, and the request would then
 * be signed for, and reach, another key. */
static bool key_is_valid(const char *k) {
        size_t n = strlen(k);
        if (n < 1 || n > S3_KEY_MAX || k[0] == '/' || strstr(k, "//"))
                return false;
        for (const unsigned char *p = (const unsigned char *) k; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        for (const char *s = k; s;) {
                const char *slash = strchr(s, '/');
                size_t l = slash ? (size_t) (slash - s) : strlen(s);
                if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s = slash ? slash + 1 : NULL;
        }
        return true;
}

int s3_url_parse(const char *url, char **ret_bucket, char **ret_key) {
        const char *rest = url ? startswith(url, "s3://") : NULL;
        if (!rest)
                return -EINVAL;
        size_t l = strcspn(rest, "/");
        _cleanup_free_ char *bucket = strndup(rest, l);
        if (!bucket)
                return -ENOMEM;
        if (!bucket_is_valid(bucket))
                return -EINVAL;
        const char *k = rest[l] == '/' ? rest + l + 1 : "";
        if (*k && !key_is_valid(k))
                return -EINVAL;
        char *key = strdup(k);
        if (!key)
                return -ENOMEM;
        *ret_bucket = TAKE_PTR(bucket);
        *ret_key = key;
        return 0;
}

/* S3's URI encoding, which curl signs as given (it does not encode the path itself): everything
 * but A-Za-z0-9-._~ (and '/' in paths) as %XX with uppercase hex. */
static char *uri_encode(const char *s, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        char *r = malloc(strlen(s) * 3 + 1), *q = r;
        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/'))
                        *q++ = (char) *p;
                else {
                        *q++ = '%';
                        *q++ = hex[*p >> 4];
                        *q++ = hex[*p & 15];
                }
        *q = 0;
        return r;
}

static bool region_is_valid(const char *r) {
        size_t n = r ? strlen(r) : 0;
        if (n < 1 || n > 63)
                return false;
        for (const char *p = r; *p; p++)
                if (!is_lower_alnum(*p) && *p != '-')
                        return false;
        return true;
}

/* Metadata names become header names, values header values: nothing that could end a header
 * or be folded differently by the two sides of the signature. No '_' either: RGW hands headers
 * around as CGI-style variables and gives "job_id" back as "job-id". */
static bool meta_name_is_valid(const char *n, size_t l) {
        if (l < 1 || l > S3_META_NAME_MAX)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!is_lower_alnum(n[i]) && n[i] != '-')
                        return false;
        return true;
}

static bool meta_value_is_valid(const char *v) {
        size_t n = strlen(v);
        if (n > 0 && (v[0] == ' ' || v[n - 1] == ' '))
                return false;
        for (const char *p = v; *p; p++)
                if (*p < ' ' || *p >= 0x7f || (p[0] == ' ' && p[1] == ' '))
                        return false;
        return true;
}

/* curl 7.88 sorts the signed headers as whole "name:value" lines, not by name: when one name is
 * the other's prefix followed by a character below ':' ("a" and "a-b"), its order is not S3's
 * and the signature is refused. Such pairs are refused here instead. */
static int meta_check(char *const *meta) {
        for (char *const *m = meta; m && *m; m++) {
                const char *eq = strchr(*m, '=');
                if (!eq || !meta_name_is_valid(*m, (size_t) (eq - *m)) || !meta_value_is_valid(eq + 1))
                        return -EINVAL;
                for (char *const *o = meta; *o; o++)
                        if (o != m && strncmp(*o, *m, (size_t) (eq - *m)) == 0)
                                return -EINVAL; /* the same name twice, or a prefix of another */
        }
        return 0;
}

/* ---- small XML answers ---------------------------------------------------------------------- */

/* The text of the first <tag>...</tag> in body, XML's predefined entities decoded; NULL when it is
 * absent, longer than S3_TAG_MAX, or more than printable ASCII. Not an XML parser, on purpose: the
 * fields read (Code, UploadId, whether an Error came) are flat tokens the store generates, once
 * each, in a body of at most S3_BODY_MAX bytes; a parser would bring a library, and its attack
 * surface, into a root daemon for three strings. */
static char *xml_tag(const char *body, size_t n, const char *tag) {
        char open_tag[64], close_tag[64];
        (void) snprintf(open_tag, sizeof(open_tag), "<%s>", tag);
        (void) snprintf(close_tag, sizeof(close_tag), "</%s>", tag);

        const char *b = memmem(body, n, open_tag, strlen(open_tag));
        if (!b)
                return NULL;
        b += strlen(open_tag);
        const char *e = memmem(b, n - (size_t) (b - body), close_tag, strlen(close_tag));
        if (!e || e - b > S3_TAG_MAX)
                return NULL;

        static const struct {
                const char *entity;
                char c;
        } entities[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' } };
        char *r = malloc((size_t) (e - b) + 1), *q = r;
        if (!r)
                return NULL;
        for (const char *p = b; p < e;) {
                if (*p < ' ' || *p >= 0x7f || *p == '<')
                        return mfree(r);
                if (*p != '&') {
                        *q++ = *p++;
                        continue;
                }
                size_t i;
                for (i = 0; i < ELEMENTSOF(entities); i++)
                        if ((size_t) (e - p) >= strlen(entities[i].entity) &&
                            strncmp(p, entities[i].entity, strlen(entities[i].entity)) == 0)
                                break;
                if (i == ELEMENTSOF(entities))
                        return mfree(r);
                *q++ = entities[i].c;
                p += strlen(entities[i].entity);
        }
        *q = 0;
        return r;
}

static char *xml_escape(const char *s) {
        char *r = malloc(strlen(s) * 5 + 1), *q = r;
        if (!r)
                return NULL;
        for (const char *p = s; *p; p++)
                if (*p == '&')
                        q = stpcpy(q, "&amp;");
                else if (*p == '<')
                        q = stpcpy(q, "&lt;");
                else if (*p == '>')
                        q = stpcpy(q, "&gt;");
                else
                        *q++ = *p;
        *q = 0;
        return r;
}

/* ---- one request ---------------------------------------------------------------------------- */

/* Where a GET's object goes, across retries. */
typedef struct Sink {
        int fd;
        uint64_t max;
        uint64_t base;      /* where in the object fd's bytes begin */
        uint64_t length;    /* how many are wanted; 0: to the end */
        uint64_t written;   /* of the object, to fd */
        uint64_t total;     /* its size, once an answer said it */
        bool total_known;
        char *etag;         /* of the first answer: later ranges must be of the same object */
        uint64_t skip;      /* of this answer: bytes written already (a store that ignored Range) */
        int error;          /* write(2)'s, negative */
        bool too_large;
        bool wrong_range;
        uint64_t reported;
        S3ProgressFunc progress;
        void *userdata;
} Sink;

typedef struct S3Request {
        const char *method;       /* GET, HEAD, PUT, POST, DELETE */
        const char *verb;         /* for sentences: "upload", "download", ... */
        const char *query;        /* sorted and encoded as signed, without '?'; NULL: none */
        const void *body;         /* PUT and POST */
        size_t body_size;
        char sha256[SHA256_HEX_SIZE];     /* of the body; "" for an empty body */
        const char *content_type;
        char *const *meta;        /* "name=value", sent as x-amz-meta-name */
        const char *meta_name;    /* HEAD: the x-amz-meta- header to keep */
        bool error_in_body;       /* a 200 with <Error> in its body is a failure */
        Sink *sink;               /* GET: the object goes here, the answer's body otherwise */
} S3Request;

typedef struct S3Response {
        long status;
        char *code;        /* an error answer's <Code> */
        char *etag;
        uint64_t length;
        bool has_length;
        uint64_t range_start, range_total;
        bool has_range;
        char *meta;
        char *body;        /* bounded, NUL-terminated */
        size_t body_size;
        size_t body_allocated;
} S3Response;

typedef struct S3Call {
        const S3Config *config;
        CURL *curl;
        char *authority;   /* host[:port] of the endpoint */
        const char *scheme;
        char *sigv4;       /* "aws:amz:REGION:s3" */
        const char *bucket;
        const char *key;
        bool bucket_level; /* a request of the bucket's (a listing), not of the key's */
        bool (*cancelled)(void *userdata);
        void *userdata;
        char errbuf[CURL_ERROR_SIZE];
        /* of the attempt in progress */
        const S3Request *req;
        S3Response *resp;
        size_t read_offset;
} S3Call;

static void s3_response_done(S3Response *r) {
        free(r->code);
        free(r->etag);
        free(r->meta);
        free(r->body);
        *r = (S3Response) {};
}

static void s3_response_reset_headers(S3Response *r) {
        r->etag = mfree(r->etag);
        r->meta = mfree(r->meta);
        r->has_length = r->has_range = false;
}

static void s3_call_done(S3Call *call) {
        if (call->curl)
                curl_easy_cleanup(call->curl);
        free(call->authority);
        free(call->sigv4);
        *call = (S3Call) {};
}

static int s3_call_init(S3Call *call, const S3Config *c, const char *bucket, const char *key, char **reterr) {
        const char *rest;
        int r = curl_init();
        if (r < 0)
                return message_set(reterr, r, "Failed to initialize libcurl.");

        if (!c || !c->endpoint || !(rest = startswith(c->endpoint, "https://") ?: startswith(c->endpoint, "http://")))
                return message_set(reterr, -EINVAL, "The object store's endpoint %s is not an http:// or https:// URL.",
                                   c && c->endpoint ? c->endpoint : "(none)");
        if (*rest == 0 || rest[strcspn(rest, "/?#@ \t\r\n")] != 0)
                return message_set(reterr, -EINVAL, "The object store's endpoint %s is not of the form "
                                   "http(s)://HOST[:PORT], without a path or a trailing slash.", c->endpoint);
        if (!region_is_valid(c->region))
                return message_set(reterr, -EINVAL, "The object store's region \"%s\" is not a region name.",
                                   strempty(c->region));
        if (!credential_is_valid(c->access_key) || !credential_is_valid(c->secret_key))
                return message_set(reterr, -EINVAL, "The object store's credentials are missing or malformed.");
        if (!bucket || !bucket_is_valid(bucket))
                return message_set(reterr, -EINVAL, "\"%s\" is not a valid bucket name.", strempty(bucket));
        if (!key || !key_is_valid(key))
                return message_set(reterr, -EINVAL, "\"%s\" is not a valid object key.", strempty(key));

        *call = (S3Call) {
                .config = c,
                .scheme = startswith(c->endpoint, "https://") ? "https://" : "http://",
                .bucket = bucket,
                .key = key,
        };
        call->authority = strdup(rest);
        if (asprintf(&call->sigv4, "aws:amz:%s:s3", c->region) < 0)
                call->sigv4 = NULL;
        call->curl = curl_easy_init();
        if (!call->authority || !call->sigv4 || !call->curl) {
                s3_call_done(call);
                return message_set(reterr, -ENOMEM, "Out of memory.");
        }
        return 0;
}

static char *s3_url(const S3Call *call, const char *query) {
        _cleanup_free_ char *path = uri_encode(call->bucket_level ? "" : call->key, true);
        char *url = NULL;
        if (!path)
                return NULL;
        int r = call->config->path_style
                ? asprintf(&url, "%s%s/%s/%s%s%s", call->scheme, call->authority, call->bucket, path, query ? "?" : "",
                           strempty(query))
                : asprintf(&url, "%s%s.%s/%s%s%s", call->scheme, call->bucket, call->authority, path, query ? "?" : "",
                           strempty(query));
        return r < 0 ? NULL : url;
}

static bool header_is(const char *line, size_t n, const char *name, const char **ret_value, size_t *ret_len) {
        size_t l = strlen(name);
        if (n <= l || line[l] != ':' || strncasecmp(line, name, l) != 0)
                return false;
        const char *v = line + l + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *ret_value = v;
        *ret_len = (size_t) (end - v);
        return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        if (n == 0 || n > 19)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* "bytes START-END/TOTAL" */
static bool parse_content_range(const char *s, size_t n, uint64_t *ret_start, uint64_t *ret_total) {
        const char *p = startswith(s, "bytes "), *end = s + n;
        if (!p || p > end)
                return false;
        const char *dash = memchr(p, '-', (size_t) (end - p)), *slash = memchr(p, '/', (size_t) (end - p));
        uint64_t last;
        return dash && slash && dash < slash && parse_u64(p, (size_t) (dash - p), ret_start) &&
               parse_u64(dash + 1, (size_t) (slash - dash - 1), &last) &&
               parse_u64(slash + 1, (size_t) (end - slash - 1), ret_total) && last >= *ret_start;
}

/* The last header of a final answer is in: a GET decides where its body goes. */
static bool sink_start(Sink *s, const S3Response *resp) {
        uint64_t total;
        if (resp->status == 206) {
                if (!resp->has_range || resp->range_start != s->base + s->written) {
                        s->wrong_range = true;
                        return false;
                }
                total = resp->range_total;
                s->skip = 0;
        } else {
                s->skip = s->base + s->written; /* Range ignored: the whole object again */
                if (!resp->has_length)
                        return true;
                total = resp->length;
        }
        if (s->total_known && total != s->total) {
                s->wrong_range = true;
                return false;
        }
        s->total = total;
        s->total_known = true;
        if (total > s->max) {
                s->too_large = true;
                return false;
        }
        if (!s->etag && resp->etag) {
                s->etag = strdup(resp->etag);
                if (!s->etag) {
                        s->error = -ENOMEM;
                        return false;
                }
        }
        return true;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata) {
        S3Call *call = userdata;
        S3Response *resp = call->resp;
        size_t n = size * nmemb;
        const char *v;
        size_t l;

        if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
                /* a new answer (after a "100 Continue", too): nothing of the last one counts */
                const char *sp = memchr(line, ' ', n);
                uint64_t status = 0;
                if (!sp || n - (size_t) (sp + 1 - line) < 3 || !parse_u64(sp + 1, 3, &status))
                        return 0;
                resp->status = (long) status;
                s3_response_reset_headers(resp);
        } else if ((n == 2 && line[0] == '\r') || (n == 1 && line[0] == '\n')) {
                if (resp->status >= 200 && call->req->sink && (resp->status == 200 || resp->status == 206) &&
                    !sink_start(call->req->sink, resp))
                        return 0;
        } else if (header_is(line, n, "ETag", &v, &l)) {
                free(resp->etag);
                resp->etag = strndup(v, l);
                if (!resp->etag)
                        return 0;
        } else if (header_is(line, n, "Content-Length", &v, &l))
                resp->has_length = parse_u64(v, l, &resp->length);
        else if (header_is(line, n, "Content-Range", &v, &l))
                resp->has_range = parse_content_range(v, l, &resp->range_start, &resp->range_total);
        else if (call->req->meta_name && n > STRLEN("x-amz-meta-") &&
                 strncasecmp(line, "x-amz-meta-", STRLEN("x-amz-meta-")) == 0 &&
                 header_is(line + STRLEN("x-amz-meta-"), n - STRLEN("x-amz-meta-"), call->req->meta_name, &v, &l)) {
                free(resp->meta);
                resp->meta = strndup(v, l);
                if (!resp->meta)
                        return 0;
        }
        return n;
}

static void sink_progress(Sink *s, bool final) {
        if (s->progress && (final || s->written - s->reported >= S3_PROGRESS_STEP)) {
                s->reported = s->written;
                s->progress(s->written, s->total_known ? s->total : s->written, s->userdata);
        }
}

static size_t sink_write(Sink *s, const char *p, size_t n) {
        size_t skipped = (size_t) MIN((uint64_t) n, s->skip);
        s->skip -= skipped;
        p += skipped;
        size_t rest = n - skipped;
        if (rest == 0)
                return n;
        if (s->length > 0)
                rest = (size_t) MIN((uint64_t) rest, s->length - s->written);
        if (rest == 0)
                return 0; /* all that was asked for; a store that ignored the range's end */
        if (rest > s->max - s->written) {
                s->too_large = true;
                return 0;
        }
        int r = loop_write(s->fd, p, rest);
        if (r < 0) {
                s->error = r;
                return 0;
        }
        s->written += rest;
        sink_progress(s, false);
        return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata) {
        S3Call *call = userdata;
        S3Response *resp = call->resp;
        size_t n = size * nmemb;

        if (call->req->sink && (resp->status == 200 || resp->status == 206))
                return sink_write(call->req->sink, p, n);

        /* Anything else is an answer for us to read: keep its beginning, where <Code> is. */
        size_t keep = MIN(n, S3_BODY_MAX - resp->body_size);
        if (keep > 0) {
                if (!GREEDY_REALLOC(resp->body, resp->body_allocated, resp->body_size + keep + 1))
                        return 0;
                memcpy(resp->body + resp->body_size, p, keep);
                resp->body_size += keep;
                resp->body[resp->body_size] = 0;
        }
        return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *userdata) {
        S3Call *call = userdata;
        size_t n = MIN(size * nmemb, call->req->body_size - call->read_offset);
        memcpy(p, (const char *) call->req->body + call->read_offset, n);
        call->read_offset += n;
        return n;
}

/* curl rewinds a body it must send again (a connection found dead when reused). */
static int on_seek(void *userdata, curl_off_t offset, int origin) {
        S3Call *call = userdata;
        if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > call->req->body_size)
                return CURL_SEEKFUNC_FAIL;
        call->read_offset = (size_t) offset;
        return CURL_SEEKFUNC_OK;
}

static int headers_add(struct curl_slist **l, const char *format, ...) _printf_(2, 3);
static int headers_add(struct curl_slist **l, const char *format, ...) {
        _cleanup_free_ char *h = NULL;
        va_list ap;
        va_start(ap, format);
        int r = vasprintf(&h, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        struct curl_slist *n = curl_slist_append(*l, h);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

static void curl_slist_freep(struct curl_slist **l) {
        curl_slist_free_all(*l);
}

/* The headers curl signs and sends. Never an empty "Expect:" to suppress curl's own: curl 7.88
 * signs it but does not send it, and every request would then be refused. */
static int s3_headers(const S3Request *req, struct curl_slist **ret) {
        _cleanup_(curl_slist_freep) struct curl_slist *h = NULL;
        const Sink *s = req->sink;

        /* Without it curl signs the hash of an empty body, whatever is sent. */
        if (headers_add(&h, "x-amz-content-sha256: %s", req->sha256[0] ? req->sha256 : SHA256_EMPTY) < 0)
                return -ENOMEM;
        if (req->content_type && headers_add(&h, "Content-Type: %s", req->content_type) < 0)
                return -ENOMEM;
        for (char *const *m = req->meta; m && *m; m++) {
                size_t l = strcspn(*m, "=");
                if (headers_add(&h, "x-amz-meta-%.*s: %s", (int) l, *m, *m + l + 1) < 0)
                        return -ENOMEM;
        }
        if (s && s->base + s->written > 0) {
                int k = s->length > 0 ? headers_add(&h, "Range: bytes=%" PRIu64 "-%" PRIu64, s->base + s->written,
                                                    s->base + s->length - 1)
                                      : headers_add(&h, "Range: bytes=%" PRIu64 "-", s->base + s->written);
                if (k < 0)
                        return -ENOMEM;
        } else if (s && s->length > 0 && headers_add(&h, "Range: bytes=0-%" PRIu64, s->length - 1) < 0)
                return -ENOMEM;
        if (s && s->etag && headers_add(&h, "If-Match: %s", s->etag) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

static CURLcode s3_attempt(S3Call *call, const S3Request *req, S3Response *resp) {
        _cleanup_(curl_slist_freep) struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = s3_url(call, req->query);
        CURL *h = call->curl;

        if (!url || s3_headers(req, &headers) < 0)
                return CURLE_OUT_OF_MEMORY;
        call->req = req;
        call->resp = resp;
        call->read_offset = 0;
        call->errbuf[0] = 0;

        /* One handle per call: reset keeps its connections, options start over. Never
         * CURLOPT_VERBOSE: it would print the Authorization header. */
        curl_easy_reset(h);
        CURL_SET(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
        CURL_SET(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        CURL_SET(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        /* The request shape verified against RGW; S3 does not need more. */
        CURL_SET(h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        CURL_SET(h, CURLOPT_PATH_AS_IS, 1L);
        CURL_SET(h, CURLOPT_NOSIGNAL, 1L);
        CURL_SET(h, CURLOPT_ERRORBUFFER, call->errbuf);
        CURL_SET(h, CURLOPT_USERAGENT, "cedana/" PACKAGE_VERSION);
        CURL_SET(h, CURLOPT_AWS_SIGV4, call->sigv4);
        CURL_SET(h, CURLOPT_USERNAME, call->config->access_key);
        CURL_SET(h, CURLOPT_PASSWORD, call->config->secret_key);
        if (call->config->ca_file)
                CURL_SET(h, CURLOPT_CAINFO, call->config->ca_file);
        CURL_SET(h, CURLOPT_CONNECTTIMEOUT, S3_CONNECT_TIMEOUT_SEC);
        CURL_SET(h, CURLOPT_LOW_SPEED_LIMIT, S3_LOW_SPEED_BYTES);
        CURL_SET(h, CURLOPT_LOW_SPEED_TIME, S3_LOW_SPEED_SEC);
        CURL_SET(h, CURLOPT_TCP_KEEPALIVE, 1L);
        CURL_SET(h, CURLOPT_HTTPHEADER, headers);
        CURL_SET(h, CURLOPT_HEADERFUNCTION, on_header);
        CURL_SET(h, CURLOPT_HEADERDATA, call);
        CURL_SET(h, CURLOPT_WRITEFUNCTION, on_body);
        CURL_SET(h, CURLOPT_WRITEDATA, call);

        if (streq(req->method, "PUT")) {
                CURL_SET(h, CURLOPT_UPLOAD, 1L);
                CURL_SET(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) req->body_size);
                CURL_SET(h, CURLOPT_READFUNCTION, on_read);
                CURL_SET(h, CURLOPT_READDATA, call);
                CURL_SET(h, CURLOPT_SEEKFUNCTION, on_seek);
                CURL_SET(h, CURLOPT_SEEKDATA, call);
        } else if (streq(req->method, "POST")) {
                CURL_SET(h, CURLOPT_POST, 1L);
                CURL_SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size);
                CURL_SET(h, CURLOPT_POSTFIELDS, req->body ?: "");
        } else if (streq(req->method, "HEAD"))
                CURL_SET(h, CURLOPT_NOBODY, 1L);
        else if (streq(req->method, "DELETE"))
                CURL_SET(h, CURLOPT_CUSTOMREQUEST, "DELETE");

        CURLcode cc = curl_easy_perform(h);
        if (!call->errbuf[0])
                (void) snprintf(call->errbuf, sizeof(call->errbuf), "%s", curl_easy_strerror(cc));
        return cc;
}

/* ---- retries and outcomes -------------------------------------------------------------------- */

static bool code_is_transient(const char *code) {
        return code && (streq(code, "SlowDown") || streq(code, "InternalError") || streq(code, "ServiceUnavailable") ||
                        streq(code, "RequestTimeout"));
}

static bool curl_is_unreachable(CURLcode cc) {
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

static bool curl_is_transient(CURLcode cc) {
        return curl_is_unreachable(cc) || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR ||
               cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
               cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

static bool response_failed(const S3Request *req, S3Response *resp) {
        if (resp->status < 200 || resp->status >= 300)
                return true;
        /* CompleteMultipartUpload: 200 at once, then the work, then maybe an <Error>. */
        return req->error_in_body && resp->body && memmem(resp->body, resp->body_size, "<Error>", STRLEN("<Error>"));
}

static bool sink_complete(const Sink *s) {
        if (s->length > 0)
                return s->written == s->length;
        return s->total_known && s->base + s->written == s->total;
}

static bool sink_failed(const Sink *s) {
        return s && (s->error < 0 || s->too_large || s->wrong_range);
}

static void sleep_msec(unsigned msec) {
        struct timespec ts = { .tv_sec = msec / 1000, .tv_nsec = (long) (msec % 1000) * 1000000L };
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
                ;
}

/* A download that stopped on our side: the fd, the limit, or bytes that do not fit. */
static int sink_failure(const S3Call *call, const Sink *s, char **reterr) {
        const char *b = call->bucket, *k = call->key;
        if (s->error < 0)
                return message_set(reterr, s->error, "Failed to write s3://%s/%s where it was to go: %s.", b, k,
                                   strerror(-s->error));
        if (s->too_large && s->total_known)
                return message_set(reterr, CEDANA_E_LIMITS, "s3://%s/%s is %" PRIu64 " bytes, more than the %" PRIu64
                                   " allowed.", b, k, s->total, s->max);
        if (s->too_large)
                return message_set(reterr, CEDANA_E_LIMITS, "s3://%s/%s is larger than the %" PRIu64
                                   " bytes allowed.", b, k, s->max);
        return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s sent other bytes of s3://%s/%s than "
                           "asked for when the download was resumed; try again.", call->config->endpoint, b, k);
}

/* No answer, or no whole one: curl's own words say why. */
static int transport_failure(const S3Call *call, const S3Request *req, CURLcode cc, unsigned attempts,
                             char **reterr) {
        const char *endpoint = call->config->endpoint;
        if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
                return message_set(reterr, CEDANA_E_REMOTE, "Cannot verify the object store at %s: %s; check its "
                                   "certificate and the CA file in [S3].", endpoint, call->errbuf);
        if (curl_is_unreachable(cc))
                return message_set(reterr, CEDANA_E_REMOTE, "Cannot reach the object store at %s: %s; check the "
                                   "endpoint in [S3] and that the store is running (tried %u times).", endpoint,
                                   call->errbuf, attempts);
        return message_set(reterr, CEDANA_E_REMOTE, "The connection to the object store at %s failed during the %s "
                           "of s3://%s/%s: %s (tried %u times); check the network and try again.", endpoint,
                           req->verb, call->bucket, call->key, call->errbuf, attempts);
}

static bool code_is_credentials(const char *code) {
        return streq(code, "InvalidAccessKeyId") || streq(code, "SignatureDoesNotMatch") || streq(code, "AccessDenied");
}

/* The store answered, and not with success. A HEAD answer has no body, hence no code. */
static int answer_failure(const S3Call *call, const S3Request *req, const S3Response *resp, unsigned attempts,
                          char **reterr) {
        const char *endpoint = call->config->endpoint, *b = call->bucket, *k = call->key, *code = resp->code;
        long status = resp->status;

        if (status == 403 && (!code || code_is_credentials(code)))
                return message_set(reterr, CEDANA_E_ACCESS_DENIED, "The object store at %s refused cedana's "
                                   "credentials (%s); check the access key and secret in [S3]'s credentials file, "
                                   "and that they may use the bucket %s.", endpoint, code ?: "HTTP 403", b);
        if (status == 403 && streq(code, "RequestTimeTooSkewed"))
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s refused the %s of s3://%s/%s "
                                   "(RequestTimeTooSkewed); set this machine's clock right.", endpoint, req->verb, b,
                                   k);
        if (status == 404 && streq_ptr(code, "NoSuchBucket"))
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "The bucket %s does not exist at %s.", b, endpoint);
        if (status == 404 && (streq_ptr(code, "NoSuchKey") || (!code && streq(req->method, "HEAD"))))
                return message_set(reterr, CEDANA_E_NO_SUCH_FILE, "There is no object s3://%s/%s.", b, k);
        if (streq_ptr(code, "PermanentRedirect") || streq_ptr(code, "AuthorizationHeaderMalformed"))
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s refused the %s of s3://%s/%s "
                                   "(%s): the bucket is elsewhere or in another region; check the endpoint and "
                                   "region in [S3].", endpoint, req->verb, b, k, code);
        if (status == 412 && req->sink)
                return message_set(reterr, CEDANA_E_REMOTE, "s3://%s/%s changed while it was being downloaded; "
                                   "try again.", b, k);
        if (status >= 500 || status == 429 || code_is_transient(code))
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s kept failing the %s of "
                                   "s3://%s/%s: HTTP %ld (%s), %u times; try again later.", endpoint, req->verb, b,
                                   k, status, code ?: "no S3 error code", attempts);
        return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s answered the %s of s3://%s/%s with "
                           "HTTP %ld (%s).", endpoint, req->verb, b, k, status, code ?: "no S3 error code");
}

static int s3_failure(const S3Call *call, const S3Request *req, const S3Response *resp, CURLcode cc,
                      unsigned attempts, char **reterr) {
        if (sink_failed(req->sink))
                return sink_failure(call, req->sink, reterr);
        if (cc != CURLE_OK)
                return transport_failure(call, req, cc, attempts, reterr);
        return answer_failure(call, req, resp, attempts, reterr);
}

static bool cancelled(const S3Call *call) {
        return call->cancelled && call->cancelled(call->userdata);
}

/* One request, tried up to S3_RETRIES more times while its failure is transient. 0 with *resp
 * the successful answer, or the failure's outcome and sentence. */
static int s3_request(S3Call *call, const S3Request *req, S3Response *resp, char **reterr) {
        for (unsigned attempt = 0;; attempt++) {
                s3_response_done(resp);
                CURLcode cc = s3_attempt(call, req, resp);
                if (cc == CURLE_OUT_OF_MEMORY)
                        return message_set(reterr, -ENOMEM, "Out of memory.");
                if (cc == CURLE_FAILED_INIT)
                        return message_set(reterr, -EIO, "libcurl refused an option of a request to the object "
                                           "store.");
                bool failed = cc != CURLE_OK || response_failed(req, resp);
                if (failed && resp->body)
                        resp->code = xml_tag(resp->body, resp->body_size, "Code");
                log_debug("S3 %s s3://%s/%s%s%s: %s, HTTP %ld%s%s", req->method, call->bucket, call->key,
                          req->query ? "?" : "", strempty(req->query), cc == CURLE_OK ? "done" : call->errbuf,
                          resp->status, resp->code ? " " : "", strempty(resp->code));
                if (!failed)
                        return 0;
                if (sink_failed(req->sink))
                        return s3_failure(call, req, resp, cc, attempt + 1, reterr);
                /* Everything arrived, only the connection's end went wrong. */
                if (cc != CURLE_OK && req->sink && sink_complete(req->sink))
                        return 0;
                bool transient = cc != CURLE_OK ? curl_is_transient(cc)
                                                : resp->status >= 500 || resp->status == 429 ||
                                                          code_is_transient(resp->code);
                if (!transient || attempt >= S3_RETRIES)
                        return s3_failure(call, req, resp, cc, attempt + 1, reterr);
                if (cancelled(call))
                        return message_set(reterr, -ECANCELED, "The %s of s3://%s/%s was cancelled.", req->verb,
                                           call->bucket, call->key);
                unsigned msec = S3_BACKOFF_FIRST_MSEC << attempt;
                log_debug("S3 %s s3://%s/%s failed (%s), retrying in %u ms.", req->method, call->bucket, call->key,
                          cc != CURLE_OK ? call->errbuf : resp->code ?: "HTTP error", msec);
                sleep_msec(msec);
        }
}

/* ---- the operations ---------------------------------------------------------------------------- */

/* The signed SHA-256 of the body is all the server needs to refuse a body damaged in transit; a
 * Content-MD5 beside it would check the same bytes again at twice the cost on both ends. */
static int body_digests(S3Request *req) {
        return sha256_hex(req->body ?: "", req->body_size, req->sha256);
}

static int pread_full(int fd, void *buf, size_t n, uint64_t offset) {
        ssize_t k = loop_pread(fd, buf, n, offset);
        return k < 0 ? (int) k : (size_t) k < n ? -ENODATA : 0;
}

static int upload_read(const S3Call *call, int fd, void *buf, size_t n, uint64_t offset, uint64_t size,
                       char **reterr) {
        int r = pread_full(fd, buf, n, offset);
        if (r == -ENODATA)
                return message_set(reterr, -EIO, "The data for s3://%s/%s ended before its %" PRIu64 " bytes.",
                                   call->bucket, call->key, size);
        if (r < 0)
                return message_set(reterr, r, "Failed to read the data for s3://%s/%s: %s.", call->bucket, call->key,
                                   strerror(-r));
        return 0;
}

static int upload_single(S3Call *call, int fd, uint64_t size, char *const *meta, S3ProgressFunc progress,
                         char **reterr) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ void *buf = malloc(size ?: 1);
        if (!buf)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        int r = upload_read(call, fd, buf, size, 0, size, reterr);
        if (r < 0)
                return r;
        S3Request req = {
                .method = "PUT",
                .verb = "upload",
                .body = buf,
                .body_size = size,
                .content_type = "application/octet-stream",
                .meta = meta,
        };
        r = body_digests(&req);
        if (r < 0)
                return message_set(reterr, r, "Failed to compute the digests of s3://%s/%s.", call->bucket, call->key);
        r = s3_request(call, &req, &resp, reterr);
        if (r != 0)
                return r;
        if (progress)
                progress(size, size, call->userdata);
        return 0;
}

static void multipart_abort(S3Call *call, const char *upload_id) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *id = uri_encode(upload_id, false), *query = NULL, *error = NULL;
        if (!id || asprintf(&query, "uploadId=%s", id) < 0) {
                log_warning("Out of memory; the unfinished upload of s3://%s/%s stays in the object store.",
                            call->bucket, call->key);
                return;
        }
        /* Also after a cancellation: the abort itself must not be cut short. */
        call->cancelled = NULL;
        S3Request req = { .method = "DELETE", .verb = "abort", .query = query };
        if (s3_request(call, &req, &resp, &error) != 0)
                log_warning("Could not abort the unfinished upload of s3://%s/%s (upload id %s), it stays until the "
                            "bucket's lifecycle removes it: %s", call->bucket, call->key, upload_id, strna(error));
}

static uint64_t part_size_for(uint64_t size) {
        uint64_t p = S3_PART_SIZE;
        if ((size + p - 1) / p > S3_PARTS_MAX)
                p = ((size + S3_PARTS_MAX - 1) / S3_PARTS_MAX + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
        return p;
}

static void strv_free_n(char **l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                free(l[i]);
        free(l);
}

typedef struct Parts {
        char **etags;
        size_t n;
} Parts;

static void parts_done(Parts *p) {
        strv_free_n(p->etags, p->n);
        *p = (Parts) {};
}

static int multipart_initiate(S3Call *call, char *const *meta, char **ret_upload_id, char **reterr) {
        _cleanup_(s3_response_done) S3Response resp = {};
        S3Request req = {
                .method = "POST",
                .verb = "upload",
                .query = "uploads=",
                .content_type = "application/octet-stream",
                .meta = meta,
        };
        int r = s3_request(call, &req, &resp, reterr);
        if (r != 0)
                return r;
        char *id = resp.body ? xml_tag(resp.body, resp.body_size, "UploadId") : NULL;
        if (isempty(id)) {
                free(id);
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s started the upload of s3://%s/%s "
                                   "without saying its upload id.", call->config->endpoint, call->bucket, call->key);
        }
        *ret_upload_id = id;
        return 0;
}

static int multipart_part(S3Call *call, const char *upload_id, unsigned number, const void *buf, size_t n,
                          char **ret_etag, char **reterr) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *id = uri_encode(upload_id, false), *query = NULL;
        if (!id || asprintf(&query, "partNumber=%u&uploadId=%s", number, id) < 0)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        S3Request req = { .method = "PUT", .verb = "upload", .query = query, .body = buf, .body_size = n };
        int r = body_digests(&req);
        if (r < 0)
                return message_set(reterr, r, "Failed to compute the digests of s3://%s/%s.", call->bucket, call->key);
        r = s3_request(call, &req, &resp, reterr);
        if (r != 0)
                return r;
        if (isempty(resp.etag))
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s stored part %u of s3://%s/%s "
                                   "without saying its ETag.", call->config->endpoint, number, call->bucket, call->key);
        *ret_etag = TAKE_PTR(resp.etag);
        return 0;
}

static int multipart_complete(S3Call *call, const char *upload_id, const Parts *parts, char **reterr) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *id = uri_encode(upload_id, false), *query = NULL, *xml = NULL;
        size_t size = 0;

        if (!id || asprintf(&query, "uploadId=%s", id) < 0)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        FILE *f = open_memstream(&xml, &size);
        if (!f)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        bool oom = false;
        fputs("<CompleteMultipartUpload>", f);
        for (size_t i = 0; i < parts->n; i++) {
                _cleanup_free_ char *etag = xml_escape(parts->etags[i]);
                oom = oom || !etag;
                fprintf(f, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, strempty(etag));
        }
        fputs("</CompleteMultipartUpload>", f);
        oom = ferror(f) || oom;
        if (fclose(f) != 0 || oom)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        S3Request req = {
                .method = "POST",
                .verb = "upload",
                .query = query,
                .body = xml,
                .body_size = size,
                .content_type = "application/xml",
                .error_in_body = true,
        };
        int r = body_digests(&req);
        if (r < 0)
                return message_set(reterr, r, "Failed to compute the digests of s3://%s/%s.", call->bucket, call->key);
        return s3_request(call, &req, &resp, reterr);
}

/* The parts of one upload, handed out to the threads that send them. */
typedef struct PartQueue {
        pthread_mutex_t lock;
        S3Call *call;          /* the upload's: its cancel callback and progress userdata */
        const char *upload_id;
        int fd;
        uint64_t size, part_size, n_parts;
        uint64_t next;         /* the next part to send, from 0 */
        uint64_t end;          /* the part after the last to send */
        uint64_t done;         /* bytes stored */
        Parts *parts;
        S3ProgressFunc progress;
        int r;                 /* the first failure, and its sentence */
        char *err;
} PartQueue;

typedef struct PartSender {
        PartQueue *q;
        S3Call call;           /* a connection of its own */
        void *buf;
        pthread_t thread;
        bool started;
} PartSender;

static void queue_fail(PartQueue *q, int r, char **err) {
        if (q->r != 0)
                return;
        q->r = r;
        q->err = TAKE_PTR(*err);
}

static void *send_parts(void *userdata) {
        PartSender *w = userdata;
        PartQueue *q = w->q;
        for (;;) {
                pthread_mutex_lock(&q->lock);
                /* The caller's callbacks are called under the lock: one thread at a time. */
                if (q->r == 0 && q->next < q->end && cancelled(q->call)) {
                        char *err = NULL;
                        int r = message_set(&err, -ECANCELED, "The upload of s3://%s/%s was cancelled.",
                                            q->call->bucket, q->call->key);
                        queue_fail(q, r, &err);
                }
                bool stop = q->r != 0 || q->next >= q->end;
                uint64_t i = q->next++;
                pthread_mutex_unlock(&q->lock);
                if (stop)
                        return NULL;

                uint64_t offset = i * q->part_size;
                size_t n = (size_t) MIN(q->part_size, q->size - offset);
                char *etag = NULL, *err = NULL;
                int r = upload_read(&w->call, q->fd, w->buf, n, offset, q->size, &err);
                if (r == 0)
                        r = multipart_part(&w->call, q->upload_id, (unsigned) (i + 1), w->buf, n, &etag, &err);

                pthread_mutex_lock(&q->lock);
                if (r != 0)
                        queue_fail(q, r, &err);
                else {
                        q->parts->etags[i] = etag;
                        q->done += n;
                        if (q->progress)
                                q->progress(q->done, q->size, q->call->userdata);
                }
                pthread_mutex_unlock(&q->lock);
                free(err);
        }
}

/* Parts [from, to) of an upload, on up to S3_PARTS_IN_FLIGHT connections of their own. done: bytes
 * stored before, for progress. */
static int send_part_range(S3Call *call, const char *upload_id, int fd, uint64_t size, uint64_t part_size,
                           uint64_t from, uint64_t to, Parts *parts, S3ProgressFunc progress, uint64_t done,
                           char **reterr) {
        PartSender senders[S3_PARTS_IN_FLIGHT] = {};
        size_t n_senders = (size_t) MIN(to - from, (uint64_t) S3_PARTS_IN_FLIGHT);
        PartQueue q = { .call = call, .upload_id = upload_id, .fd = fd, .size = size, .part_size = part_size,
                        .n_parts = (size + part_size - 1) / part_size, .next = from, .end = to, .done = done,
                        .parts = parts, .progress = progress };
        pthread_mutex_init(&q.lock, NULL);
        for (size_t i = 0; i < n_senders && q.r == 0; i++) {
                PartSender *w = &senders[i];
                char *err = NULL;
                w->q = &q;
                int k = s3_call_init(&w->call, call->config, call->bucket, call->key, &err);
                if (k >= 0 && !(w->buf = malloc(part_size)))
                        k = message_set(&err, -ENOMEM, "Out of memory.");
                if (k >= 0)
                        k = -pthread_create(&w->thread, NULL, send_parts, w);
                if (k < 0 && !err)
                        k = message_set(&err, k, "Failed to start sending s3://%s/%s: %s.", call->bucket, call->key,
                                        strerror(-k));
                pthread_mutex_lock(&q.lock);
                if (k < 0)
                        queue_fail(&q, k, &err);
                pthread_mutex_unlock(&q.lock);
                free(err);
                w->started = k >= 0;
        }
        for (size_t i = 0; i < n_senders; i++) {
                if (senders[i].started)
                        (void) pthread_join(senders[i].thread, NULL);
                s3_call_done(&senders[i].call);
                free(senders[i].buf);
        }
        pthread_mutex_destroy(&q.lock);
        if (q.r != 0)
                *reterr = q.err;
        return q.r;
}

static int upload_multipart(S3Call *call, int fd, uint64_t size, char *const *meta, S3ProgressFunc progress,
                            char **reterr) {
        _cleanup_free_ char *upload_id = NULL;
        _cleanup_(parts_done) Parts parts = {};
        uint64_t part_size = part_size_for(size), n_parts = (size + part_size - 1) / part_size;

        parts.etags = calloc(n_parts, sizeof(char *));
        if (!parts.etags)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        parts.n = (size_t) n_parts; /* unset ones are NULL */
        if (cancelled(call))
                return message_set(reterr, -ECANCELED, "The upload of s3://%s/%s was cancelled.", call->bucket,
                                   call->key);
        int r = multipart_initiate(call, meta, &upload_id, reterr);
        if (r != 0)
                return r;
        r = send_part_range(call, upload_id, fd, size, part_size, 0, n_parts, &parts, progress, 0, reterr);
        if (r == 0)
                r = multipart_complete(call, upload_id, &parts, reterr);
        if (r != 0)
                multipart_abort(call, upload_id);
        return r;
}

int s3_upload_fd(const S3Config *c, const char *bucket, const char *key, int fd, uint64_t size, char *const *meta,
                 S3ProgressFunc progress, bool (*cancelled_func)(void *userdata), void *userdata, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        call.cancelled = cancelled_func;
        call.userdata = userdata;
        if (meta_check(meta) < 0)
                return message_set(reterr, -EINVAL, "The metadata for s3://%s/%s cannot be sent: names of a-z, 0-9 "
                                   "and '-', none the start of another, values of printable ASCII.", bucket, key);
        if (size > S3_OBJECT_MAX)
                return message_set(reterr, CEDANA_E_LIMITS, "s3://%s/%s would be %" PRIu64 " bytes, more than the "
                                   "object store takes (5 TiB).", bucket, key, size);
        if (size < S3_SINGLE_PUT_MAX) {
                if (cancelled(&call))
                        return message_set(reterr, -ECANCELED, "The upload of s3://%s/%s was cancelled.", bucket, key);
                return upload_single(&call, fd, size, meta, progress, reterr);
        }
        return upload_multipart(&call, fd, size, meta, progress, reterr);
}

/* ---- an upload of a file still being written ---------------------------------------------------- */

struct S3Upload {
        S3Call call;              /* the thread's while it streams, the caller's after */
        int fd;
        char **meta;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        uint64_t settled;         /* [0, settled) is final, but for the first part */
        bool stop;
        pthread_t thread;
        bool running;
        char *upload_id;          /* once the first part goes */
        Parts parts;              /* S3_PARTS_MAX of them, by index */
        uint64_t next;            /* the next part to send while streaming, from 1 */
        uint64_t streamed;        /* bytes sent before the finish */
        void *buf;
        int r;                    /* the thread's failure, and its sentence */
        char *err;
};

static void *stream_parts(void *userdata) {
        S3Upload *u = userdata;
        for (;;) {
                pthread_mutex_lock(&u->lock);
                while (!u->stop && u->settled < (u->next + 1) * S3_PART_SIZE)
                        pthread_cond_wait(&u->cond, &u->lock);
                bool stop = u->stop;
                pthread_mutex_unlock(&u->lock);
                /* Near S3's part limit the finish decides (it may need bigger parts). */
                if (stop || u->next + 1 >= S3_PARTS_MAX)
                        return NULL;
                int r = 0;
                if (!u->upload_id)
                        r = multipart_initiate(&u->call, u->meta, &u->upload_id, &u->err);
                if (r == 0 && !u->buf && !(u->buf = malloc(S3_PART_SIZE)))
                        r = message_set(&u->err, -ENOMEM, "Out of memory.");
                uint64_t offset = u->next * S3_PART_SIZE;
                if (r == 0)
                        r = upload_read(&u->call, u->fd, u->buf, S3_PART_SIZE, offset, offset + S3_PART_SIZE, &u->err);
                if (r == 0)
                        r = multipart_part(&u->call, u->upload_id, (unsigned) (u->next + 1), u->buf, S3_PART_SIZE,
                                           &u->parts.etags[u->next], &u->err);
                if (r != 0) {
                        u->r = r;
                        return NULL;
                }
                u->next++;
        }
}

int s3_upload_start(const S3Config *c, const char *bucket, const char *key, int fd, char *const *meta,
                    S3Upload **ret, char **reterr) {
        _cleanup_(s3_upload_freep) S3Upload *u = calloc(1, sizeof(S3Upload));
        if (!u)
                return -ENOMEM;
        u->fd = fd;
        u->next = 1;
        pthread_mutex_init(&u->lock, NULL);
        pthread_cond_init(&u->cond, NULL);
        int r = s3_call_init(&u->call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        if (meta_check(meta) < 0)
                return message_set(reterr, -EINVAL, "The metadata for s3://%s/%s cannot be sent: names of a-z, 0-9 "
                                   "and '-', none the start of another, values of printable ASCII.", bucket, key);
        u->meta = strv_copy(meta);
        u->parts.etags = calloc(S3_PARTS_MAX, sizeof(char *));
        if ((meta && !u->meta) || !u->parts.etags)
                return -ENOMEM;
        u->parts.n = S3_PARTS_MAX;
        r = -pthread_create(&u->thread, NULL, stream_parts, u);
        if (r < 0)
                return r;
        u->running = true;
        *ret = TAKE_PTR(u);
        return 0;
}

void s3_upload_settle(S3Upload *u, uint64_t offset) {
        pthread_mutex_lock(&u->lock);
        if (offset > u->settled) {
                u->settled = offset;
                pthread_cond_signal(&u->cond);
        }
        pthread_mutex_unlock(&u->lock);
}

static void stop_streaming(S3Upload *u) {
        if (!u->running)
                return;
        pthread_mutex_lock(&u->lock);
        u->stop = true;
        pthread_cond_signal(&u->cond);
        pthread_mutex_unlock(&u->lock);
        (void) pthread_join(u->thread, NULL);
        u->running = false;
        /* Read once the thread is gone: it moves u->next until then. */
        u->streamed = u->upload_id ? (u->next - 1) * S3_PART_SIZE : 0;
        u->buf = mfree(u->buf);
}

int s3_upload_finish(S3Upload *u, uint64_t size, S3ProgressFunc progress, bool (*cancelled_func)(void *userdata),
                     void *userdata, char **reterr) {
        stop_streaming(u);
        u->call.cancelled = cancelled_func;
        u->call.userdata = userdata;
        if (u->r != 0) {
                *reterr = TAKE_PTR(u->err);
                return u->r;
        }
        uint64_t n_parts = (size + S3_PART_SIZE - 1) / S3_PART_SIZE;
        if (!u->upload_id || n_parts > S3_PARTS_MAX || n_parts < u->next) {
                /* Nothing went yet (small), or it needs other parts: the whole file, now. */
                if (u->upload_id)
                        multipart_abort(&u->call, u->upload_id);
                u->upload_id = mfree(u->upload_id);
                return s3_upload_fd(u->call.config, u->call.bucket, u->call.key, u->fd, size, u->meta, progress,
                                    cancelled_func, userdata, reterr);
        }
        /* The rest, then the first part, whose cedana.json was written last. */
        uint64_t done = (u->next - 1) * S3_PART_SIZE;
        int r = send_part_range(&u->call, u->upload_id, u->fd, size, S3_PART_SIZE, u->next, n_parts, &u->parts,
                                progress, done, reterr);
        if (r == 0)
                r = send_part_range(&u->call, u->upload_id, u->fd, size, S3_PART_SIZE, 0, 1, &u->parts, progress,
                                    size - S3_PART_SIZE, reterr);
        Parts all = { .etags = u->parts.etags, .n = (size_t) n_parts };
        if (r == 0)
                r = multipart_complete(&u->call, u->upload_id, &all, reterr);
        if (r != 0)
                multipart_abort(&u->call, u->upload_id);
        u->upload_id = mfree(u->upload_id);
        return r;
}

uint64_t s3_upload_streamed(const S3Upload *u) {
        return u->streamed;
}

S3Upload *s3_upload_free(S3Upload *u) {
        if (!u)
                return NULL;
        stop_streaming(u);
        /* Not finished: nothing half-written stays on the store. */
        if (u->upload_id)
                multipart_abort(&u->call, u->upload_id);
        free(u->upload_id);
        free(u->err);
        parts_done(&u->parts);
        strv_free(u->meta);
        s3_call_done(&u->call);
        pthread_mutex_destroy(&u->lock);
        pthread_cond_destroy(&u->cond);
        free(u);
        return NULL;
}

int s3_download_fd(const S3Config *c, const char *bucket, const char *key, int fd, uint64_t max_bytes,
                   S3ProgressFunc progress, void *userdata, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        _cleanup_(s3_response_done) S3Response resp = {};
        Sink sink = { .fd = fd, .max = max_bytes, .progress = progress, .userdata = userdata };
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        S3Request req = { .method = "GET", .verb = "download", .sink = &sink };
        r = s3_request(&call, &req, &resp, reterr);
        free(sink.etag);
        if (r != 0)
                return r;
        sink_progress(&sink, true);
        return 0;
}

int s3_download_range_fd(const S3Config *c, const char *bucket, const char *key, uint64_t offset, uint64_t length,
                         const char *if_match, int fd, char **ret_etag, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        _cleanup_(s3_response_done) S3Response resp = {};
        Sink sink = { .fd = fd, .max = UINT64_MAX, .base = offset, .length = length };
        if (if_match && !(sink.etag = strdup(if_match)))
                return -ENOMEM;
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r >= 0) {
                S3Request req = { .method = "GET", .verb = "download", .sink = &sink };
                r = s3_request(&call, &req, &resp, reterr);
        }
        if (r == 0 && ret_etag) {
                *ret_etag = TAKE_PTR(sink.etag);
                if (!*ret_etag)
                        r = message_set(reterr, CEDANA_E_REMOTE, "The object store at %s did not say the ETag of "
                                        "s3://%s/%s.", c->endpoint, bucket, key);
        }
        free(sink.etag);
        return r;
}

int s3_abort_uploads(const S3Config *c, const char *bucket, const char *key, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *prefix = NULL, *query = NULL;
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        if (!(prefix = uri_encode(key, false)) || asprintf(&query, "prefix=%s&uploads=", prefix) < 0)
                return message_set(reterr, -ENOMEM, "Out of memory.");
        /* ListMultipartUploads is the bucket's. */
        call.bucket_level = true;
        S3Request req = { .method = "GET", .verb = "listing of unfinished uploads", .query = query };
        r = s3_request(&call, &req, &resp, reterr);
        call.bucket_level = false;
        if (r != 0)
                return r;
        const char *p = resp.body, *end = resp.body ? resp.body + resp.body_size : NULL;
        while (p && p < end) {
                const char *b = memmem(p, (size_t) (end - p), "<Upload>", 8);
                const char *e = b ? memmem(b, (size_t) (end - b), "</Upload>", 9) : NULL;
                if (!e)
                        break;
                _cleanup_free_ char *k = xml_tag(b, (size_t) (e - b), "Key"), *id = xml_tag(b, (size_t) (e - b), "UploadId");
                /* The prefix also finds longer keys: only this one's go. */
                if (k && id && streq(k, key)) {
                        log_info("Aborting the unfinished upload %s of s3://%s/%s, left by an interrupted dump.", id,
                                 bucket, key);
                        multipart_abort(&call, id);
                }
                p = e + 9;
        }
        return 0;
}

int s3_head(const S3Config *c, const char *bucket, const char *key, uint64_t *ret_size, const char *meta_name,
            char **ret_meta, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        _cleanup_(s3_response_done) S3Response resp = {};
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        if (meta_name && !meta_name_is_valid(meta_name, strlen(meta_name)))
                return message_set(reterr, -EINVAL, "\"%s\" is not a metadata name.", meta_name);
        S3Request req = { .method = "HEAD", .verb = "lookup", .meta_name = meta_name };
        r = s3_request(&call, &req, &resp, reterr);
        if (r != 0)
                return r;
        if (!resp.has_length)
                return message_set(reterr, CEDANA_E_REMOTE, "The object store at %s did not say the size of "
                                   "s3://%s/%s.", c->endpoint, bucket, key);
        if (ret_size)
                *ret_size = resp.length;
        if (ret_meta)
                *ret_meta = meta_name ? TAKE_PTR(resp.meta) : NULL;
        return 0;
}

int s3_delete(const S3Config *c, const char *bucket, const char *key, char **reterr) {
        _cleanup_(s3_call_done) S3Call call = {};
        _cleanup_(s3_response_done) S3Response resp = {};
        int r = s3_call_init(&call, c, bucket, key, reterr);
        if (r < 0)
                return r;
        S3Request req = { .method = "DELETE", .verb = "removal" };
        return s3_request(&call, &req, &resp, reterr);
}
