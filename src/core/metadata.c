/* SPDX-License-Identifier: Apache-2.0 */
/* cedana.json: records what a checkpoint holds, and checks, before CRIU trusts a single image,
 * that the metadata and every file are exactly what the dump wrote. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>
#include <libdeflate.h>

#include "log.h"
#include "fd-util.h"
#include "metadata.h"
#include "strv.h"

/* Large reads keep checksumming at disk speed; page images are often gigabytes. */
#define READ_BUFFER_SIZE (1024 * 1024)
#define FILE_NAME_MAX 255

static const char *const metadata_types[] = { "process", "job", "runc" };
static const char *const top_members[] = {
        "format_version", "id", "type", "pid", "job", "uid", "time_usec", "hostname",
        "criu_version", "cedana_version", "options", "size", "files", "checksum",
};
static const char *const option_members[] = {
        "compression", "leave_running", "tcp_established", "file_locks", "shell_job",
        "link_remap", "external", "attach_pipes",
};
static const char *const file_members[] = { "name", "size", "crc32" };

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Only names that are safe as a path component below the checkpoint directory and safe to
 * print in a message: CRIU's own image names all look like this. */
static bool name_is_plain(const char *s) {
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

CheckpointMetadata *metadata_free(CheckpointMetadata *m) {
        if (!m)
                return NULL;

        free(m->id);
        free(m->type);
        free(m->job);
        free(m->hostname);
        free(m->criu_version);
        free(m->cedana_version);
        dump_options_done(&m->options);
        for (size_t i = 0; i < m->n_files; i++)
                free(m->files[i].name);
        free(m->files);
        free(m);
        return NULL;
}

/* Index of name in m->files, or -1 with *ret_pos where it would go. */
static ssize_t metadata_find_file(const CheckpointMetadata *m, const char *name, size_t *ret_pos) {
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

int metadata_add_file(CheckpointMetadata *m, const char *name, uint64_t size, uint32_t crc32) {
        _cleanup_free_ char *copy = NULL;
        CheckpointFile *files;
        size_t pos = 0;

        if (!m || !name_is_plain(name) || streq(name, METADATA_FILENAME))
                return -EINVAL;
        if (metadata_find_file(m, name, &pos) >= 0)
                return -EEXIST;
        if (size > UINT64_MAX - m->size)
                return -EOVERFLOW;

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        files = reallocarray(m->files, m->n_files + 1, sizeof(CheckpointFile));
        if (!files)
                return -ENOMEM;
        m->files = files;

        memmove(files + pos + 1, files + pos, (m->n_files - pos) * sizeof(CheckpointFile));
        files[pos] = (CheckpointFile) {
                .name = TAKE_PTR(copy),
                .size = size,
                .crc32 = crc32,
        };
        m->n_files++;
        m->size += size;
        return 0;
}

/* Opens a checkpoint file for reading: no symlinks, no blocking on a fifo, and the type is
 * checked before the open, since opening a device node can have side effects. -EBADMSG when it
 * is not a regular file. */
static int open_checkpoint_file(int dir_fd, const char *name, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return errno == ELOOP ? -EBADMSG : -errno;
        /* It may have been swapped since the fstatat(). */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;

        if (ret_st)
                *ret_st = st;
        return TAKE_FD(fd);
}

/* crc32 of [offset, offset + length) of fd, or up to EOF when length is UINT64_MAX. */
static int crc32_range(int fd, void *buf, uint64_t offset, uint64_t length, uint64_t *ret_size, uint32_t *ret_crc) {
        uint32_t crc = 0;
        uint64_t done = 0;

        while (done < length) {
                size_t want = (size_t) MIN((uint64_t) READ_BUFFER_SIZE, length - done);
                ssize_t k = pread(fd, buf, want, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                crc = libdeflate_crc32(crc, buf, (size_t) k);
                done += (uint64_t) k;
        }
        *ret_size = done;
        *ret_crc = crc;
        return 0;
}

typedef struct CrcHalf {
        int fd;
        uint64_t offset, length, size;
        uint32_t crc;
        int r;
} CrcHalf;

static void *crc_half_thread(void *userdata) {
        CrcHalf *h = userdata;
        void *buf = malloc(READ_BUFFER_SIZE);
        h->r = buf ? crc32_range(h->fd, buf, h->offset, h->length, &h->size, &h->crc) : -ENOMEM;
        free(buf);
        return NULL;
}

/* Page images are gigabytes: their second half is checksummed on the other core, and the two
 * crc32s combined. */
#define PARALLEL_CRC_MIN (UINT64_C(64) << 20)

static int read_crc32(int fd, void *buf, uint64_t *ret_size, uint32_t *ret_crc) {
        struct stat st;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        if (fstat(fd, &st) < 0 || (uint64_t) st.st_size < PARALLEL_CRC_MIN)
                return crc32_range(fd, buf, 0, UINT64_MAX, ret_size, ret_crc);

        uint64_t half = ((uint64_t) st.st_size / 2) & ~(uint64_t) (READ_BUFFER_SIZE - 1);
        CrcHalf second = { .fd = fd, .offset = half, .length = UINT64_MAX };
        pthread_t t;
        if (pthread_create(&t, NULL, crc_half_thread, &second) != 0)
                return crc32_range(fd, buf, 0, UINT64_MAX, ret_size, ret_crc);
        uint64_t first_size = 0;
        uint32_t first_crc = 0;
        int r = crc32_range(fd, buf, 0, half, &first_size, &first_crc);
        (void) pthread_join(t, NULL);
        if (r < 0)
                return r;
        if (second.r < 0)
                return second.r;
        *ret_size = first_size + second.size;
        *ret_crc = (uint32_t) crc32_combine64(first_crc, second.crc, (z_off64_t) second.size);
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_directory(int dir_fd, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        int r;

        r = opendir_at(dir_fd, &d);
        if (r < 0)
                return r;

        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, METADATA_FILENAME))
                        continue;

                r = strv_extend(&names, de->d_name);
                if (r < 0)
                        return r;
        }

        if (names)
                qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);
        *ret = TAKE_PTR(names);
        return 0;
}

