/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint archives: a flat tar of a directory's regular files written through a CodecWriter,
 * and extraction of untrusted archives entry by entry, without libarchive's disk writer. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libarchive.h>

#include "archive.h"
#include "codec.h"
#include "fd-util.h"
#include "macro.h"
#include "metadata.h"
#include "strv.h"
#include "verifier.h"

/* Checkpoints are mostly page images of hundreds of MiB: big slices keep syscalls and
 * libarchive's per-call overhead out of the profile. */
#define ARCHIVE_BUFFER_SIZE ((size_t) 1024 * 1024)

#define TAR_BLOCK_SIZE 512
/* The end-of-archive marker: two all-zero blocks. */
#define TAR_EOA_SIZE (2 * TAR_BLOCK_SIZE)
/* Writers pad the last record with zeros (GNU tar: 10 KiB records); more than this after the
 * marker is not padding, and draining it could take forever from a tiny compressed file. */
#define TAR_MAX_PADDING ((uint64_t) 1024 * 1024)

/* Longest part of a hostile name quoted in an error message. */
#define NAME_QUOTE_MAX 128

static void archive_read_freep(struct archive **a) {
        if (*a)
                (void) archive_read_free(*a);
}

static void archive_entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* The names a checkpoint may contain. No '/', so a name can only ever denote an entry directly
 * inside the destination directory. */
