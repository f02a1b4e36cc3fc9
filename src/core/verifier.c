/* SPDX-License-Identifier: Apache-2.0 */
/* The checks behind every restore: cedana.json against its record, each file against
 * cedana.json, counted and hashed as the bytes pass, so nothing is read twice. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "verifier.h"

#define READ_BUFFER_SIZE (1024 * 1024)
#define DIR_THREADS 2

/* verifier_begin() for cedana.json itself when the metadata came first from elsewhere (an
 * archive repacked by hand): its bytes must be those. */
#define CURRENT_METADATA_AGAIN ((ssize_t) -2)

struct Verifier {
        char *expected_digest;
        CheckpointMetadata *metadata;
        char *metadata_text;     /* as given, for comparing a second copy */
        size_t metadata_size;
        bool metadata_entry_seen;
        bool *seen;      /* per listed file */
        ssize_t current; /* index of the file being read, -1, or CURRENT_METADATA_AGAIN */
        uint64_t size;
        uint32_t crc;
        Sha256 *sha;
};

static int fail(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int fail(char **reterr, int error, const char *format, ...) {
        if (reterr && !*reterr) {
                va_list ap;
                va_start(ap, format);
                if (vasprintf(reterr, format, ap) < 0)
                        *reterr = NULL;
                va_end(ap);
        }
        return error;
}

int verifier_new(const char *expected_digest, Verifier **ret) {
        _cleanup_(verifier_freep) Verifier *v = calloc(1, sizeof(Verifier));
        if (!v)
                return -ENOMEM;
        v->current = -1;
        if (expected_digest && !(v->expected_digest = strdup(expected_digest)))
                return -ENOMEM;
        int r = sha256_new(&v->sha);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

Verifier *verifier_free(Verifier *v) {
        if (!v)
                return NULL;
        free(v->expected_digest);
        metadata_free(v->metadata);
        free(v->metadata_text);
        free(v->seen);
        sha256_free(v->sha);
        free(v);
        return NULL;
}

int verifier_metadata(Verifier *v, const char *text, size_t n, char **reterr) {
        if (v->metadata)
                return fail(reterr, -EBADMSG, "The checkpoint contains %s twice.", METADATA_FILENAME);
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        int r = metadata_parse(text, n, &m, reterr);
        if (r < 0)
                return r;
        /* A record vouches for exactly the bytes cedana wrote; anything else, however valid,
         * is another checkpoint. */
        if (v->expected_digest && !streq(v->expected_digest, m->digest))
                return fail(reterr, -ESTALE, "The checkpoint changed since cedana wrote it (its %s is not the one "
                            "recorded); refused.", METADATA_FILENAME);
        v->seen = calloc(MAX(m->n_files, (size_t) 1), sizeof(bool));
        v->metadata_text = malloc(MAX(n, (size_t) 1));
        if (!v->seen || !v->metadata_text)
                return -ENOMEM;
        memcpy(v->metadata_text, text, n);
        v->metadata_size = n;
        v->metadata = TAKE_PTR(m);
        return 0;
}

const CheckpointMetadata *verifier_get_metadata(const Verifier *v) {
        return v->metadata;
}

int verifier_begin(Verifier *v, const char *name, uint64_t *ret_max, char **reterr) {
        if (!v->metadata) {
                if (streq(name, METADATA_FILENAME)) {
                        *ret_max = METADATA_MAX_SIZE;
                        return 0;
                }
                return -EAGAIN;
        }
        const CheckpointFile *f = metadata_find_file(v->metadata, name);
        if (!f) {
                if (streq(name, METADATA_FILENAME) && !v->metadata_entry_seen) {
                        v->metadata_entry_seen = true;
                        v->current = CURRENT_METADATA_AGAIN;
                        v->size = 0;
                        v->crc = 0;
                        *ret_max = v->metadata_size;
                        return 0;
                }
                if (streq(name, METADATA_FILENAME))
                        return fail(reterr, -EBADMSG, "The checkpoint contains %s twice.", METADATA_FILENAME);
                if (checkpoint_file_name_is_plain(name))
                        return fail(reterr, -EBADMSG, "The checkpoint contains an unexpected file %s.", name);
                return fail(reterr, -EBADMSG, "The checkpoint contains an unexpected file with an invalid name.");
        }
        size_t i = (size_t) (f - v->metadata->files);
        if (v->seen[i])
                return fail(reterr, -EBADMSG, "The checkpoint contains %s twice.", name);
        v->seen[i] = true;
        v->current = (ssize_t) i;
        v->size = 0;
        v->crc = 0;
        *ret_max = f->size;
        return sha256_reset(v->sha);
}

int verifier_data(Verifier *v, const void *buf, size_t n) {
        if (v->current == CURRENT_METADATA_AGAIN) {
                /* never more than declared: the reader stops at *ret_max */
                if (n > v->metadata_size - v->size || memcmp(v->metadata_text + v->size, buf, n) != 0)
                        v->crc = 1; /* differs */
                v->size += MIN(n, v->metadata_size - v->size);
                return 0;
        }
        if (v->current < 0)
                return 0; /* cedana.json: the caller collects it */
        v->size += n;
        if (v->metadata->format_version == 1) {
                v->crc = libdeflate_crc32(v->crc, buf, n);
                return 0;
        }
        return sha256_update(v->sha, buf, n);
}

static int check_file(const CheckpointMetadata *m, const CheckpointFile *f, uint64_t size, const char *sha256,
                      uint32_t crc, char **reterr) {
        if (size < f->size)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is truncated: %" PRIu64 " of %" PRIu64 " bytes.", f->name,
                            size, f->size);
        if (size > f->size)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is larger than recorded: more than %" PRIu64 " bytes.",
                            f->name, f->size);
        if (m->format_version == 1 ? crc != f->crc32 : !streq(sha256, f->sha256))
                return fail(reterr, -EBADMSG, "Checkpoint file %s is corrupt (%s mismatch).", f->name,
                            m->format_version == 1 ? "checksum" : "SHA-256");
        return 0;
}

