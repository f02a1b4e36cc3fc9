/* SPDX-License-Identifier: Apache-2.0 */
/* cedana.json: building it, writing it with a digest over its own bytes, and reading it back as
 * untrusted input, in the current format and the crc32 format of cedana 0.1. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "containerd.h"
#include "fd-util.h"
#include "json-util.h"
#include "metadata.h"
#include "strv.h"
#include "tty-util.h"

#define FILE_NAME_MAX 255
/* What ends every format 2 document: the checksum member, then the closing brace (and in
 * archives spaces up to the size reserved for it). */
#define CHECKSUM_HEAD "\"checksum\": \"" METADATA_DIGEST_PREFIX
#define CHECKSUM_TAIL "\"\n}\n"
#define CHECKSUM_MEMBER_LEN (STRLEN(CHECKSUM_HEAD) + SHA256_HEX_LEN + STRLEN(CHECKSUM_TAIL))

static const char *const metadata_types[] = { "process", "job", "runc", "containerd" };
static const char *const top_members[] = {
        "format_version", "id", "type", "pid", "job", "uid", "time_usec", "hostname",
        "criu_version", "cedana_version", "command", "container", "options", "size", "files", "checksum",
};
static const char *const runc_members[] = { "runtime", "id", "root", "bundle" };
static const char *const containerd_members[] = { "runtime", "id", "namespace", "image", "snapshotter", "parent" };
static const char *const option_members[] = {
        "compression", "leave_running", "tcp_established", "file_locks", "shell_job",
        "link_remap", "external", "attach_pipes", "attach_tty", "attach_tty_modes", "job_log",
};

bool checkpoint_file_name_is_plain(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (const char *p = s; *p; p++) {
                if (++n > FILE_NAME_MAX)
                        return false;
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '_' || *p == '-'))
                        return false;
        }
        return n > 0 && !streq(s, ".") && !streq(s, "..");
}

static bool string_has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

int metadata_new(CheckpointMetadata **ret) {
        CheckpointMetadata *m = calloc(1, sizeof(CheckpointMetadata));
        if (!m)
                return -ENOMEM;
        m->format_version = METADATA_FORMAT_VERSION;
        *ret = m;
        return 0;
}

void checkpoint_container_done(CheckpointContainer *c) {
        free(c->runtime);
        free(c->id);
        free(c->root);
        free(c->bundle);
        free(c->namespace);
        free(c->image);
        free(c->snapshotter);
        free(c->parent);
        *c = (CheckpointContainer) {};
}

json_t *metadata_container_to_json(const CheckpointContainer *k) {
        if (streq(k->runtime, "containerd"))
                return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "runtime", k->runtime, "id", strempty(k->id),
                                 "namespace", strempty(k->namespace), "image", strempty(k->image), "snapshotter",
                                 strempty(k->snapshotter), "parent", strempty(k->parent));
        return json_pack("{s:s, s:s, s:s, s:s}", "runtime", k->runtime, "id", strempty(k->id), "root",
                         strempty(k->root), "bundle", strempty(k->bundle));
}

CheckpointMetadata *metadata_free(CheckpointMetadata *m) {
        if (!m)
                return NULL;
        free(m->id);
        free(m->type);
        free(m->job);
        free(m->hostname);
        free(m->criu_version);
        free(m->cedana_version);
        strv_free(m->command);
        checkpoint_container_done(&m->container);
        dump_options_done(&m->options);
        for (size_t i = 0; i < m->n_files; i++) {
                free(m->files[i].name);
                free(m->files[i].frames);
        }
        free(m->files);
        free(m);
        return NULL;
}

/* Index of name in m->files, or -1 with *ret_pos where it would go. */
static ssize_t find_index(const CheckpointMetadata *m, const char *name, size_t *ret_pos) {
        size_t lo = 0, hi = m->n_files;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(m->files[mid].name, name);

                if (c == 0)
                        return (ssize_t) mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (ret_pos)
                *ret_pos = lo;
        return -1;
}

const CheckpointFile *metadata_find_file(const CheckpointMetadata *m, const char *name) {
        ssize_t i = m && name ? find_index(m, name, NULL) : -1;
        return i >= 0 ? &m->files[i] : NULL;
}