static bool archive_name_is_valid(const char *name) {
        size_t n = 0;

        if (!name || streq(name, ".") || streq(name, ".."))
                return false;
        for (const char *p = name; *p; p++, n++) {
                char c = *p;
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return n >= 1 && n <= 255;
}

/* Names from a hostile archive end up in logs and bus replies: no control characters, no
 * unbounded length. */
static char *name_quote(const char *name) {
        size_t n = strlen(name), m = MIN(n, (size_t) NAME_QUOTE_MAX);
        char *q = malloc(m * 4 + 4), *p = q;

        if (!q)
                return NULL;
        for (size_t i = 0; i < m; i++) {
                unsigned char c = (unsigned char) name[i];
                if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        if (m < n)
                p = stpcpy(p, "...");
        *p = 0;
        return q;
}

_printf_(3, 4) static int fail(char **reterr, int error, const char *format, ...) {
        va_list ap;
        char *s;

        if (!reterr)
                return error;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);

        free(*reterr);
        *reterr = s;
        return error;
}

typedef struct NameList {
        char **names;
        size_t n, allocated;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        *l = (NameList) {};
}

static int name_list_add(NameList *l, const char *name) {
        if (!GREEDY_REALLOC(l->names, l->allocated, l->n + 2))
                return -ENOMEM;
        l->names[l->n] = strdup(name);
        if (!l->names[l->n])
                return -ENOMEM;
        l->names[++l->n] = NULL;
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_regular_files(int dir_fd, NameList *ret) {
        _cleanup_(name_list_done) NameList l = {};
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = opendir_at(dir_fd, &d);
        if (r < 0)
                return r;

        for (;;) {
                struct dirent *de;
                bool regular;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;

                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                return negative_errno();
                        regular = S_ISREG(st.st_mode);
                } else
                        regular = de->d_type == DT_REG;
                if (!regular)
                        continue;

                r = name_list_add(&l, de->d_name);
                if (r < 0)
                        return r;
        }

        if (l.n > 0)
                qsort(l.names, l.n, sizeof(char *), strcmp_ptr);
        *ret = l;
        l = (NameList) {};
        return 0;
}

/* Finds a name given twice: the archive would be refused on extraction. */
static const char *find_duplicate(char *const *names, size_t n, char ***buffer) {
        char **sorted;

        if (n < 2)
                return NULL;
        sorted = malloc(n * sizeof(char *));
        if (!sorted)
                return NULL;
        memcpy(sorted, names, n * sizeof(char *));
        qsort(sorted, n, sizeof(char *), strcmp_ptr);
        *buffer = sorted;
        for (size_t i = 1; i < n; i++)
                if (streq(sorted[i - 1], sorted[i]))
                        return sorted[i];
        return NULL;
}

/* libarchive's tar writer feeding a CodecWriter. */
typedef struct TarWriter {
        struct archive *archive;
        CodecWriter *codec;
        int error;   /* the codec's error behind a failed libarchive call */
        bool discard; /* tearing down an unfinished archive: nothing more reaches the codec */
} TarWriter;

static void tar_writer_done(TarWriter *t) {
        if (t->archive) {
                /* Closing (not archive_write_fail()) is what frees libarchive's client state;
                 * with discard set, the end-of-archive marker it tries to write goes nowhere, so
                 * a failed archive never looks complete. */
                t->discard = true;
                (void) archive_write_close(t->archive);
                (void) archive_write_free(t->archive);
        }
        codec_writer_free(t->codec);
        *t = (TarWriter) {};
}

static la_ssize_t write_callback(struct archive *a, void *userdata, const void *buf, size_t n) {
        TarWriter *c = userdata;
        int r;

        if (c->discard) {
                archive_set_error(a, ECANCELED, "archive discarded");
                return -1;
        }

        r = codec_writer_write(c->codec, buf, n);
        if (r < 0) {
                c->error = r;
                archive_set_error(a, -r, "%s", strerror(-r));
                return -1;
        }
        return (la_ssize_t) n;
}

/* The error behind a failed libarchive write call: ours from the callback, else libarchive's. */
static int write_error(struct archive *a, const TarWriter *c, const char **ret_msg) {
        if (c->error < 0) {
                *ret_msg = strerror(-c->error);
                return c->error;
        }
        *ret_msg = archive_error_string(a) ?: "unknown error";
        return archive_errno(a) > 0 ? -archive_errno(a) : -EIO;
}

static int write_one_file(TarWriter *t, int dir_fd, const char *name, uint8_t *buf,
                          uint64_t *ret_size, char **reterr) {
        _cleanup_(archive_entry_freep) struct archive_entry *entry = NULL;
        _cleanup_free_ char *q = name_quote(name);
        _cleanup_close_ int fd = -EBADF;
        const char *msg;
        uint64_t left;
        struct stat st;
        ssize_t k;
        int r;

        if (!q)
                return -ENOMEM;
        if (!archive_name_is_valid(name))
                return fail(reterr, -EINVAL, "File '%s' has a name that a checkpoint archive cannot hold.", q);

        /* O_NONBLOCK: a FIFO planted in the directory must not hang us before fstat() refuses it. */
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ELOOP)
                        return fail(reterr, -ELOOP,
                                    "File '%s' is a symbolic link; checkpoints contain only regular files.", q);
                r = negative_errno();
                return fail(reterr, r, "Failed to open file '%s': %s.", q, strerror(-r));
        }
        if (fstat(fd, &st) < 0) {
                r = negative_errno();
                return fail(reterr, r, "Failed to stat file '%s': %s.", q, strerror(-r));
        }
        if (!S_ISREG(st.st_mode))
                return fail(reterr, -EBADFD, "File '%s' is not a regular file.", q);

        entry = archive_entry_new();
        if (!entry)
                return -ENOMEM;
        archive_entry_set_pathname(entry, name);
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0600);
        archive_entry_set_uid(entry, 0);
        archive_entry_set_gid(entry, 0);
        archive_entry_set_size(entry, st.st_size);
        /* Whole seconds keep pax_restricted from adding an extended header to every entry. */
        archive_entry_set_mtime(entry, st.st_mtim.tv_sec, 0);

        if (archive_write_header(t->archive, entry) != ARCHIVE_OK) {
                r = write_error(t->archive, t, &msg);
                return fail(reterr, r, "Failed to write file '%s' to the archive: %s.", q, msg);
        }

        for (left = (uint64_t) st.st_size; left > 0; left -= (uint64_t) k) {
                la_ssize_t w;

                k = loop_read(fd, buf, (size_t) MIN(left, (uint64_t) ARCHIVE_BUFFER_SIZE));
                if (k < 0)
                        return fail(reterr, (int) k, "Failed to read file '%s': %s.", q, strerror((int) -k));
                if (k == 0)
                        return fail(reterr, -EIO, "File '%s' shrank while it was being archived.", q);

                w = archive_write_data(t->archive, buf, (size_t) k);
                if (w != k) {
                        r = write_error(t->archive, t, &msg);
                        return fail(reterr, r, "Failed to write file '%s' to the archive: %s.", q, msg);
                }
        }

        /* The header already promised st_size bytes; a file still growing would be cut short. */
        k = loop_read(fd, buf, 1);
        if (k < 0)
                return fail(reterr, (int) k, "Failed to read file '%s': %s.", q, strerror((int) -k));
        if (k > 0)
                return fail(reterr, -EIO, "File '%s' grew while it was being archived.", q);

        if (archive_write_finish_entry(t->archive) != ARCHIVE_OK) {
                r = write_error(t->archive, t, &msg);
                return fail(reterr, r, "Failed to write file '%s' to the archive: %s.", q, msg);
        }

        *ret_size = (uint64_t) st.st_size;
        return 0;
}