int verifier_end(Verifier *v, char **reterr) {
        if (v->current == CURRENT_METADATA_AGAIN) {
                v->current = -1;
                if (v->crc != 0 || v->size != v->metadata_size)
                        return fail(reterr, -EBADMSG, "The checkpoint contains two different %s.", METADATA_FILENAME);
                return 0;
        }
        if (v->current < 0)
                return 0;
        const CheckpointFile *f = &v->metadata->files[v->current];
        v->current = -1;
        char hex[SHA256_HEX_SIZE] = "";
        if (v->metadata->format_version != 1) {
                int r = sha256_final_hex(v->sha, hex);
                if (r < 0)
                        return r;
        }
        return check_file(v->metadata, f, v->size, hex, v->crc, reterr);
}

int verifier_finish(Verifier *v, char **reterr) {
        if (!v->metadata)
                return fail(reterr, -EMEDIUMTYPE, "Not a cedana checkpoint: %s is missing.", METADATA_FILENAME);
        for (size_t i = 0; i < v->metadata->n_files; i++)
                if (!v->seen[i])
                        return fail(reterr, -EBADMSG, "Checkpoint file %s is missing.", v->metadata->files[i].name);
        return 0;
}

/* ---- directories ---- */


typedef struct DirCheck {
        const CheckpointMetadata *metadata;
        int dir_fd;
        atomic_size_t next;
        pthread_mutex_t lock;
        int error;
        char *message;
} DirCheck;

static int hash_file(const CheckpointMetadata *m, const CheckpointFile *f, int dir_fd, void *buf, Sha256 *sha,
                     char **reterr) {
        _cleanup_close_ int fd = open_regular_at(dir_fd, f->name);
        if (fd == -ENOENT)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is missing.", f->name);
        if (fd == -EBADMSG)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is not a regular file.", f->name);
        if (fd < 0)
                return fail(reterr, fd, "Failed to open checkpoint file %s: %s.", f->name, strerror(-fd));
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        uint64_t size = 0;
        uint32_t crc = 0;
        int r = sha256_reset(sha);
        for (;;) {
                ssize_t k = read(fd, buf, READ_BUFFER_SIZE);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return fail(reterr, negative_errno(), "Failed to read checkpoint file %s: %m.", f->name);
                if (k == 0)
                        break;
                size += (uint64_t) k;
                /* Stop reading as soon as it is longer than it may be. */
                if (size > f->size)
                        break;
                if (m->format_version == 1)
                        crc = libdeflate_crc32(crc, buf, (size_t) k);
                else if ((r = sha256_update(sha, buf, (size_t) k)) < 0)
                        return r;
        }
        char hex[SHA256_HEX_SIZE] = "";
        if (m->format_version != 1 && (r = sha256_final_hex(sha, hex)) < 0)
                return r;
        return check_file(m, f, size, hex, crc, reterr);
}

static void *dir_check_thread(void *userdata) {
        DirCheck *c = userdata;
        _cleanup_(sha256_freep) Sha256 *sha = NULL;
        _cleanup_free_ void *buf = malloc(READ_BUFFER_SIZE);
        int r = buf ? sha256_new(&sha) : -ENOMEM;
        while (r >= 0) {
                size_t i = atomic_fetch_add(&c->next, 1);
                if (i >= c->metadata->n_files)
                        break;
                pthread_mutex_lock(&c->lock);
                bool failed = c->error < 0;
                pthread_mutex_unlock(&c->lock);
                if (failed)
                        break;
                _cleanup_free_ char *err = NULL;
                r = hash_file(c->metadata, &c->metadata->files[i], c->dir_fd, buf, sha, &err);
                if (r < 0) {
                        pthread_mutex_lock(&c->lock);
                        if (c->error == 0) {
                                c->error = r;
                                c->message = TAKE_PTR(err);
                        }
                        pthread_mutex_unlock(&c->lock);
                }
        }
        if (r < 0) {
                pthread_mutex_lock(&c->lock);
                if (c->error == 0)
                        c->error = r;
                pthread_mutex_unlock(&c->lock);
        }
        return NULL;
}

