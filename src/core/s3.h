/* SPDX-License-Identifier: Apache-2.0 */
/* A small S3 client for checkpoints in object stores (AWS S3, Ceph RGW, MinIO): whole objects up
 * and down between an fd and a bucket, through libcurl with its own SigV4 signing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* Where and as whom. Read only by the calls below, so one S3Config may serve several threads.
 *
 * Threads: libcurl's global state is set up once, on first use, under a pthread_once; each call
 * has its own curl handle. The process must ignore SIGPIPE (cedanad does): curl is asked not to
 * touch signals (CURLOPT_NOSIGNAL, so no alarm() around name lookups in a threaded daemon), and
 * then a peer that resets a TLS connection, or a reader that closes a download's pipe, would
 * otherwise end it. */
typedef struct S3Config {
        char *endpoint;   /* "http://127.0.0.1:7480" or "https://s3.example.com", no trailing slash */
        char *region;     /* e.g. "us-east-1" */
        char *access_key;
        char *secret_key;
        char *ca_file;    /* NULL: the system's CAs; TLS verification is never turned off */
        bool path_style;  /* true: ENDPOINT/BUCKET/KEY; false: virtual-hosted BUCKET.HOST/KEY */
} S3Config;

/* Frees the strings (the secret wiped first) and zeroes *c. */
void s3_config_done(S3Config *c);

/* Reads a credentials file: lines "AccessKeyId=..." and "SecretAccessKey=..." (blank lines and #
 * comments allowed). Refuses (-EPERM) a file not owned by root or readable/writable by group or
 * others, or a symlink; -EBADMSG for a malformed file (a line of another kind, a key twice, one
 * missing or empty). */
int s3_credentials_read(const char *path, char **ret_access_key, char **ret_secret_key);

/* Starts with "s3://". */
bool s3_url_is(const char *s);

/* "s3://BUCKET/KEY": bucket 3..63 of [a-z0-9.-] (beginning and ending with a letter or digit, no
 * "..": S3's rule, and what a host name made from it needs), key 1..1024 bytes, no NUL/control
 * chars, no ".." or "." path segments, no "//", no leading '/'. A URL without a key (s3://bucket
 * or s3://bucket/) gives *ret_key "" (allowed for --dir). -EINVAL otherwise. */
int s3_url_parse(const char *url, char **ret_bucket, char **ret_key);

typedef void (*S3ProgressFunc)(uint64_t done, uint64_t total, void *userdata);

/* All calls below return 0, a negative errno (with a sentence in *reterr where there is one to
 * say), or an outcome with its sentence in *reterr (never the secret):
 *   REMOTE         the store could not be reached, kept failing (5xx, 429, SlowDown) after
 *                  3 retries, or answered something else unexpected (HTTP status and S3 code);
 *   ACCESS_DENIED  403 InvalidAccessKeyId, SignatureDoesNotMatch or AccessDenied;
 *   NO_SUCH_FILE   404 NoSuchBucket or NoSuchKey;
 *   LIMITS         a download larger than allowed, an upload larger than S3 takes (5 TiB).
 * -EINVAL: a bucket or key that s3_url_parse() would refuse, an endpoint that is not
 * http(s)://HOST[:PORT], metadata that cannot be sent as a header.
 * Transient failures (connection refused/reset/timed out, HTTP 5xx, 429, SlowDown) are retried
 * up to 3 more times, after 0.5 s, 1 s and 2 s, per request. */

/* Uploads size bytes of fd (read with pread from offset 0) as BUCKET/KEY: one PUT below 16 MiB,
 * else a multipart upload of 8 MiB parts (larger beyond 10000 parts, S3's limit), read one part
 * at a time; each request carries its body's SHA-256 and MD5, which the store checks. meta: NULL
 * or a NULL-terminated list of "name=value" sent as x-amz-meta-name (name: [a-z0-9-], not a
 * prefix of another's; value: printable ASCII, no leading, trailing or double spaces). A failed
 * multipart upload is aborted (best effort) so nothing half-written stays. cancelled: NULL or
 * asked before each part and before each retry; then returns -ECANCELED (after aborting).
 * progress: NULL, or called with the bytes stored so far after each part. */
