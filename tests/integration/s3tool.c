/* SPDX-License-Identifier: Apache-2.0 */
/* The S3 client (src/core/s3.c) as a command, for test_75_s3client.py: one call per run, its
 * result as one JSON line on stdout, or its sentence on stderr and the outcome's exit code.
 *
 *   s3tool ENDPOINT REGION ACCESS SECRET put BUCKET KEY FILE [name=value...]
 *   s3tool ENDPOINT REGION ACCESS SECRET get BUCKET KEY FILE|-
 *   s3tool ENDPOINT REGION ACCESS SECRET head BUCKET KEY [META]
 *   s3tool ENDPOINT REGION ACCESS SECRET delete BUCKET KEY
 *   s3tool parse URL                  (s3_url_parse)
 *   s3tool credentials FILE           (s3_credentials_read; prints the access key, never the secret)
 *
 * Environment: S3TOOL_MAX_BYTES (get's limit), S3TOOL_CANCEL_AFTER=N (put: cancelled once N
 * parts are stored), S3TOOL_CA_FILE, S3TOOL_VIRTUAL_HOSTED=1, S3TOOL_DEBUG=1 (the client's debug
 * log on stderr). */

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>

#include "bus-error.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "s3.h"

typedef struct Progress {
        unsigned calls;
        uint64_t done, total;
        bool monotonic;
        unsigned cancel_after; /* 0: never */
} Progress;

static void on_progress(uint64_t done, uint64_t total, void *userdata) {
        Progress *p = userdata;
        if (done < p->done || done > total)
                p->monotonic = false;
        p->calls++;
        p->done = done;
        p->total = total;
}

static bool on_cancelled(void *userdata) {
        const Progress *p = userdata;
        return p->cancel_after > 0 && p->calls >= p->cancel_after;
}

static int print_json(json_t *v) {
        _cleanup_free_ char *s = NULL;
        int r = json_format(v, 0, &s);
        if (r < 0)
                return r;
        puts(s);
        return 0;
}

static json_t *progress_json(const Progress *p) {
        return json_pack("{s:i, s:I, s:I, s:b}", "calls", (int) p->calls, "done", (json_int_t) p->done, "total",
                         (json_int_t) p->total, "monotonic", p->monotonic);
}

static int fail(int r, const char *sentence) {
        fprintf(stderr, "%s\n", sentence ?: strerror(r < 0 ? -r : EIO));
        return r > 0 ? cedana_error_to_exit_code(r) : CEDANA_EXIT_FAILURE;
}

static int usage(void) {
        fprintf(stderr, "usage: s3tool ENDPOINT REGION ACCESS SECRET put|get|head|delete|stream-put|get-range BUCKET "
                        "KEY [...]\n"
                        "       s3tool parse URL | credentials FILE\n");
        return CEDANA_EXIT_USAGE;
}