int archive_write_dir(int dir_fd, char *const *names, int out_fd, Compression c, unsigned threads,
                      uint64_t *ret_bytes_in, char **reterr) {
        _cleanup_(tar_writer_done) TarWriter t = {};
        _cleanup_(name_list_done) NameList listed = {};
        _cleanup_free_ char **sorted = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t total = 0;
        const char *dup, *msg;
        size_t n_names;
        int r;

        if (dir_fd < 0 || out_fd < 0 || c <= COMPRESSION_NONE || c >= _COMPRESSION_MAX)
                return -EINVAL;

        if (!names) {
                r = list_regular_files(dir_fd, &listed);
                if (r < 0)
                        return fail(reterr, r, "Failed to list the checkpoint directory: %s.", strerror(-r));
                names = listed.names;
        }
        n_names = strv_length(names);

        dup = find_duplicate(names, n_names, &sorted);
        if (n_names >= 2 && !sorted)
                return -ENOMEM;
        if (dup) {
                _cleanup_free_ char *q = name_quote(dup);
                return fail(reterr, -EINVAL, "File '%s' is listed more than once.", strna(q));
        }

        buf = malloc(ARCHIVE_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        r = codec_writer_new(c, out_fd, threads, &t.codec);
        if (r < 0)
                return fail(reterr, r, "Failed to set up %s compression: %s.", compression_to_string(c),
                            strerror(-r));

        t.archive = archive_write_new();
        if (!t.archive)
                return -ENOMEM;
        /* pax_restricted is plain ustar unless an entry needs more (size >= 8 GiB, long name).
         * bytes_per_block 0: no blocking, so file data goes straight to the codec, uncopied. */
        if (archive_write_set_format_pax_restricted(t.archive) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(t.archive, 0) != ARCHIVE_OK)
                return fail(reterr, -EIO, "Failed to set up the tar writer: %s.",
                            strna(archive_error_string(t.archive)));
        if (archive_write_open(t.archive, &t, NULL, write_callback, NULL) != ARCHIVE_OK) {
                r = write_error(t.archive, &t, &msg);
                return fail(reterr, r, "Failed to start the archive: %s.", msg);
        }

        STRV_FOREACH(name, names) {
                uint64_t size = 0;

                r = write_one_file(&t, dir_fd, *name, buf, &size, reterr);
                if (r < 0)
                        return r;
                total += size;
        }

        if (archive_write_close(t.archive) != ARCHIVE_OK) {
                r = write_error(t.archive, &t, &msg);
                return fail(reterr, r, "Failed to finish the archive: %s.", msg);
        }
        r = codec_writer_finish(t.codec);
        if (r < 0)
                return fail(reterr, r, "Failed to finish the archive: %s.", strerror(-r));

        if (ret_bytes_in)
                *ret_bytes_in = total;
        return 0;
}

typedef struct ReadContext {
        CodecReader *reader;
        uint8_t *buf;
        uint64_t fed;         /* stream bytes handed to libarchive */
        uint64_t nonzero_end; /* stream offset just past the last non-zero byte handed over */
        bool eof;
        int error;
        int in_fd;
        const ArchiveLimits *limits; /* for its on_read */
} ReadContext;

/* Index just past the last non-zero byte, 0 if all are zero. Scans backwards: real data rarely
 * ends in zeros, so this is usually one comparison. */
static size_t find_nonzero_end(const uint8_t *p, size_t n) {
        while (n % 8 != 0) {
                if (p[n - 1] != 0)
                        return n;
                n--;
        }
        while (n >= 8) {
                uint64_t v;
                memcpy(&v, p + n - 8, sizeof(v));
                if (v != 0)
                        break;
                n -= 8;
        }
        while (n > 0) {
                if (p[n - 1] != 0)
                        return n;
                n--;
        }
        return 0;
}

static la_ssize_t read_callback(struct archive *a, void *userdata, const void **ret_buf) {
        ReadContext *c = userdata;
        ssize_t k;
        size_t e;

        k = codec_reader_read(c->reader, c->buf, ARCHIVE_BUFFER_SIZE);
        if (k < 0) {
                c->error = (int) k;
                archive_set_error(a, (int) -k, "%s", codec_reader_error(c->reader) ?: strerror((int) -k));
                return -1;
        }
        if (k == 0)
                c->eof = true;

        e = find_nonzero_end(c->buf, (size_t) k);
        if (e > 0)
                c->nonzero_end = c->fed + e;
        c->fed += (uint64_t) k;

        if (c->limits && c->limits->on_read) {
                off_t pos = lseek(c->in_fd, 0, SEEK_CUR);
                int r = c->limits->on_read(pos > 0 ? (uint64_t) pos : c->fed, c->limits->userdata);
                if (r < 0) {
                        c->error = r;
                        archive_set_error(a, -r, "%s", strerror(-r));
                        return -1;
                }
        }

        *ret_buf = c->buf;
        return k;
}

/* Why a libarchive read call failed, as one sentence: the codec's reason first (it knows
 * about truncation and corruption of the compressed stream), then our own EOF, then libarchive. */
static int read_failure(struct archive *a, const ReadContext *c, const char *q, char **reterr) {
        const char *reason;

        if (c->error < 0) {
                reason = codec_reader_error(c->reader);
                if (c->error == -EBADMSG)
                        return fail(reterr, -EBADMSG, "The archive is damaged: %s.",
                                    reason ?: "the compressed stream is corrupt");
                return fail(reterr, c->error, "Failed to read the archive: %s.", reason ?: strerror(-c->error));
        }
        if (c->eof) {
                if (c->fed == 0)
                        return fail(reterr, -EBADMSG, "The archive is empty.");
                return fail(reterr, -EBADMSG, "The archive is truncated.");
        }
        if (!a)
                return fail(reterr, -EIO, "Failed to read the archive.");
        if (archive_errno(a) == ENOMEM)
                return -ENOMEM;
        if (q)
                return fail(reterr, -EBADMSG, "Archive entry '%s' is damaged (%s).", q,
                            strna(archive_error_string(a)));
        return fail(reterr, -EBADMSG, "The archive is not a valid tar archive (%s).",
                    strna(archive_error_string(a)));
}

static int check_entry_type(struct archive_entry *entry, const char *q, char **reterr) {
        const char *what;

        if (archive_entry_hardlink(entry))
                what = "a hard link";
        else if (archive_entry_symlink(entry))
                what = "a symbolic link";
        else
                switch (archive_entry_filetype(entry)) {
                case AE_IFREG:
                        if (archive_entry_sparse_count(entry) > 0)
                                return fail(reterr, -EBADMSG, "Archive entry '%s' is a sparse file; "
                                            "checkpoints contain only plain regular files.", q);
                        return 0;
                case AE_IFLNK:
                        what = "a symbolic link";
                        break;
                case AE_IFDIR:
                        what = "a directory";
                        break;
                case AE_IFCHR:
                case AE_IFBLK:
                        what = "a device node";
                        break;
                case AE_IFIFO:
                        what = "a FIFO";
                        break;
                case AE_IFSOCK:
                        what = "a socket";
                        break;
                default:
                        what = "not a regular file";
                }

        return fail(reterr, -EBADMSG, "Archive entry '%s' is %s; checkpoints contain only regular files.", q, what);
}

/* The name an entry stands for: tar run on a directory ("tar -czf x.tar.gz -C dir .") puts
 * "./" in front of every name and adds "./" itself. NULL for that root entry. */
static const char *entry_name(const char *name) {
        while (name[0] == '.' && name[1] == '/')
                name += 2 + strspn(name + 2, "/");
        return isempty(name) || streq(name, ".") ? NULL : name;
}

static bool entry_is_root_dir(struct archive_entry *entry, const char *raw) {
        return archive_entry_filetype(entry) == AE_IFDIR && !archive_entry_hardlink(entry) && !entry_name(raw);
}

typedef struct Walk {
        const ArchiveLimits *limits;
        uint64_t n_entries;
        uint64_t total_bytes;
} Walk;

/* Passes an entry's data to f (which may be NULL: skip), counted against the limits and
 * against max, the most this entry may have. */
static int entry_data(struct archive *a, const ReadContext *ctx, Walk *w, const char *q, uint64_t max,
                      int (*f)(const void *data, size_t size, void *userdata), void *userdata, char **reterr) {
        uint64_t written = 0;
        for (;;) {
                const void *data;
                size_t size;
                la_int64_t offset;
                int r = archive_read_data_block(a, &data, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK)
                        return read_failure(a, ctx, q, reterr);
                if (offset < 0 || (uint64_t) offset != written)
                        return fail(reterr, -EBADMSG, "Archive entry '%s' has holes; "
                                    "checkpoints contain only plain regular files.", q);
                /* Counted as written: the header may have lied about the size. */
                if (size > max - written)
                        return fail(reterr, -EFBIG, "Archive entry '%s' is larger than the checkpoint's metadata "
                                    "declares (%" PRIu64 " bytes).", q, max);
                if (size > w->limits->max_entry_bytes - written)
                        return fail(reterr, -EFBIG, "Archive entry '%s' is larger than the limit of %" PRIu64 " bytes.",
                                    q, w->limits->max_entry_bytes);
                if (size > w->limits->max_bytes - w->total_bytes)
                        return fail(reterr, -EFBIG,
                                    "Archive entry '%s' makes the archive larger than the limit of %" PRIu64 " bytes.",
                                    q, w->limits->max_bytes);
                if (f) {
                        r = f(data, size, userdata);
                        if (r < 0)
                                return fail(reterr, r, "Failed to write file '%s': %s.", q, strerror(-r));
                }
                written += size;
                w->total_bytes += size;
        }
}

/* Checks an entry's header: a plain regular file within the limits. *ret_name: its name, without
 * a "./" prefix; NULL for the "./" entry itself, which is skipped. */
static int entry_header(struct archive_entry *entry, Walk *w, const char **ret_name, char **ret_quoted,
                        char **reterr) {
        w->n_entries++;
        if (w->n_entries > w->limits->max_entries)
                return fail(reterr, -EFBIG, "The archive has more than %" PRIu64 " entries.", w->limits->max_entries);
        const char *raw = archive_entry_pathname(entry);
        if (!raw)
                return fail(reterr, -EBADMSG, "Archive entry %" PRIu64 " has no usable name.", w->n_entries);
        _cleanup_free_ char *q = name_quote(raw);
        if (!q)
                return -ENOMEM;
        if (entry_is_root_dir(entry, raw)) {
                *ret_name = NULL;
                *ret_quoted = TAKE_PTR(q);
                return 0;
        }
        const char *name = entry_name(raw);
        /* The commonest way to get here: a checkpoint directory archived by name, not its content. */
        if (name && strchr(name, '/') && !strstr(name, "..") && name[0] != '/')
                return fail(reterr, -EBADMSG, "Archive entry '%s' is a subdirectory or in one; a checkpoint archive "
                            "holds its files at the top (archive the directory's content: tar -C DIR -czf FILE .).", q);
        if (!name || !archive_name_is_valid(name))
                return fail(reterr, -EBADMSG, "Archive entry '%s' is not a plain file name.", q);
        int r = check_entry_type(entry, q, reterr);
        if (r < 0)
                return r;
        /* The header's size is only a claim, but refusing early avoids writing a doomed file. */
        if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0) {
                uint64_t size = (uint64_t) archive_entry_size(entry);
                if (size > w->limits->max_entry_bytes)
                        return fail(reterr, -EFBIG, "Archive entry '%s' is larger than the limit of %" PRIu64 " bytes.",
                                    q, w->limits->max_entry_bytes);
                if (size > w->limits->max_bytes - MIN(w->total_bytes, w->limits->max_bytes))
                        return fail(reterr, -EFBIG,
                                    "Archive entry '%s' makes the archive larger than the limit of %" PRIu64 " bytes.",
                                    q, w->limits->max_bytes);
        }
        *ret_name = name;
        *ret_quoted = TAKE_PTR(q);
        return 0;
}