static int add_file(CheckpointMetadata *m, const char *name, uint64_t size, const char *sha256, uint32_t crc32) {
        size_t pos = 0;

        if (!m || !checkpoint_file_name_is_plain(name) || streq(name, METADATA_FILENAME))
                return -EINVAL;
        if (find_index(m, name, &pos) >= 0)
                return -EEXIST;
        if (size > INT64_MAX || m->size + size > INT64_MAX)
                return -EOVERFLOW;

        _cleanup_free_ char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        CheckpointFile *files = reallocarray(m->files, m->n_files + 1, sizeof(CheckpointFile));
        if (!files)
                return -ENOMEM;
        m->files = files;

        memmove(files + pos + 1, files + pos, (m->n_files - pos) * sizeof(CheckpointFile));
        files[pos] = (CheckpointFile) { .name = TAKE_PTR(copy), .size = size, .crc32 = crc32, .at = METADATA_NO_OFFSET };
        if (sha256)
                memcpy(files[pos].sha256, sha256, SHA256_HEX_SIZE);
        m->n_files++;
        m->size += size;
        return 0;
}

int metadata_add_file(CheckpointMetadata *m, const char *name, uint64_t size, const char *sha256) {
        if (!sha256_hex_is_valid(sha256))
                return -EINVAL;
        return add_file(m, name, size, sha256, 0);
}

int metadata_set_file_offset(CheckpointMetadata *m, const char *name, uint64_t at) {
        ssize_t i = m && name ? find_index(m, name, NULL) : -1;
        if (i < 0)
                return -ENOENT;
        m->files[i].at = at;
        return 0;
}

int metadata_set_file_frames(CheckpointMetadata *m, const char *name, const uint64_t *frames, size_t n) {
        ssize_t i = m && name ? find_index(m, name, NULL) : -1;
        if (i < 0)
                return -ENOENT;
        if (n < 2 || frames[0] != m->files[i].at)
                return -EINVAL;
        for (size_t k = 1; k < n; k++)
                if (frames[k] <= frames[k - 1] || frames[k] > INT64_MAX)
                        return -EINVAL;
        uint64_t *copy = reallocarray(NULL, n, sizeof(uint64_t));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, frames, n * sizeof(uint64_t));
        free(m->files[i].frames);
        m->files[i].frames = copy;
        m->files[i].n_frames = n;
        return 0;
}

void metadata_drop_frames(CheckpointMetadata *m) {
        for (size_t i = 0; i < m->n_files; i++) {
                m->files[i].frames = mfree(m->files[i].frames);
                m->files[i].n_frames = 0;
        }
}

/* ---- writing ---- */