static int do_put(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL;
        Progress p = { .monotonic = true };
        struct stat st;
        const char *cancel = getenv("S3TOOL_CANCEL_AFTER");

        if (n < 3)
                return usage();
        if (cancel)
                p.cancel_after = (unsigned) strtoul(cancel, NULL, 10);
        _cleanup_close_ int fd = open(args[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return fail(negative_errno(), NULL);
        int r = s3_upload_fd(c, args[0], args[1], fd, (uint64_t) st.st_size, n > 3 ? args + 3 : NULL, on_progress,
                             on_cancelled, &p, &error);
        if (r != 0)
                return fail(r, error);
        _cleanup_json_ json_t *v = json_pack("{s:I, s:o}", "size", (json_int_t) st.st_size, "progress",
                                             progress_json(&p));
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

static int do_get(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL;
        Progress p = { .monotonic = true };
        const char *max = getenv("S3TOOL_MAX_BYTES");
        _cleanup_close_ int fd = -EBADF;

        if (n != 3)
                return usage();
        if (!streq(args[2], "-")) {
                fd = open(args[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return fail(negative_errno(), NULL);
        }
        int r = s3_download_fd(c, args[0], args[1], fd >= 0 ? fd : STDOUT_FILENO,
                               max ? strtoull(max, NULL, 10) : UINT64_MAX, on_progress, &p, &error);
        if (r != 0)
                return fail(r, error);
        /* With "-", stdout carries the object: the result goes to stderr. */
        if (fd < 0) {
                fprintf(stderr, "{\"size\": %" PRIu64 "}\n", p.done);
                return 0;
        }
        _cleanup_json_ json_t *v = json_pack("{s:I, s:o}", "size", (json_int_t) p.done, "progress", progress_json(&p));
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

/* Uploads FILE as a writer would while still writing it: a copy grows by 1 MiB every 20 ms, its
 * first 8 MiB zeros until the end (as an archive's cedana.json is written last), settled as it
 * goes. */
static int do_stream_put(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL;
        _cleanup_(s3_upload_freep) S3Upload *u = NULL;
        Progress p = { .monotonic = true };
        struct stat st;
        if (n != 3)
                return usage();
        _cleanup_close_ int in = open(args[2], O_RDONLY | O_CLOEXEC), out = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (in < 0 || out < 0 || fstat(in, &st) < 0)
                return fail(negative_errno(), NULL);
        int r = s3_upload_start(c, args[0], args[1], out, NULL, &u, &error);
        if (r != 0)
                return fail(r, error);
        static char buf[1 << 20];
        const uint64_t first = 8 << 20;
        for (uint64_t off = 0; off < (uint64_t) st.st_size; off += sizeof(buf)) {
                ssize_t k = pread(in, buf, sizeof(buf), (off_t) off);
                if (k <= 0)
                        return fail(k < 0 ? negative_errno() : -EIO, NULL);
                if (off < first)
                        memset(buf, 0, (size_t) k);
                if (pwrite(out, buf, (size_t) k, (off_t) off) != k)
                        return fail(negative_errno(), NULL);
                s3_upload_settle(u, off + (uint64_t) k);
                usleep(20000);
        }
        for (uint64_t off = 0; off < first && off < (uint64_t) st.st_size; off += sizeof(buf)) {
                ssize_t k = pread(in, buf, sizeof(buf), (off_t) off);
                if (k <= 0 || pwrite(out, buf, (size_t) k, (off_t) off) != k)
                        return fail(-EIO, NULL);
        }
        r = s3_upload_finish(u, (uint64_t) st.st_size, on_progress, NULL, &p, &error);
        if (r != 0)
                return fail(r, error);
        _cleanup_json_ json_t *v = json_pack("{s:I, s:I}", "size", (json_int_t) st.st_size, "streamed",
                                             (json_int_t) s3_upload_streamed(u));
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

/* LENGTH bytes (0: to the end) of the object from OFFSET, to stdout. */
static int do_get_range(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL, *etag = NULL;
        if (n != 4)
                return usage();
        int r = s3_download_range_fd(c, args[0], args[1], strtoull(args[2], NULL, 10), strtoull(args[3], NULL, 10),
                                     getenv("S3TOOL_IF_MATCH"), STDOUT_FILENO, &etag, &error);
        if (r != 0)
                return fail(r, error);
        fprintf(stderr, "{\"etag\": \"%s\"}\n", etag);
        return 0;
}

static int do_head(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL, *meta = NULL;
        uint64_t size = 0;

        if (n < 2 || n > 3)
                return usage();
        int r = s3_head(c, args[0], args[1], &size, n > 2 ? args[2] : NULL, &meta, &error);
        if (r != 0)
                return fail(r, error);
        _cleanup_json_ json_t *v = json_pack("{s:I, s:o}", "size", (json_int_t) size, "meta",
                                             json_string_or_null(meta));
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

static int do_delete(const S3Config *c, char **args, int n) {
        _cleanup_free_ char *error = NULL;
        if (n != 2)
                return usage();
        int r = s3_delete(c, args[0], args[1], &error);
        if (r != 0)
                return fail(r, error);
        puts("{\"deleted\": true}");
        return 0;
}

static int do_parse(const char *url) {
        _cleanup_free_ char *bucket = NULL, *key = NULL;
        int r = s3_url_parse(url, &bucket, &key);
        if (r < 0)
                return fail(r, "not a valid s3:// URL");
        _cleanup_json_ json_t *v = json_pack("{s:b, s:s, s:s}", "is", s3_url_is(url), "bucket", bucket, "key", key);
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

static int do_credentials(const char *path) {
        _cleanup_free_ char *access_key = NULL;
        char *secret_key = NULL;
        int r = s3_credentials_read(path, &access_key, &secret_key);
        if (r < 0)
                return fail(r, NULL);
        size_t l = strlen(secret_key);
        explicit_bzero(secret_key, l);
        free(secret_key);
        _cleanup_json_ json_t *v = json_pack("{s:s, s:I}", "access_key", access_key, "secret_length", (json_int_t) l);
        return v && print_json(v) >= 0 ? 0 : CEDANA_EXIT_FAILURE;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*fn)(const S3Config *c, char **args, int n);
        } verbs[] = {
                { "put", do_put }, { "get", do_get }, { "head", do_head }, { "delete", do_delete },
                { "stream-put", do_stream_put }, { "get-range", do_get_range },
        };

        (void) signal(SIGPIPE, SIG_IGN); /* as cedanad: s3.h asks for it */
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_prefix("s3tool");
        if (getenv("S3TOOL_DEBUG"))
                log_set_max_level(LOG_DEBUG);

        if (argc == 3 && streq(argv[1], "parse"))
                return do_parse(argv[2]);
        if (argc == 3 && streq(argv[1], "credentials"))
                return do_credentials(argv[2]);
        if (argc < 6)
                return usage();
        S3Config c = {
                .endpoint = argv[1],
                .region = argv[2],
                .access_key = argv[3],
                .secret_key = argv[4],
                .ca_file = getenv("S3TOOL_CA_FILE"),
                .path_style = !getenv("S3TOOL_VIRTUAL_HOSTED"),
        };
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[5], verbs[i].name))
                        return verbs[i].fn(&c, argv + 6, argc - 6);
        return usage();
}