typedef struct ExtractFile {
        int fd;
        Verifier *verifier;
        char *metadata; /* cedana.json's bytes, collected for the verifier */
        size_t metadata_size;
} ExtractFile;

static int extract_data(const void *data, size_t size, void *userdata) {
        ExtractFile *x = userdata;
        if (x->metadata) {
                memcpy(x->metadata + x->metadata_size, data, size);
                x->metadata_size += size;
        } else if (x->verifier) {
                int r = verifier_data(x->verifier, data, size);
                if (r < 0)
                        return r;
        }
        return x->fd >= 0 ? loop_write(x->fd, data, size) : 0;
}

static int extract_one(struct archive *a, const ReadContext *ctx, struct archive_entry *entry, int dest_fd, Walk *w,
                       Verifier *v, char **reterr) {
        _cleanup_free_ char *q = NULL, *metadata = NULL;
        const char *name;
        int r = entry_header(entry, w, &name, &q, reterr);
        if (r < 0 || !name)
                return r;

        uint64_t max = UINT64_MAX;
        bool is_metadata = false;
        if (v) {
                r = verifier_begin(v, name, &max, reterr);
                if (r < 0)
                        return r;
                /* cedana.json comes first in our archives: it is kept in memory, checked, and from
                 * then on says what every other entry may be. */
                is_metadata = !verifier_get_metadata(v);
                if (is_metadata && !(metadata = malloc(max)))
                        return -ENOMEM;
        }

        /* Mode bits (setuid included), owners, times, ACLs and xattrs of the entry are ignored:
         * every file is a fresh 0600 file of ours. O_EXCL on a directory we verified empty
         * means EEXIST can only be a second entry of the same name. */
        _cleanup_close_ int fd = -EBADF;
        if (!is_metadata) {
                fd = openat(dest_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
                if (fd < 0) {
                        if (errno == EEXIST)
                                return fail(reterr, -EBADMSG, "Archive entry '%s' appears more than once.", q);
                        r = negative_errno();
                        return fail(reterr, r, "Failed to create file '%s': %s.", q, strerror(-r));
                }
        }
        ExtractFile x = { .fd = fd, .verifier = v, .metadata = metadata };
        r = entry_data(a, ctx, w, q, max, extract_data, &x, reterr);
        if (r < 0)
                return r;
        if (is_metadata)
                return verifier_metadata(v, metadata, x.metadata_size, reterr);
        return v ? verifier_end(v, reterr) : 0;
}

/* After libarchive reported the end: the stream from where the last header would have begun
 * must hold the complete end-of-archive marker and nothing but zeros after it. Without this, a
 * tar cut exactly at an entry boundary (libarchive accepts a missing marker) would silently
 * lose the following files, and anything appended after the marker would go unnoticed. */
static int check_archive_end(ReadContext *c, uint64_t end_start, char **reterr) {
        uint64_t drained = 0;

        for (;;) {
                ssize_t k;

                k = codec_reader_read(c->reader, c->buf, ARCHIVE_BUFFER_SIZE);
                if (k < 0) {
                        c->error = (int) k;
                        return read_failure(NULL, c, NULL, reterr);
                }
                if (k == 0)
                        break;
                if (find_nonzero_end(c->buf, (size_t) k) > 0)
                        return fail(reterr, -EBADMSG, "The archive has unexpected data after its end.");
                drained += (uint64_t) k;
                if (c->fed + drained - end_start > TAR_EOA_SIZE + TAR_MAX_PADDING)
                        return fail(reterr, -EBADMSG, "The archive has unexpected data after its end.");
        }

        if (c->nonzero_end > end_start)
                return fail(reterr, -EBADMSG, "The archive has unexpected data after its end.");
        if (c->fed + drained - end_start < TAR_EOA_SIZE)
                return fail(reterr, -EBADMSG, "The archive is truncated.");
        if (c->fed + drained - end_start > TAR_EOA_SIZE + TAR_MAX_PADDING)
                return fail(reterr, -EBADMSG, "The archive has unexpected data after its end.");
        return 0;
}

static int dir_is_empty(int dir_fd) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r = opendir_at(dir_fd, &d);
        if (r < 0)
                return r;
        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno != 0 ? negative_errno() : 1;
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return 0;
        }
}