int s3_upload_fd(const S3Config *c, const char *bucket, const char *key, int fd, uint64_t size,
                 char *const *meta, S3ProgressFunc progress, bool (*cancelled)(void *userdata),
                 void *userdata, char **reterr);

/* An upload of a file that is still being written (a checkpoint archive while CRIU dumps): its
 * parts go to the store on a thread of their own as soon as the writer says their bytes will not
 * change any more, except the first part (where cedana.json is, written last), which goes at the
 * end. The multipart upload begins once two parts' worth are settled; a smaller file goes up
 * whole at the end. A started upload that is freed unfinished is aborted. */
typedef struct S3Upload S3Upload;
int s3_upload_start(const S3Config *c, const char *bucket, const char *key, int fd, char *const *meta,
                    S3Upload **ret, char **reterr);
/* [0, offset) of the file is final, but for its first 8 MiB. */
void s3_upload_settle(S3Upload *u, uint64_t offset);
/* The file is complete at size bytes: what is left goes (two parts in flight), then the object is
 * completed. Outcomes as s3_upload_fd(); a failure while streaming is reported here. */
int s3_upload_finish(S3Upload *u, uint64_t size, S3ProgressFunc progress, bool (*cancelled)(void *userdata),
                     void *userdata, char **reterr);
/* After the finish: how much went to the store before it, while the file was still written. */
uint64_t s3_upload_streamed(const S3Upload *u);
S3Upload *s3_upload_free(S3Upload *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(S3Upload *, s3_upload_free);

/* GETs BUCKET/KEY and writes it to fd (as write(2) goes, from fd's current offset), at most
 * max_bytes (more: LIMITS, refused before writing when the store says the size up front). A retry
 * asks for the rest with a Range request bound to the first answer's ETag (If-Match), so the
 * pieces are of one object; a store that ignores Range sends it all again, and the bytes already
 * written are skipped. The fd need not be seekable. progress: NULL or called as bytes arrive
 * (every 4 MiB and at the end). */
int s3_download_fd(const S3Config *c, const char *bucket, const char *key, int fd, uint64_t max_bytes,
                   S3ProgressFunc progress, void *userdata, char **reterr);

/* GETs length bytes (0: all) of BUCKET/KEY from offset on, to fd (a pipe, say), as
 * s3_download_fd() does, retries included. if_match: NULL, or the ETag the object must have (so
 * that ranges read apart are of one object: 412 otherwise, REMOTE); *ret_etag (optional): the
 * object's. A reader that closes the pipe early ends it with an error, which it knows to ignore. */
int s3_download_range_fd(const S3Config *c, const char *bucket, const char *key, uint64_t offset, uint64_t length,
                         const char *if_match, int fd, char **ret_etag, char **reterr);
/* HEAD: size, and the value of x-amz-meta-<name> if meta_name given ([a-z0-9-]; NULL if absent). A HEAD
 * answer has no body, so a 404 is always "no object", a 403 always ACCESS_DENIED. */
int s3_head(const S3Config *c, const char *bucket, const char *key, uint64_t *ret_size, const char *meta_name,
            char **ret_meta, char **reterr);

/* Aborts every unfinished multipart upload of BUCKET/KEY (what a dump killed half-way leaves):
 * ListMultipartUploads with the key as prefix, then an abort of each that is exactly the key's. */
int s3_abort_uploads(const S3Config *c, const char *bucket, const char *key, char **reterr);
/* DELETE; an object that is not there is no failure (S3 answers 204 either way). */
int s3_delete(const S3Config *c, const char *bucket, const char *key, char **reterr);