int metadata_scan_dir(CheckpointMetadata *m, int dir_fd) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ void *buf = NULL;
        int r;

        if (!m)
                return -EINVAL;

        r = list_directory(dir_fd, &names);
        if (r < 0)
                return r;

        buf = malloc(READ_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        /* The caller learns only an errno, so the file at fault is named here. */
        STRV_FOREACH(name, names) {
                _cleanup_close_ int fd = -EBADF;
                uint64_t size;
                uint32_t crc;

                if (!name_is_plain(*name))
                        return log_error_errno(-EBADMSG, "Checkpoint directory contains a file with an unexpected name, refusing.");

                fd = open_checkpoint_file(dir_fd, *name, NULL);
                if (fd == -EBADMSG)
                        return log_error_errno(fd, "Checkpoint file %s is not a regular file, refusing.", *name);
                if (fd < 0)
                        return log_error_errno(fd, "Failed to open checkpoint file %s: %m", *name);

                r = read_crc32(fd, buf, &size, &crc);
                if (r < 0)
                        return log_error_errno(r, "Failed to read checkpoint file %s: %m", *name);

                r = metadata_add_file(m, *name, size, crc);
                if (r < 0)
                        return log_error_errno(r, "Failed to record checkpoint file %s: %m", *name);
        }

        return 0;
}