typedef int (*EntryFunc)(struct archive *a, const ReadContext *ctx, struct archive_entry *entry, Walk *w,
                         void *userdata, char **reterr);

/* Reads the archive in in_fd (format from its content), calling f for every entry; f returns
 * > 0 to stop early. The archive must end cleanly. */
static int walk(int in_fd, const ArchiveLimits *limits, Compression *ret_format, EntryFunc f, void *userdata,
                char **reterr) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_(codec_reader_freep) CodecReader *reader = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        ArchiveLimits default_limits = ARCHIVE_LIMITS_DEFAULT;
        Walk w = { .limits = limits ?: &default_limits };
        Compression c;

        int r = codec_detect(in_fd, &c);
        if (r == -ENODATA)
                return fail(reterr, r, "The file is empty.");
        if (r == -EMEDIUMTYPE)
                return fail(reterr, r, "The file is not a checkpoint archive (not tar, gzip, lz4, zlib or zstd).");
        if (r == -EBADFD)
                return fail(reterr, r, "The file is neither a regular file nor a directory.");
        if (r < 0)
                return fail(reterr, r, "Failed to read the archive: %s.", strerror(-r));
        if (c == COMPRESSION_NONE)
                return fail(reterr, -EISDIR, "The checkpoint is a directory, not an archive.");
        if (ret_format)
                *ret_format = c;

        /* Detection looked at offset 0, so that is where the stream starts. */
        if (lseek(in_fd, 0, SEEK_SET) < 0) {
                r = negative_errno();
                return fail(reterr, r, "Failed to read the archive: %s.", strerror(-r));
        }
        buf = malloc(ARCHIVE_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        r = codec_reader_new(in_fd, c, &reader);
        if (r < 0)
                return r;
        ReadContext ctx = { .reader = reader, .buf = buf, .in_fd = in_fd, .limits = w.limits };

        a = archive_read_new();
        if (!a)
                return -ENOMEM;
        /* Only the format we write; no libarchive filters, decompression is the codec's job. */
        if (archive_read_support_format_tar(a) != ARCHIVE_OK)
                return fail(reterr, -EIO, "Failed to set up the tar reader: %s.", strna(archive_error_string(a)));
        if (archive_read_open(a, &ctx, NULL, read_callback, NULL) != ARCHIVE_OK)
                return read_failure(a, &ctx, NULL, reterr);

        for (;;) {
                struct archive_entry *entry;
                uint64_t header_start = (uint64_t) archive_filter_bytes(a, -1);

                r = archive_read_next_header(a, &entry);
                if (r == ARCHIVE_EOF)
                        return check_archive_end(&ctx, header_start, reterr);
                /* ARCHIVE_WARN too: our own archives never produce one, and each warning
                 * (unconvertible names, too many special headers) means a foreign archive. */
                if (r != ARCHIVE_OK)
                        return read_failure(a, &ctx, NULL, reterr);
                r = f(a, &ctx, entry, &w, userdata, reterr);
                if (r != 0)
                        return r;
        }
}