/* Before gigabytes are read: anything in the directory that cedana.json does not list. */
static int check_listing(const CheckpointMetadata *m, int dir_fd, char **reterr) {
        DIR *d;
        int r = opendir_at(dir_fd, &d);
        if (r < 0)
                return fail(reterr, r, "Failed to read the checkpoint directory: %s.", strerror(-r));
        struct dirent *de;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, METADATA_FILENAME))
                        continue;
                if (metadata_find_file(m, de->d_name))
                        continue;
                if (checkpoint_file_name_is_plain(de->d_name))
                        r = fail(reterr, -EBADMSG, "The checkpoint contains an unexpected file %s.", de->d_name);
                else
                        r = fail(reterr, -EBADMSG, "The checkpoint contains an unexpected file with an invalid name.");
        }
        if (r >= 0 && errno != 0)
                r = fail(reterr, negative_errno(), "Failed to read the checkpoint directory: %m.");
        closedir(d);
        return r;
}

int verifier_dir_metadata(Verifier *v, int dir_fd, char **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r = read_full_file_at(dir_fd, METADATA_FILENAME, METADATA_MAX_SIZE, &text, &n);
        if (r == -ENOENT)
                return fail(reterr, -ENOENT, "Not a cedana checkpoint: %s is missing.", METADATA_FILENAME);
        if (r == -EBADFD || r == -ELOOP)
                return fail(reterr, -EBADMSG, "The checkpoint's metadata (%s) is not a regular file.", METADATA_FILENAME);
        if (r == -EFBIG)
                return fail(reterr, -EBADMSG, "The checkpoint's metadata (%s) is too large.", METADATA_FILENAME);
        if (r < 0)
                return fail(reterr, r, "Failed to read the checkpoint's metadata (%s): %s.", METADATA_FILENAME,
                            strerror(-r));
        r = verifier_metadata(v, text, n, reterr);
        if (r >= 0)
                r = check_listing(v->metadata, dir_fd, reterr);
        return r;
}

int verifier_copy_file(Verifier *v, int dir_fd, const char *name, int to_dir_fd, char **reterr) {
        uint64_t max;
        int r = verifier_begin(v, name, &max, reterr);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_regular_at(dir_fd, name);
        if (fd == -ENOENT)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is missing.", name);
        if (fd == -EBADMSG)
                return fail(reterr, -EBADMSG, "Checkpoint file %s is not a regular file.", name);
        if (fd < 0)
                return fail(reterr, fd, "Failed to open checkpoint file %s: %s.", name, strerror(-fd));
        _cleanup_close_ int out = openat(to_dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return negative_errno();
        uint8_t buf[64 * 1024];
        uint64_t size = 0;
        for (;;) {
                ssize_t k = loop_read(fd, buf, sizeof(buf));
                if (k < 0)
                        return fail(reterr, (int) k, "Failed to read checkpoint file %s: %s.", name, strerror((int) -k));
                if (k == 0)
                        break;
                r = verifier_data(v, buf, (size_t) k);
                if (r >= 0)
                        r = loop_write(out, buf, (size_t) k);
                if (r < 0)
                        return r;
                /* No further than cedana.json allows: verifier_end() names it as too long. */
                size += (uint64_t) k;
                if (size > max)
                        break;
        }
        return verifier_end(v, reterr);
}

int verifier_check_dir(Verifier *v, int dir_fd, char **reterr) {
        int r = v->metadata ? 0 : verifier_dir_metadata(v, dir_fd, reterr);
        if (r < 0)
                return r;

        /* Big page images dominate: two threads take files in turn. */
        DirCheck c = { .metadata = v->metadata, .dir_fd = dir_fd, .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t threads[DIR_THREADS];
        size_t started = 0;
        for (; started < DIR_THREADS && started < MAX(v->metadata->n_files, (size_t) 1); started++)
                if (pthread_create(&threads[started], NULL, dir_check_thread, &c) != 0)
                        break;
        if (started == 0)
                dir_check_thread(&c);
        for (size_t i = 0; i < started; i++)
                (void) pthread_join(threads[i], NULL);
        if (c.error < 0) {
                if (reterr && !*reterr)
                        *reterr = TAKE_PTR(c.message);
                free(c.message);
                return c.error;
        }
        for (size_t i = 0; i < v->metadata->n_files; i++)
                v->seen[i] = true;
        return 0;
}