/* Everything but the checksum, in the documented member order. */
static int metadata_build_json(const CheckpointMetadata *m, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *o = NULL, *options = NULL, *files = NULL;
        const char *compression;
        uint64_t size = 0;
        int r;

        if (!m || !m->id || !m->type)
                return -EINVAL;
        compression = compression_to_string(m->options.compression);
        if (!compression)
                return -EINVAL;

        r = json_new_object(&o);
        if (r < 0)
                return r;

        if ((r = json_object_set_unsigned(o, "format_version", METADATA_FORMAT_VERSION)) < 0 ||
            (r = json_object_set_string(o, "id", m->id)) < 0 ||
            (r = json_object_set_string(o, "type", m->type)) < 0 ||
            (r = json_object_set_integer(o, "pid", m->pid)) < 0 ||
            (m->job && (r = json_object_set_string(o, "job", m->job)) < 0) ||
            (r = json_object_set_unsigned(o, "uid", m->uid)) < 0 ||
            (r = json_object_set_unsigned(o, "time_usec", m->time_usec)) < 0 ||
            (r = json_object_set_string(o, "hostname", m->hostname)) < 0 ||
            (r = json_object_set_string(o, "criu_version", m->criu_version)) < 0 ||
            (r = json_object_set_string(o, "cedana_version", m->cedana_version)) < 0)
                return r;

        r = json_new_object(&options);
        if (r < 0)
                return r;
        if ((r = json_object_set_string(options, "compression", compression)) < 0 ||
            (r = json_object_set_boolean(options, "leave_running", m->options.leave_running)) < 0 ||
            (r = json_object_set_boolean(options, "tcp_established", m->options.tcp_established)) < 0 ||
            (r = json_object_set_boolean(options, "file_locks", m->options.file_locks)) < 0 ||
            (r = json_object_set_boolean(options, "shell_job", m->options.shell_job)) < 0 ||
            (r = json_object_set_boolean(options, "link_remap", m->options.link_remap)) < 0 ||
            (r = json_object_set_strv(options, "external", m->options.external)) < 0)
                return r;
        if (m->options.attach_pipes && (r = json_object_set_strv(options, "attach_pipes", m->options.attach_pipes)) < 0)
                return r;
        r = json_object_set(o, "options", TAKE_PTR(options));
        if (r < 0)
                return r;

        r = json_new_array(&files);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_files; i++) {
                _cleanup_json_ JsonVariant *f = NULL;
                char crc[9];

                if (m->files[i].size > UINT64_MAX - size)
                        return -EOVERFLOW;
                size += m->files[i].size;

                (void) snprintf(crc, sizeof(crc), "%08" PRIx32, m->files[i].crc32);
                r = json_new_object(&f);
                if (r < 0)
                        return r;
                if ((r = json_object_set_string(f, "name", m->files[i].name)) < 0 ||
                    (r = json_object_set_unsigned(f, "size", m->files[i].size)) < 0 ||
                    (r = json_object_set_string(f, "crc32", crc)) < 0)
                        return r;
                r = json_array_append(files, TAKE_PTR(f));
                if (r < 0)
                        return r;
        }

        /* The sum of the files, which is what a reader checks it against. */
        r = json_object_set_unsigned(o, "size", size);
        if (r < 0)
                return r;
        r = json_object_set(o, "files", TAKE_PTR(files));
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

static int metadata_checksum(const JsonVariant *v, uint32_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = json_format(v, 0, &text);
        if (r < 0)
                return r;
        *ret = (uint32_t) crc32_z(crc32_z(0, Z_NULL, 0), (const Bytef *) text, strlen(text));
        return 0;
}