typedef struct ExtractArgs {
        int dest_fd;
        Verifier *verifier;
} ExtractArgs;

static int extract_entry(struct archive *a, const ReadContext *ctx, struct archive_entry *entry, Walk *w,
                         void *userdata, char **reterr) {
        ExtractArgs *x = userdata;
        return extract_one(a, ctx, entry, x->dest_fd, w, x->verifier, reterr);
}

/* Why not archive_write_disk() with ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS and
 * _SECURE_NOABSOLUTEPATHS: those flags police paths, and only some of them. They still create
 * symlinks pointing anywhere (which CRIU, opening images without O_NOFOLLOW, would follow later),
 * hard links, directories, FIFOs and, as root, device nodes; they apply the archive's owners and
 * modes (setuid included) unless told not to; their symlink check lstat()s path components and
 * then opens by path, racing anyone who can write to the destination; and sizes are whatever
 * the headers say. Here a valid name cannot contain '/', so it can only denote a new entry
 * directly inside dest; O_CREAT|O_EXCL|O_NOFOLLOW never follows or reuses anything already
 * there; nothing but the bytes is taken from the archive; and bytes are counted as written. */
int archive_extract(int in_fd, int dest_dir_fd, const ArchiveLimits *limits, Verifier *v, Compression *ret_format,
                    char **reterr) {
        if (in_fd < 0 || dest_dir_fd < 0)
                return -EINVAL;
        int r = dir_is_empty(dest_dir_fd);
        if (r < 0)
                return r;
        if (r == 0)
                return fail(reterr, -ENOTEMPTY, "The destination directory is not empty.");
        ExtractArgs x = { .dest_fd = dest_dir_fd, .verifier = v };
        r = walk(in_fd, limits, ret_format, extract_entry, &x, reterr);
        if (r >= 0 && v)
                r = verifier_finish(v, reterr);
        return r;
}