static int set(json_t *o, const char *key, json_t *v) {
        /* jansson takes v even when it fails */
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int build_options(const DumpOptions *o, json_t **ret) {
        const char *compression = compression_to_string(o->compression);
        if (!compression)
                return -EINVAL;
        _cleanup_json_ json_t *j = json_object();
        if (!j)
                return -ENOMEM;
        int r = set(j, "compression", json_string(compression));
        if (r >= 0)
                r = set(j, "leave_running", json_boolean(o->leave_running));
        if (r >= 0)
                r = set(j, "tcp_established", json_boolean(o->tcp_established));
        if (r >= 0)
                r = set(j, "file_locks", json_boolean(o->file_locks));
        if (r >= 0)
                r = set(j, "shell_job", json_boolean(o->shell_job));
        if (r >= 0)
                r = set(j, "link_remap", json_boolean(o->link_remap));
        if (r >= 0)
                r = set(j, "external", json_strv(o->external));
        if (r >= 0 && o->attach_pipes)
                r = set(j, "attach_pipes", json_strv(o->attach_pipes));
        if (r >= 0 && o->attach_tty)
                r = set(j, "attach_tty", json_string(o->attach_tty));
        if (r >= 0 && o->attach_tty && o->attach_tty_modes)
                r = set(j, "attach_tty_modes", json_string(o->attach_tty_modes));
        if (r >= 0 && o->job_log)
                r = set(j, "job_log", json_string(o->job_log));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

static int build_files(const CheckpointMetadata *m, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_files; i++) {
                json_t *f = json_pack("{s:s, s:I, s:s}", "name", m->files[i].name, "size",
                                      (json_int_t) m->files[i].size, "sha256", m->files[i].sha256);
                if (!f || json_array_append_new(a, f) < 0)
                        return -ENOMEM;
                if (m->files[i].at <= INT64_MAX && set(f, "at", json_integer((json_int_t) m->files[i].at)) < 0)
                        return -ENOMEM;
                if (m->files[i].n_frames > 0) {
                        json_t *fr = json_array();
                        if (!fr || set(f, "frames", fr) < 0)
                                return -ENOMEM;
                        for (size_t k = 0; k < m->files[i].n_frames; k++)
                                if (json_array_append_new(fr, json_integer((json_int_t) m->files[i].frames[k])) < 0)
                                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* Everything but the checksum, in the documented member order. */
static int build(const CheckpointMetadata *m, json_t **ret) {
        if (!m || !m->id || !m->type || m->time_usec > INT64_MAX)
                return -EINVAL;
        _cleanup_json_ json_t *o = json_object();
        if (!o)
                return -ENOMEM;
        json_t *options = NULL, *files = NULL;
        int r = set(o, "format_version", json_integer(METADATA_FORMAT_VERSION));
        if (r >= 0)
                r = set(o, "id", json_string(m->id));
        if (r >= 0)
                r = set(o, "type", json_string(m->type));
        if (r >= 0)
                r = set(o, "pid", json_integer(m->pid));
        if (r >= 0 && m->job)
                r = set(o, "job", json_string(m->job));
        if (r >= 0)
                r = set(o, "uid", json_integer(m->uid));
        if (r >= 0)
                r = set(o, "time_usec", json_integer((json_int_t) m->time_usec));
        if (r >= 0)
                r = set(o, "hostname", json_string_or_null(m->hostname));
        if (r >= 0)
                r = set(o, "criu_version", json_string_or_null(m->criu_version));
        if (r >= 0)
                r = set(o, "cedana_version", json_string_or_null(m->cedana_version));
        if (r >= 0 && m->command)
                r = set(o, "command", json_strv(m->command));
        if (r >= 0 && m->container.runtime)
                r = set(o, "container", metadata_container_to_json(&m->container));
        if (r >= 0 && (r = build_options(&m->options, &options)) >= 0)
                r = set(o, "options", options);
        /* The sum of the files, which is what a reader checks it against. */
        if (r >= 0)
                r = set(o, "size", json_integer((json_int_t) m->size));
        if (r >= 0 && (r = build_files(m, &files)) >= 0)
                r = set(o, "files", files);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int metadata_format(const CheckpointMetadata *m, char **ret_text, size_t *ret_size,
                    char ret_digest[METADATA_DIGEST_SIZE]) {
        _cleanup_json_ json_t *o = NULL;
        _cleanup_free_ char *body = NULL;
        int r = build(m, &o);
        if (r >= 0)
                r = json_format(o, JSON_FORMAT_PRETTY, &body);
        if (r < 0)
                return r;

        /* body is "{\n  ...\n}\n": the checksum member goes in front of the closing brace. */
        size_t l = strlen(body);
        if (l < 4 || !streq(body + l - 3, "\n}\n"))
                return -EINVAL;
        l -= 3;
        size_t n = l + STRLEN(",\n  ") + CHECKSUM_MEMBER_LEN;
        if (n > METADATA_MAX_SIZE)
                return -E2BIG;
        _cleanup_free_ char *text = malloc(n + 1);
        if (!text)
                return -ENOMEM;
        memcpy(text, body, l);
        memcpy(text + l, ",\n  ", STRLEN(",\n  "));
        size_t covered = l + STRLEN(",\n  ");
        char hex[SHA256_HEX_SIZE];
        r = sha256_hex(text, covered, hex);
        if (r < 0)
                return r;
        snprintf(text + covered, n + 1 - covered, CHECKSUM_HEAD "%s" CHECKSUM_TAIL, hex);

        if (ret_digest)
                snprintf(ret_digest, METADATA_DIGEST_SIZE, METADATA_DIGEST_PREFIX "%s", hex);
        if (ret_size)
                *ret_size = n;
        *ret_text = TAKE_PTR(text);
        return 0;
}

int metadata_write(const CheckpointMetadata *m, int dir_fd, char ret_digest[METADATA_DIGEST_SIZE]) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        int r = metadata_format(m, &text, &n, ret_digest);
        if (r < 0)
                return r;
        return write_file_atomic_at(dir_fd, METADATA_FILENAME, text, n, 0644);
}

/* ---- reading ---- */

static int metadata_error(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int metadata_error(char **reterr, int error, const char *format, ...) {
        if (!reterr)
                return error;
        va_list ap;
        va_start(ap, format);
        int r = vasprintf(reterr, format, ap);
        va_end(ap);
        if (r < 0) {
                *reterr = NULL;
                return -ENOMEM;
        }
        return error;
}

#define metadata_invalid(reterr, format, ...) \
        metadata_error((reterr), -EBADMSG, "The checkpoint's metadata (cedana.json) is invalid: " format ".", ##__VA_ARGS__)
#define metadata_corrupt(reterr) \
        metadata_error((reterr), -EBADMSG, "The checkpoint's metadata (cedana.json) is corrupt: checksum mismatch.")

static int check_members(const json_t *o, const char *what, const char *const *allowed, size_t n_allowed,
                         char **reterr) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *) o, key, value) {
                bool found = false;
                for (size_t k = 0; k < n_allowed && !found; k++)
                        found = streq(key, allowed[k]);
                if (found)
                        continue;
                /* A hostile key could carry terminal escapes: only echo plain ones. */
                if (checkpoint_file_name_is_plain(key))
                        return metadata_invalid(reterr, "unknown member \"%s\" in %s", key, what);
                return metadata_invalid(reterr, "unknown member in %s", what);
        }
        return 0;
}

/* A required string member; nullable ones may be JSON null (*ret = NULL), others must be
 * non-empty. No control characters: these strings end up in tables and the journal. */
static int get_string(const json_t *o, const char *key, bool nullable, char **ret, char **reterr) {
        json_t *v = json_object_get(o, key);
        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (nullable && json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        const char *s = json_string_value(v);
        if (!s || (!nullable && isempty(s)))
                return metadata_invalid(reterr, "member \"%s\" must be a%s string", key, nullable ? "" : " non-empty");
        if (string_has_control(s))
                return metadata_invalid(reterr, "member \"%s\" contains control characters", key);
        if (!(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

static int get_unsigned(const json_t *o, const char *key, uint64_t min, uint64_t max, uint64_t *ret, char **reterr) {
        json_t *v = json_object_get(o, key);
        uint64_t u;
        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (json_get_u64(v, &u) < 0 || u < min || u > max)
                return metadata_invalid(reterr, "member \"%s\" must be an integer between %" PRIu64 " and %" PRIu64,
                                        key, min, max);
        *ret = u;
        return 0;
}

static int get_boolean(const json_t *o, const char *key, bool *ret, char **reterr) {
        json_t *v = json_object_get(o, key);
        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (!json_is_boolean(v))
                return metadata_invalid(reterr, "member \"%s\" must be a boolean", key);
        *ret = json_is_true(v);
        return 0;
}

/* An array of non-empty strings without control characters. */
static int get_strv(const json_t *v, const char *key, char ***ret, char **reterr) {
        int r = json_get_strv(v, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return metadata_invalid(reterr, "member \"%s\" must be an array of strings", key);
        STRV_FOREACH(s, *ret)
                if (isempty(*s) || string_has_control(*s))
                        return metadata_invalid(reterr, "member \"%s\" contains an invalid entry", key);
        return 0;
}

/* Format 2: the digest covers every byte before the checksum member, which ends the file. */
static int check_digest_v2(const char *text, size_t n, char ret_digest[METADATA_DIGEST_SIZE], char **reterr) {
        /* Archives reserve room for cedana.json at their start and pad it with spaces. */
        while (n > 0 && text[n - 1] == ' ')
                n--;
        if (n < CHECKSUM_MEMBER_LEN)
                return metadata_corrupt(reterr);
        size_t covered = n - CHECKSUM_MEMBER_LEN;
        const char *member = text + covered;
        if (memcmp(member, CHECKSUM_HEAD, STRLEN(CHECKSUM_HEAD)) != 0 ||
            memcmp(text + n - STRLEN(CHECKSUM_TAIL), CHECKSUM_TAIL, STRLEN(CHECKSUM_TAIL)) != 0)
                return metadata_invalid(reterr, "it does not end with its \"checksum\" member");
        char expected[SHA256_HEX_SIZE], actual[SHA256_HEX_SIZE];
        memcpy(expected, member + STRLEN(CHECKSUM_HEAD), SHA256_HEX_LEN);
        expected[SHA256_HEX_LEN] = 0;
        int r = sha256_hex(text, covered, actual);
        if (r < 0)
                return r;
        if (!streq(expected, actual))
                return metadata_corrupt(reterr);
        snprintf(ret_digest, METADATA_DIGEST_SIZE, METADATA_DIGEST_PREFIX "%s", actual);
        return 0;
}

/* Format 1: "crc32:xxxxxxxx" over the compact serialisation of everything else, which cedana
 * 0.1 produced with members in order and integers as integers; jansson's compact form of the
 * same document is byte for byte what it wrote. A corruption check only: it vouches for nothing. */
static int check_checksum_v1(const json_t *v, char **reterr) {
        const char *s = json_string_value(json_object_get(v, "checksum")), *hex;
        unsigned long expected;
        int end = 0;
        if (!s || !(hex = startswith(s, "crc32:")) || strlen(hex) != 8 ||
            sscanf(hex, "%8lx%n", &expected, &end) != 1 || end != 8)
                return metadata_invalid(reterr, "member \"checksum\" is not of the form crc32:xxxxxxxx");
        _cleanup_json_ json_t *copy = json_deep_copy(v);
        _cleanup_free_ char *text = NULL;
        if (!copy)
                return -ENOMEM;
        (void) json_object_del(copy, "checksum");
        int r = json_format(copy, 0, &text);
        if (r < 0)
                return r;
        if ((unsigned long) crc32_z(crc32_z(0, Z_NULL, 0), (const Bytef *) text, strlen(text)) != expected)
                return metadata_corrupt(reterr);
        return 0;
}

static int parse_options(const json_t *v, DumpOptions *o, char **reterr) {
        if (!json_is_object(v))
                return metadata_invalid(reterr, "member \"options\" must be an object");
        int r = check_members(v, "\"options\"", option_members, ELEMENTSOF(option_members), reterr);
        if (r < 0)
                return r;

        Compression c = compression_from_string(json_string_value(json_object_get(v, "compression")));
        if (c < 0)
                return metadata_invalid(reterr, "member \"options.compression\" is missing or unknown");
        o->compression = c;

        if ((r = get_boolean(v, "leave_running", &o->leave_running, reterr)) < 0 ||
            (r = get_boolean(v, "tcp_established", &o->tcp_established, reterr)) < 0 ||
            (r = get_boolean(v, "file_locks", &o->file_locks, reterr)) < 0 ||
            (r = get_boolean(v, "shell_job", &o->shell_job, reterr)) < 0 ||
            (r = get_boolean(v, "link_remap", &o->link_remap, reterr)) < 0)
                return r;

        json_t *ext = json_object_get(v, "external");
        if (!ext)
                return metadata_invalid(reterr, "member \"options.external\" is missing");
        r = get_strv(ext, "options.external", &o->external, reterr);
        if (r < 0)
                return r;

        /* Optional: the stdin and stdout pipes of an attached job, as CRIU names them. */
        json_t *pipes = json_object_get(v, "attach_pipes");
        if (pipes) {
                r = get_strv(pipes, "options.attach_pipes", &o->attach_pipes, reterr);
                if (r < 0)
                        return r;
                if (strv_length(o->attach_pipes) != 2)
                        return metadata_invalid(reterr, "member \"options.attach_pipes\" must be two strings");
                STRV_FOREACH(s, o->attach_pipes) {
                        unsigned long ino;
                        int end = 0;
                        if (sscanf(*s, "pipe:[%lu]%n", &ino, &end) != 1 || end <= 0 || (*s)[end] != 0)
                                return metadata_invalid(reterr, "member \"options.attach_pipes\" contains an invalid entry");
                }
        }
        /* Optional: the terminal of an attached job, as CRIU names it. */
        if (json_object_get(v, "attach_tty")) {
                r = get_string(v, "attach_tty", false, &o->attach_tty, reterr);
                if (r < 0)
                        return r;
                if (!tty_key_is_valid(o->attach_tty))
                        return metadata_invalid(reterr, "member \"options.attach_tty\" is not a terminal");
                if (o->attach_pipes)
                        return metadata_invalid(reterr, "members \"options.attach_pipes\" and \"options.attach_tty\" "
                                                "exclude each other");
        }
        /* Optional: that terminal's modes, set on the new one before the job runs again. */
        if (json_object_get(v, "attach_tty_modes")) {
                r = get_string(v, "attach_tty_modes", false, &o->attach_tty_modes, reterr);
                if (r < 0)
                        return r;
                if (!o->attach_tty || !tty_modes_is_valid(o->attach_tty_modes))
                        return metadata_invalid(reterr, "member \"options.attach_tty_modes\" is not the modes of "
                                                "the job's terminal");
        }
        /* Optional: the job's log as CRIU names it, a key for --inherit-fd, never opened by us. */
        if (json_object_get(v, "job_log")) {
                r = get_string(v, "job_log", false, &o->job_log, reterr);
                if (r < 0)
                        return r;
                if (o->job_log[0] == '/' || strlen(o->job_log) >= PATH_MAX)
                        return metadata_invalid(reterr, "member \"options.job_log\" is not a relative path");
        }
        return 0;
}

static int parse_file(const json_t *f, size_t i, unsigned version, CheckpointMetadata *m, char **reterr) {
        static const char *const members_v1[] = { "name", "size", "crc32" };
        static const char *const members_v2[] = { "name", "size", "sha256", "at", "frames" };
        if (!json_is_object(f))
                return metadata_invalid(reterr, "entry %zu of \"files\" must be an object", i);
        int r = check_members(f, "an entry of \"files\"", version == 1 ? members_v1 : members_v2,
                              version == 1 ? 3 : version == 2 ? 3 : 5, reterr);
        if (r < 0)
                return r;
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!checkpoint_file_name_is_plain(name) || streq(name, METADATA_FILENAME))
                return metadata_invalid(reterr, "entry %zu of \"files\" has an invalid file name", i);
        uint64_t size;
        if (json_get_u64(json_object_get(f, "size"), &size) < 0)
                return metadata_invalid(reterr, "file %s has no valid size", name);

        const char *sha = NULL;
        unsigned long crc = 0;
        if (version == 1) {
                const char *s = json_string_value(json_object_get(f, "crc32"));
                int end = 0;
                if (!s || strlen(s) != 8 || sscanf(s, "%8lx%n", &crc, &end) != 1 || end != 8 ||
                    strspn(s, "0123456789abcdef") != 8)
                        return metadata_invalid(reterr, "file %s has no valid crc32", name);
        } else {
                sha = json_string_value(json_object_get(f, "sha256"));
                if (!sha256_hex_is_valid(sha))
                        return metadata_invalid(reterr, "file %s has no valid sha256", name);
        }
        uint64_t at = METADATA_NO_OFFSET;
        const json_t *a = json_object_get(f, "at");
        if (a && (json_get_u64(a, &at) < 0 || at > INT64_MAX))
                return metadata_invalid(reterr, "file %s has no valid offset (\"at\")", name);
        r = add_file(m, name, size, sha, (uint32_t) crc);
        if (r == -EEXIST)
                return metadata_invalid(reterr, "file %s is listed twice", name);
        if (r == -EOVERFLOW)
                return metadata_invalid(reterr, "the file sizes add up to more than 2^63 bytes");
        if (r >= 0)
                r = metadata_set_file_offset(m, name, at);
        const json_t *fr = json_object_get(f, "frames");
        if (r >= 0 && fr) {
                /* A frame holds at most 2 MiB: no more than that many for the file's size. */
                size_t n = json_array_size(fr);
                if (!json_is_array(fr) || n < 2 || n > size / 4096 + 4 || at == METADATA_NO_OFFSET)
                        return metadata_invalid(reterr, "file %s has no valid \"frames\"", name);
                _cleanup_free_ uint64_t *frames = calloc(n, sizeof(uint64_t));
                if (!frames)
                        return -ENOMEM;
                for (size_t k = 0; k < n; k++)
                        if (json_get_u64(json_array_get(fr, k), &frames[k]) < 0)
                                return metadata_invalid(reterr, "file %s has no valid \"frames\"", name);
                r = metadata_set_file_frames(m, name, frames, n);
                if (r == -EINVAL)
                        return metadata_invalid(reterr, "file %s has no valid \"frames\"", name);
        }
        return r;
}

static int parse_files(const json_t *v, unsigned version, CheckpointMetadata *m, char **reterr) {
        if (!json_is_array(v))
                return metadata_invalid(reterr, "member \"files\" must be an array");
        for (size_t i = 0; i < json_array_size(v); i++) {
                int r = parse_file(json_array_get(v, i), i, version, m, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* containerd's: names as containerd takes them. */
static int parse_containerd(const json_t *v, CheckpointContainer *c, char **reterr) {
        int r = check_members(v, "\"container\"", containerd_members, ELEMENTSOF(containerd_members), reterr);
        if (r >= 0)
                r = get_string(v, "namespace", false, &c->namespace, reterr);
        if (r >= 0 && !containerd_name_is_valid(c->namespace))
                return metadata_invalid(reterr, "member \"container.namespace\" is not a containerd namespace");
        if (r >= 0)
                r = get_string(v, "image", false, &c->image, reterr);
        if (r >= 0)
                r = get_string(v, "snapshotter", false, &c->snapshotter, reterr);
        if (r >= 0)
                r = get_string(v, "parent", false, &c->parent, reterr);
        return r;
}

/* A container's: its runtime as we know it, its id as runc takes it, absolute paths. */
static int parse_container(const json_t *v, CheckpointContainer *c, char **reterr) {
        if (!json_is_object(v))
                return metadata_invalid(reterr, "member \"container\" must be an object");
        int r = get_string(v, "runtime", false, &c->runtime, reterr);
        if (r >= 0 && !streq(c->runtime, "runc") && !streq(c->runtime, "containerd"))
                return metadata_invalid(reterr, "member \"container.runtime\" must be \"runc\" or \"containerd\"");
        if (r >= 0)
                r = get_string(v, "id", false, &c->id, reterr);
        if (r >= 0 && !checkpoint_file_name_is_plain(c->id))
                return metadata_invalid(reterr, "member \"container.id\" is not a valid container id");
        if (r >= 0 && streq(c->runtime, "containerd"))
                return parse_containerd(v, c, reterr);
        if (r >= 0)
                r = check_members(v, "\"container\"", runc_members, ELEMENTSOF(runc_members), reterr);
        if (r >= 0)
                r = get_string(v, "root", false, &c->root, reterr);
        if (r >= 0)
                r = get_string(v, "bundle", false, &c->bundle, reterr);
        if (r >= 0 && (c->root[0] != '/' || c->bundle[0] != '/'))
                return metadata_invalid(reterr, "members \"container.root\" and \"container.bundle\" must be "
                                                "absolute paths");
        return r;
}

static int parse_members(const json_t *v, CheckpointMetadata *m, char **reterr) {
        uint64_t u;
        int r = get_string(v, "id", false, &m->id, reterr);
        if (r < 0)
                return r;
        if (!checkpoint_file_name_is_plain(m->id))
                return metadata_invalid(reterr, "member \"id\" is not a valid checkpoint name");

        r = get_string(v, "type", false, &m->type, reterr);
        if (r < 0)
                return r;
        bool type_ok = false;
        for (size_t i = 0; i < ELEMENTSOF(metadata_types); i++)
                type_ok = type_ok || streq(m->type, metadata_types[i]);
        if (!type_ok)
                return metadata_invalid(reterr, "member \"type\" must be \"process\", \"job\", \"runc\" or "
                                                "\"containerd\"");

        r = get_unsigned(v, "pid", 1, INT32_MAX, &u, reterr);
        if (r < 0)
                return r;
        m->pid = (pid_t) u;

        json_t *job = json_object_get(v, "job");
        if (job && !json_is_null(job)) {
                r = get_string(v, "job", false, &m->job, reterr);
                if (r < 0)
                        return r;
                if (!checkpoint_file_name_is_plain(m->job))
                        return metadata_invalid(reterr, "member \"job\" is not a valid job name");
        }
        if (streq(m->type, "job") && !m->job)
                return metadata_invalid(reterr, "a checkpoint of type \"job\" needs a member \"job\"");

        /* (uid_t) -1 means "no user" to the kernel, never an owner. */
        r = get_unsigned(v, "uid", 0, UINT32_MAX - 1, &u, reterr);
        if (r < 0)
                return r;
        m->uid = (uid_t) u;

        if ((r = get_unsigned(v, "time_usec", 0, INT64_MAX, &m->time_usec, reterr)) < 0 ||
            (r = get_string(v, "hostname", true, &m->hostname, reterr)) < 0 ||
            (r = get_string(v, "criu_version", true, &m->criu_version, reterr)) < 0 ||
            (r = get_string(v, "cedana_version", true, &m->cedana_version, reterr)) < 0)
                return r;
        json_t *command = json_object_get(v, "command");
        if (command && (r = get_strv(command, "command", &m->command, reterr)) < 0)
                return r;
        json_t *container = json_object_get(v, "container");
        if (container && (r = parse_container(container, &m->container, reterr)) < 0)
                return r;
        if ((streq(m->type, "runc") || streq(m->type, "containerd")) != !!m->container.runtime ||
            (m->container.runtime && !streq(m->type, m->container.runtime)))
                return metadata_invalid(reterr, "a checkpoint has a member \"container\" if and only if its type "
                                                "is a container runtime, and that runtime");

        if (!json_object_get(v, "options"))
                return metadata_invalid(reterr, "member \"options\" is missing");
        r = parse_options(json_object_get(v, "options"), &m->options, reterr);
        if (r < 0)
                return r;

        if (!json_object_get(v, "files"))
                return metadata_invalid(reterr, "member \"files\" is missing");
        r = parse_files(json_object_get(v, "files"), m->format_version, m, reterr);
        if (r < 0)
                return r;

        r = get_unsigned(v, "size", 0, INT64_MAX, &u, reterr);
        if (r < 0)
                return r;
        if (u != m->size)
                return metadata_invalid(reterr, "member \"size\" is not the sum of the file sizes");
        return 0;
}

int metadata_parse(const char *text, size_t n, CheckpointMetadata **ret, char **reterr) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;
        uint64_t version;

        if (n > METADATA_MAX_SIZE)
                return metadata_error(reterr, -EBADMSG,
                                      "The checkpoint's metadata (cedana.json) is too large (more than %" PRIu64 " bytes).",
                                      METADATA_MAX_SIZE);
        int r = json_parse_strict(text, n, &v, &err);
        if (r == -EBADMSG)
                return metadata_error(reterr, r, "The checkpoint's metadata (cedana.json) is not valid JSON: %s.", err);
        if (r < 0)
                return r;
        if (!json_is_object(v))
                return metadata_invalid(reterr, "not a JSON object");

        /* First, since a newer format may differ in anything else, even the checksum. */
        if (json_get_u64(json_object_get(v, "format_version"), &version) < 0 || version == 0)
                return metadata_invalid(reterr, "member \"format_version\" is missing or not a positive integer");
        if (version > METADATA_FORMAT_VERSION)
                return metadata_error(reterr, -EPROTONOSUPPORT,
                                      "The checkpoint was written by a newer cedana (metadata format version %" PRIu64
                                      ", this cedana reads up to version %u); upgrade cedana to restore it.",
                                      version, METADATA_FORMAT_VERSION);

        r = metadata_new(&m);
        if (r < 0)
                return r;
        m->format_version = (unsigned) version;

        /* Next, so that a flipped byte is reported as corruption, not as whatever it broke. */
        r = version == 1 ? check_checksum_v1(v, reterr) : check_digest_v2(text, n, m->digest, reterr);
        if (r < 0)
                return r;
        r = check_members(v, "the top-level object", top_members, ELEMENTSOF(top_members), reterr);
        if (r < 0)
                return r;
        r = parse_members(v, m, reterr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int metadata_read(int dir_fd, CheckpointMetadata **ret, char **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r = read_full_file_at(dir_fd, METADATA_FILENAME, METADATA_MAX_SIZE, &text, &n);
        if (r == -ENOENT)
                return metadata_error(reterr, -ENOENT, "Not a cedana checkpoint: %s is missing.", METADATA_FILENAME);
        if (r == -EBADFD || r == -ELOOP)
                return metadata_error(reterr, -EBADMSG, "The checkpoint's metadata (cedana.json) is not a regular file.");
        if (r == -EFBIG)
                return metadata_error(reterr, -EBADMSG,
                                      "The checkpoint's metadata (cedana.json) is too large (more than %" PRIu64 " bytes).",
                                      METADATA_MAX_SIZE);
        if (r < 0)
                return metadata_error(reterr, r, "Failed to read the checkpoint's metadata (cedana.json): %s.",
                                      strerror(-r));
        return metadata_parse(text, n, ret, reterr);
}