int metadata_to_json(const CheckpointMetadata *m, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *o = NULL;
        char checksum[STRLEN("crc32:") + 8 + 1];
        uint32_t crc;
        int r;

        r = metadata_build_json(m, &o);
        if (r < 0)
                return r;
        r = metadata_checksum(o, &crc);
        if (r < 0)
                return r;

        (void) snprintf(checksum, sizeof(checksum), "crc32:%08" PRIx32, crc);
        r = json_object_set_string(o, "checksum", checksum);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

static int metadata_error(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int metadata_error(char **reterr, int error, const char *format, ...) {
        va_list ap;
        int r;

        if (!reterr)
                return error;

        va_start(ap, format);
        r = vasprintf(reterr, format, ap);
        va_end(ap);
        if (r < 0) {
                *reterr = NULL;
                return -ENOMEM;
        }
        return error;
}

#define metadata_invalid(reterr, format, ...) \
        metadata_error((reterr), -EBADMSG, "The checkpoint's metadata (cedana.json) is invalid: " format ".", ##__VA_ARGS__)

/* Exactly 8 lowercase hex digits, the only form we write. */
static int parse_crc32(const char *s, uint32_t *ret) {
        uint32_t u = 0;

        if (!s || strlen(s) != 8)
                return -EINVAL;
        for (size_t i = 0; i < 8; i++) {
                if (s[i] >= '0' && s[i] <= '9')
                        u = u << 4 | (uint32_t) (s[i] - '0');
                else if (s[i] >= 'a' && s[i] <= 'f')
                        u = u << 4 | (uint32_t) (s[i] - 'a' + 10);
                else
                        return -EINVAL;
        }
        *ret = u;
        return 0;
}

static int check_members(const JsonVariant *o, const char *what, const char *const *allowed, size_t n_allowed,
                         char **reterr) {
        for (size_t i = 0; i < json_elements(o); i++) {
                const char *key = json_object_key_at(o, i);
                bool found = false;

                for (size_t k = 0; k < n_allowed && !found; k++)
                        found = streq(key, allowed[k]);
                if (!found) {
                        /* A hostile key could carry terminal escapes: only echo plain ones. */
                        if (name_is_plain(key))
                                return metadata_invalid(reterr, "unknown member \"%s\" in %s", key, what);
                        return metadata_invalid(reterr, "unknown member in %s", what);
                }
        }
        return 0;
}

/* A required string member; nullable ones may be JSON null (*ret = NULL), others must be
 * non-empty. No control characters: these strings end up in tables and the journal. */
static int get_string(const JsonVariant *o, const char *key, bool nullable, char **ret, char **reterr) {
        JsonVariant *v = json_object_get(o, key);
        char *s;

        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (nullable && json_type(v) == JSON_NULL) {
                *ret = NULL;
                return 0;
        }
        if (json_type(v) != JSON_STRING || (!nullable && isempty(json_string(v))))
                return metadata_invalid(reterr, "member \"%s\" must be a%s string", key, nullable ? "" : " non-empty");
        if (string_has_control(json_string(v)))
                return metadata_invalid(reterr, "member \"%s\" contains control characters", key);

        s = strdup(json_string(v));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int get_unsigned(const JsonVariant *o, const char *key, uint64_t min, uint64_t max, uint64_t *ret,
                        char **reterr) {
        JsonVariant *v = json_object_get(o, key);
        uint64_t u;

        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (json_get_unsigned(v, &u) < 0 || u < min || u > max)
                return metadata_invalid(reterr, "member \"%s\" must be an integer between %" PRIu64 " and %" PRIu64,
                                        key, min, max);
        *ret = u;
        return 0;
}

static int get_boolean(const JsonVariant *o, const char *key, bool *ret, char **reterr) {
        JsonVariant *v = json_object_get(o, key);

        if (!v)
                return metadata_invalid(reterr, "member \"%s\" is missing", key);
        if (json_get_boolean(v, ret) < 0)
                return metadata_invalid(reterr, "member \"%s\" must be a boolean", key);
        return 0;
}

static int metadata_check_checksum(const JsonVariant *v, char **reterr) {
        _cleanup_json_ JsonVariant *copy = NULL;
        const char *s, *hex;
        uint32_t expected, actual;
        int r;

        s = json_string(json_object_get(v, "checksum"));
        if (!s)
                return metadata_invalid(reterr, "member \"checksum\" is missing or not a string");
        hex = startswith(s, "crc32:");
        if (!hex || parse_crc32(hex, &expected) < 0)
                return metadata_invalid(reterr, "member \"checksum\" is not of the form crc32:xxxxxxxx");

        /* The writer checksummed the compact form without this member; our formatter is
         * deterministic and the parser keeps member order and number types, so formatting the
         * parsed document again reproduces those bytes exactly. */
        r = json_copy(v, &copy);
        if (r < 0)
                return r;
        (void) json_object_remove(copy, "checksum");
        r = metadata_checksum(copy, &actual);
        if (r < 0)
                return r;

        if (actual != expected)
                return metadata_error(reterr, -EBADMSG,
                                      "The checkpoint's metadata (cedana.json) is corrupt: checksum mismatch.");
        return 0;
}

static int parse_options(const JsonVariant *v, DumpOptions *o, char **reterr) {
        JsonVariant *ext;
        Compression c;
        int r;

        if (json_type(v) != JSON_OBJECT)
                return metadata_invalid(reterr, "member \"options\" must be an object");
        r = check_members(v, "\"options\"", option_members, ELEMENTSOF(option_members), reterr);
        if (r < 0)
                return r;

        c = compression_from_string(json_string(json_object_get(v, "compression")));
        if (c < 0)
                return metadata_invalid(reterr, "member \"options.compression\" is missing or unknown");
        o->compression = c;

        if ((r = get_boolean(v, "leave_running", &o->leave_running, reterr)) < 0 ||
            (r = get_boolean(v, "tcp_established", &o->tcp_established, reterr)) < 0 ||
            (r = get_boolean(v, "file_locks", &o->file_locks, reterr)) < 0 ||
            (r = get_boolean(v, "shell_job", &o->shell_job, reterr)) < 0 ||
            (r = get_boolean(v, "link_remap", &o->link_remap, reterr)) < 0)
                return r;

        ext = json_object_get(v, "external");
        if (!ext)
                return metadata_invalid(reterr, "member \"options.external\" is missing");
        r = json_get_strv(ext, &o->external);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return metadata_invalid(reterr, "member \"options.external\" must be an array of strings");
        STRV_FOREACH(s, o->external)
                if (isempty(*s) || string_has_control(*s))
                        return metadata_invalid(reterr, "member \"options.external\" contains an invalid entry");

        /* Optional: the stdin and stdout pipes of an attached job, as CRIU names them. */
        JsonVariant *pipes = json_object_get(v, "attach_pipes");
        if (pipes) {
                r = json_get_strv(pipes, &o->attach_pipes);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || strv_length(o->attach_pipes) != 2)
                        return metadata_invalid(reterr, "member \"options.attach_pipes\" must be two strings");
                STRV_FOREACH(s, o->attach_pipes) {
                        unsigned long ino;
                        int end = 0;
                        if (sscanf(*s, "pipe:[%lu]%n", &ino, &end) != 1 || end <= 0 || (*s)[end] != 0)
                                return metadata_invalid(reterr, "member \"options.attach_pipes\" contains an invalid entry");
                }
        }

        return 0;
}

static int checkpoint_file_compare(const void *a, const void *b) {
        return strcmp(((const CheckpointFile *) a)->name, ((const CheckpointFile *) b)->name);
}

static int parse_files(const JsonVariant *v, CheckpointMetadata *m, char **reterr) {
        size_t n = json_elements(v);
        int r;

        if (json_type(v) != JSON_ARRAY)
                return metadata_invalid(reterr, "member \"files\" must be an array");
        if (n == 0)
                return 0;

        /* Filled in place so that metadata_free() cleans up after a failure half-way. */
        m->files = calloc(n, sizeof(CheckpointFile));
        if (!m->files)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const JsonVariant *f = json_array_get(v, i);
                CheckpointFile *cf = m->files + i;
                const char *name;

                if (json_type(f) != JSON_OBJECT)
                        return metadata_invalid(reterr, "entry %zu of \"files\" must be an object", i);
                r = check_members(f, "an entry of \"files\"", file_members, ELEMENTSOF(file_members), reterr);
                if (r < 0)
                        return r;

                name = json_string(json_object_get(f, "name"));
                if (!name_is_plain(name) || streq(name, METADATA_FILENAME))
                        return metadata_invalid(reterr, "entry %zu of \"files\" has an invalid file name", i);
                cf->name = strdup(name);
                if (!cf->name)
                        return -ENOMEM;
                m->n_files++;

                if (json_get_unsigned(json_object_get(f, "size"), &cf->size) < 0)
                        return metadata_invalid(reterr, "file %s has no valid size", name);
                if (parse_crc32(json_string(json_object_get(f, "crc32")), &cf->crc32) < 0)
                        return metadata_invalid(reterr, "file %s has no valid crc32", name);

                if (cf->size > UINT64_MAX - m->size)
                        return metadata_invalid(reterr, "the file sizes add up to more than 2^64 bytes");
                m->size += cf->size;
        }

        qsort(m->files, m->n_files, sizeof(CheckpointFile), checkpoint_file_compare);
        for (size_t i = 1; i < m->n_files; i++)
                if (streq(m->files[i - 1].name, m->files[i].name))
                        return metadata_invalid(reterr, "file %s is listed twice", m->files[i].name);

        return 0;
}

int metadata_from_json(const JsonVariant *v, CheckpointMetadata **ret, char **reterr) {
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        uint64_t version, u;
        JsonVariant *job;
        bool type_ok = false;
        int r;

        if (json_type(v) != JSON_OBJECT)
                return metadata_invalid(reterr, "not a JSON object");

        /* First, since a newer format may differ in anything else, even the checksum. */
        if (json_get_unsigned(json_object_get(v, "format_version"), &version) < 0 || version == 0)
                return metadata_invalid(reterr, "member \"format_version\" is missing or not a positive integer");
        if (version > METADATA_FORMAT_VERSION)
                return metadata_error(reterr, -EPROTONOSUPPORT,
                                      "The checkpoint was written by a newer cedana (metadata format version %" PRIu64
                                      ", this cedana reads up to version %u); upgrade cedana to restore it.",
                                      version, METADATA_FORMAT_VERSION);

        /* Next, so that a flipped byte is reported as corruption, not as whatever it broke. */
        r = metadata_check_checksum(v, reterr);
        if (r < 0)
                return r;

        r = check_members(v, "the top-level object", top_members, ELEMENTSOF(top_members), reterr);
        if (r < 0)
                return r;

        r = metadata_new(&m);
        if (r < 0)
                return r;
        m->format_version = (unsigned) version;

        r = get_string(v, "id", false, &m->id, reterr);
        if (r < 0)
                return r;
        if (!name_is_plain(m->id))
                return metadata_invalid(reterr, "member \"id\" is not a valid checkpoint name");

        r = get_string(v, "type", false, &m->type, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(metadata_types); i++)
                type_ok = type_ok || streq(m->type, metadata_types[i]);
        if (!type_ok)
                return metadata_invalid(reterr, "member \"type\" must be \"process\", \"job\" or \"runc\"");

        r = get_unsigned(v, "pid", 1, INT32_MAX, &u, reterr);
        if (r < 0)
                return r;
        m->pid = (pid_t) u;

        job = json_object_get(v, "job");
        if (job && json_type(job) != JSON_NULL) {
                r = get_string(v, "job", false, &m->job, reterr);
                if (r < 0)
                        return r;
                if (!name_is_plain(m->job))
                        return metadata_invalid(reterr, "member \"job\" is not a valid job name");
        }
        if (streq(m->type, "job") && !m->job)
                return metadata_invalid(reterr, "a checkpoint of type \"job\" needs a member \"job\"");

        /* (uid_t) -1 means "no user" to the kernel, never an owner. */
        r = get_unsigned(v, "uid", 0, UINT32_MAX - 1, &u, reterr);
        if (r < 0)
                return r;
        m->uid = (uid_t) u;

        if ((r = get_unsigned(v, "time_usec", 0, UINT64_MAX, &m->time_usec, reterr)) < 0 ||
            (r = get_string(v, "hostname", true, &m->hostname, reterr)) < 0 ||
            (r = get_string(v, "criu_version", true, &m->criu_version, reterr)) < 0 ||
            (r = get_string(v, "cedana_version", true, &m->cedana_version, reterr)) < 0)
                return r;

        if (!json_object_get(v, "options"))
                return metadata_invalid(reterr, "member \"options\" is missing");
        r = parse_options(json_object_get(v, "options"), &m->options, reterr);
        if (r < 0)
                return r;

        if (!json_object_get(v, "files"))
                return metadata_invalid(reterr, "member \"files\" is missing");
        r = parse_files(json_object_get(v, "files"), m, reterr);
        if (r < 0)
                return r;

        r = get_unsigned(v, "size", 0, UINT64_MAX, &u, reterr);
        if (r < 0)
                return r;
        if (u != m->size)
                return metadata_invalid(reterr, "member \"size\" is not the sum of the file sizes");

        *ret = TAKE_PTR(m);
        return 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int open_temporary(int dir_fd, char *name, size_t size) {
        for (unsigned attempt = 0; attempt < 64; attempt++) {
                uint64_t rnd;
                int fd;

                if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
                        rnd = (uint64_t) getpid() << 32 ^ (uint64_t) time(NULL) ^ attempt;
                (void) snprintf(name, size, ".%s.%016" PRIx64, METADATA_FILENAME, rnd);

                fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
                if (fd >= 0)
                        return fd;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

int metadata_write(const CheckpointMetadata *m, int dir_fd) {
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        char tmp[STRLEN(".." METADATA_FILENAME) + 16 + 1];
        size_t n;
        int r;

        r = metadata_to_json(m, &v);
        if (r < 0)
                return r;
        r = json_format(v, JSON_FORMAT_PRETTY, &text);
        if (r < 0)
                return r;

        /* Never write what metadata_read() would refuse. */
        n = strlen(text);
        if (n > METADATA_MAX_SIZE)
                return -E2BIG;

        fd = open_temporary(dir_fd, tmp, sizeof(tmp));
        if (fd < 0)
                return fd;

        r = write_all(fd, text, n);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, METADATA_FILENAME) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }

        /* The rename is only durable once the directory is. */
        dfd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int metadata_read(int dir_fd, CheckpointMetadata **ret, char **reterr) {
        _cleanup_json_ JsonVariant *v = NULL;
        _cleanup_free_ char *buf = NULL, *err = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;
        int r;

        fd = open_checkpoint_file(dir_fd, METADATA_FILENAME, NULL);
        if (fd == -ENOENT)
                return metadata_error(reterr, -ENOENT, "Not a cedana checkpoint: %s is missing.", METADATA_FILENAME);
        if (fd == -EBADMSG)
                return metadata_error(reterr, -EBADMSG,
                                      "The checkpoint's metadata (cedana.json) is not a regular file.");
        if (fd < 0)
                return metadata_error(reterr, fd, "Failed to open the checkpoint's metadata (cedana.json): %s",
                                      strerror(-fd));

        /* One byte more than allowed, to tell "exactly at the limit" from "over it" without
         * trusting st_size. */
        buf = malloc(METADATA_MAX_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        while (n < METADATA_MAX_SIZE + 1) {
                ssize_t k = read(fd, buf + n, METADATA_MAX_SIZE + 1 - n);
                if (k < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        return metadata_error(reterr, -e, "Failed to read the checkpoint's metadata (cedana.json): %s",
                                              strerror(e));
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > METADATA_MAX_SIZE)
                return metadata_error(reterr, -EBADMSG,
                                      "The checkpoint's metadata (cedana.json) is too large (more than %" PRIu64 " bytes).",
                                      METADATA_MAX_SIZE);

        r = json_parse(buf, n, &v, &err);
        if (r == -EBADMSG)
                return metadata_error(reterr, r, "The checkpoint's metadata (cedana.json) is not valid JSON: %s.", err);
        if (r < 0)
                return r;

        return metadata_from_json(v, ret, reterr);
}

static int verify_stat(const CheckpointFile *f, uint64_t size, char **reterr) {
        if (size < f->size)
                return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is truncated: %" PRIu64 " of %" PRIu64 " bytes.",
                                      f->name, size, f->size);
        if (size > f->size)
                return metadata_error(reterr, -EBADMSG,
                                      "Checkpoint file %s is larger than recorded: %" PRIu64 " instead of %" PRIu64 " bytes.",
                                      f->name, size, f->size);
        return 0;
}

/* A file found in the checkpoint must be one the metadata lists (or the metadata itself). */
static int verify_expected(const CheckpointMetadata *m, const char *name, char **reterr) {
        if (streq(name, METADATA_FILENAME) || metadata_find_file(m, name, NULL) >= 0)
                return 0;
        if (name_is_plain(name))
                return metadata_error(reterr, -EBADMSG, "Checkpoint contains an unexpected file %s.", name);
        return metadata_error(reterr, -EBADMSG, "Checkpoint contains an unexpected file with an invalid name.");
}

/* Metadata built in memory has not been through metadata_from_json(). */
static int verify_listed_name(const CheckpointFile *f, char **reterr) {
        if (!name_is_plain(f->name) || streq(f->name, METADATA_FILENAME))
                return metadata_error(reterr, -EBADMSG, "Checkpoint metadata lists an invalid file name.");
        return 0;
}

static int verify_content(const CheckpointFile *f, uint64_t size, uint32_t crc, char **reterr) {
        int r = verify_stat(f, size, reterr);
        if (r < 0)
                return r;
        if (crc != f->crc32)
                return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is corrupt (checksum mismatch).", f->name);
        return 0;
}

int metadata_verify(const CheckpointMetadata *m, int dir_fd, char **reterr) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ void *buf = NULL;
        int r;

        if (!m)
                return -EINVAL;

        /* Cheap checks first, so a truncated or incomplete checkpoint is refused before
         * gigabytes of images are read. */
        r = list_directory(dir_fd, &names);
        if (r < 0)
                return metadata_error(reterr, r, "Failed to read the checkpoint directory: %s", strerror(-r));
        STRV_FOREACH(name, names) {
                r = verify_expected(m, *name, reterr);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_files; i++) {
                const CheckpointFile *f = m->files + i;
                struct stat st;

                r = verify_listed_name(f, reterr);
                if (r < 0)
                        return r;
                if (fstatat(dir_fd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        int e = errno;

                        if (e == ENOENT)
                                return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is missing.", f->name);
                        return metadata_error(reterr, -e, "Failed to check checkpoint file %s: %s", f->name,
                                              strerror(e));
                }
                if (!S_ISREG(st.st_mode))
                        return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is not a regular file.", f->name);
                r = verify_stat(f, (uint64_t) st.st_size, reterr);
                if (r < 0)
                        return r;
        }

        buf = malloc(READ_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        for (size_t i = 0; i < m->n_files; i++) {
                const CheckpointFile *f = m->files + i;
                _cleanup_close_ int fd = -EBADF;
                uint64_t size;
                uint32_t crc;

                fd = open_checkpoint_file(dir_fd, f->name, NULL);
                if (fd == -ENOENT)
                        return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is missing.", f->name);
                if (fd == -EBADMSG)
                        return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is not a regular file.", f->name);
                if (fd < 0)
                        return metadata_error(reterr, fd, "Failed to open checkpoint file %s: %s", f->name, strerror(-fd));

                r = read_crc32(fd, buf, &size, &crc);
                if (r < 0)
                        return metadata_error(reterr, r, "Failed to read checkpoint file %s: %s", f->name, strerror(-r));
                /* It may have changed since the first pass. */
                r = verify_content(f, size, crc, reterr);
                if (r < 0)
                        return r;
        }

        return 0;
}

int metadata_verify_extracted(const CheckpointMetadata *m, const ArchiveFileList *files, char **reterr) {
        if (!m || !files)
                return -EINVAL;

        for (size_t i = 0; i < files->n_files; i++) {
                int r = verify_expected(m, files->files[i].name, reterr);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_files; i++) {
                const CheckpointFile *f = m->files + i;
                const ArchiveFile *a = archive_file_list_find(files, f->name);

                int r = verify_listed_name(f, reterr);
                if (r < 0)
                        return r;
                if (!a)
                        return metadata_error(reterr, -EBADMSG, "Checkpoint file %s is missing.", f->name);
                r = verify_content(f, a->size, a->crc32, reterr);
                if (r < 0)
                        return r;
        }

        return 0;
}