typedef struct FindArgs {
        char *text;
        size_t size;
} FindArgs;

static int collect(const void *data, size_t size, void *userdata) {
        FindArgs *f = userdata;
        memcpy(f->text + f->size, data, size);
        f->size += size;
        return 0;
}

static int find_entry(struct archive *a, const ReadContext *ctx, struct archive_entry *entry, Walk *w, void *userdata,
                      char **reterr) {
        FindArgs *f = userdata;
        _cleanup_free_ char *q = NULL;
        const char *name;
        int r = entry_header(entry, w, &name, &q, reterr);
        if (r < 0 || !name)
                return r;
        if (!streq(name, METADATA_FILENAME))
                return entry_data(a, ctx, w, q, UINT64_MAX, NULL, NULL, reterr);
        if (f->text)
                return fail(reterr, -EBADMSG, "The checkpoint contains %s twice.", METADATA_FILENAME);
        if (!(f->text = malloc(METADATA_MAX_SIZE)))
                return -ENOMEM;
        return entry_data(a, ctx, w, q, METADATA_MAX_SIZE, collect, f, reterr);
}

int archive_read_metadata(int in_fd, const ArchiveLimits *limits, char **ret_text, size_t *ret_size, char **reterr) {
        FindArgs f = {};
        int r = walk(in_fd, limits, NULL, find_entry, &f, reterr);
        if (r >= 0 && !f.text)
                r = fail(reterr, -EMEDIUMTYPE, "Not a cedana checkpoint: the archive has no %s.", METADATA_FILENAME);
        if (r < 0) {
                free(f.text);
                return r;
        }
        *ret_text = f.text;
        *ret_size = f.size;
        return 0;
}

typedef struct ReadFilesArgs {
        bool (*want)(const char *name);
        uint64_t max_each, max_total, kept_bytes;
        ArchiveFile *files;
        size_t n_files;
} ReadFilesArgs;

typedef struct Collected {
        char *data;
        size_t size, allocated;
} Collected;

static int collect_grow(const void *data, size_t size, void *userdata) {
        Collected *c = userdata;
        if (size > c->allocated - c->size) {
                size_t a = MAX(c->allocated * 2, c->size + size + 1);
                char *p = realloc(c->data, a);
                if (!p)
                        return -ENOMEM;
                c->data = p;
                c->allocated = a;
        }
        memcpy(c->data + c->size, data, size);
        c->size += size;
        return 0;
}

static int read_file_entry(struct archive *a, const ReadContext *ctx, struct archive_entry *entry, Walk *w,
                           void *userdata, char **reterr) {
        ReadFilesArgs *x = userdata;
        _cleanup_free_ char *q = NULL;
        const char *name;
        int r = entry_header(entry, w, &name, &q, reterr);
        if (r < 0 || !name)
                return r;
        if (!x->want(name))
                return entry_data(a, ctx, w, q, UINT64_MAX, NULL, NULL, reterr);
        for (size_t i = 0; i < x->n_files; i++)
                if (streq(x->files[i].name, name))
                        return fail(reterr, -EBADMSG, "Archive entry '%s' appears more than once.", q);
        uint64_t max = MIN(x->max_each, x->max_total - x->kept_bytes);
        Collected c = {};
        r = entry_data(a, ctx, w, q, max, collect_grow, &c, reterr);
        if (r >= 0 && !c.data)
                r = collect_grow("", 0, &c);
        if (r >= 0) {
                c.data[c.size] = 0;
                ArchiveFile *p = realloc(x->files, (x->n_files + 1) * sizeof(ArchiveFile));
                if (!p)
                        r = -ENOMEM;
                else {
                        x->files = p;
                        x->files[x->n_files] = (ArchiveFile) { .name = strdup(name), .data = c.data, .size = c.size };
                        if (!x->files[x->n_files].name)
                                r = -ENOMEM;
                        else {
                                x->n_files++;
                                x->kept_bytes += c.size;
                                return 0;
                        }
                }
        }
        free(c.data);
        return r;
}

int archive_read_files(int in_fd, const ArchiveLimits *limits, bool (*want)(const char *name), uint64_t max_each,
                       uint64_t max_total, ArchiveFile **ret, size_t *ret_n, Compression *ret_format, char **reterr) {
        ReadFilesArgs x = { .want = want, .max_each = max_each, .max_total = max_total };
        int r = walk(in_fd, limits, ret_format, read_file_entry, &x, reterr);
        if (r < 0) {
                archive_files_free(x.files, x.n_files);
                return r;
        }
        *ret = x.files;
        *ret_n = x.n_files;
        return 0;
}

void archive_files_free(ArchiveFile *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(files[i].name);
                free(files[i].data);
        }
        free(files);
}
