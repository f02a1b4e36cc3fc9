/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-index.h"
#include "codec.h"
#include "digest.h"
#include "macro.h"
#include "fd-util.h"
#include "log.h"
#include "message.h"
#include "streamer-proto.h"
#include "streamer.h"

/* Decoded pieces in flight per page image: the decoder runs this far ahead of the pipe. */
#define RING_SLOTS 8
#define SLOT_SIZE ((size_t) 512 * 1024)
/* Decoding frame by frame (the index says where they are): a frame holds at most a 2 MiB chunk
 * or a 4 KiB segment, and takes at most this much in the archive. */
#define FRAME_SLOTS 4
#define FRAME_OUT_MAX (((size_t) 2 << 20) + 4096)
#define FRAME_IN_MAX ((size_t) 8 << 20)
#define FRAME_DECODERS 2

/* One image on its way to CRIU: a page image from the archive (file set, hashed), or an image of
 * the images directory (source_fd set). */
typedef struct Transfer {
        struct Streamer *streamer;
        const CheckpointFile *file;
        int source_fd;
        int pipe_fd; /* CRIU's pipe; -EBADF when read without one (streamer_verify()) */
        bool drop;   /* CRIU will read no more: only hashed from here on */
        pthread_t thread;
        bool started;
        /* The ring between the decoder and its two readers, the writer and the hasher, which take
         * each piece side by side; counted from the start (slot: count % RING_SLOTS). */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        uint8_t *slot[RING_SLOTS];
        size_t len[RING_SLOTS];
        unsigned n_slots;
        uint64_t produced, consumed[2];
        bool eof, abort;
        /* frame by frame: the next frame to claim, and which frame each slot holds */
        uint64_t claimed;
        uint64_t slot_frame[RING_SLOTS];
        uint64_t given[2]; /* bytes each reader took: no more than the file has (frames end padded) */
        ArchiveRange *range; /* from an object: its bytes as they come, read frame after frame */
        uint64_t next_read;  /* ... the frame whose bytes are next */
        char sha256[SHA256_HEX_SIZE];
        int result; /* 0, or -EBADMSG with error */
        char *error;
} Transfer;

struct Streamer {
        StreamerParams params;
        int listen_fd, conn_fd;
        int stop_fd; /* eventfd: readable once CRIU will read no more */
        pthread_t server;
        bool server_started;
        pthread_mutex_t lock;
        Transfer **by_file; /* page images, by index in metadata->files */
        Transfer **others;
        size_t n_others;
        bool closed; /* streamer_verify() ran: nothing more is served */
        uint64_t bytes;
};

bool streamer_takes(const char *name) {
        const char *n = startswith(name, "pages-");
        size_t l = n ? strlen(n) : 0;
        return l > 4 && streq(n + l - 4, ".img");
}

static bool stopping(Streamer *s) {
        struct pollfd p = { .fd = s->stop_fd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* All of buf to CRIU's pipe, unless CRIU closed it or will read no more. */
static void pipe_write(Transfer *t, const uint8_t *buf, size_t n) {
        while (n > 0 && !t->drop) {
                ssize_t k = write(t->pipe_fd, buf, n);
                if (k > 0) {
                        buf += k, n -= (size_t) k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        struct pollfd p[] = { { .fd = t->pipe_fd, .events = POLLOUT },
                                              { .fd = t->streamer->stop_fd, .events = POLLIN } };
                        if (poll(p, ELEMENTSOF(p), -1) < 0 && errno != EINTR)
                                t->drop = true;
                        else if (p[1].revents)
                                t->drop = true;
                        continue;
                }
                t->drop = true; /* EPIPE: CRIU closed it */
        }
}

enum { WRITER, HASHER };

/* Up to n bytes of the page image: from its file (t->source_fd, a directory's) or the archive. */
static ssize_t read_image(Transfer *t, EntryReader *e, uint64_t *offset, uint8_t *buf, size_t n) {
        if (e)
                return entry_reader_read(e, buf, n);
        ssize_t k = loop_pread(t->source_fd, buf, n, *offset);
        if (k > 0)
                *offset += (uint64_t) k;
        return k;
}

/* Decoder: fills the ring from the archive (or the image's file) until the entry ends, fails, or
 * the writer gives up. */
static void *decode_main(void *userdata) {
        Transfer *t = userdata;
        _cleanup_(entry_reader_freep) EntryReader *e = NULL;
        _cleanup_free_ char *err = NULL;
        uint64_t offset = 0;
        int r = t->source_fd >= 0 ? 0
                                  : entry_reader_open(&t->streamer->params.source, t->streamer->params.format,
                                                      t->streamer->params.metadata, t->file, &e, &err);
        for (;;) {
                pthread_mutex_lock(&t->lock);
                while (t->produced - MIN(t->consumed[WRITER], t->consumed[HASHER]) == t->n_slots && !t->abort)
                        pthread_cond_wait(&t->cond, &t->lock);
                bool abort = t->abort;
                unsigned i = (unsigned) (t->produced % t->n_slots);
                pthread_mutex_unlock(&t->lock);
                if (abort)
                        break;

                size_t len = 0;
                while (r >= 0 && len < SLOT_SIZE) {
                        ssize_t k = read_image(t, e, &offset, t->slot[i] + len, SLOT_SIZE - len);
                        if (k < 0 && !e) {
                                r = (int) k;
                                if (!err && asprintf(&err, "Failed to read checkpoint file %s: %s.", t->file->name,
                                                     strerror((int) -k)) < 0)
                                        err = NULL;
                        } else if (k < 0) {
                                r = (int) k;
                                if (!err && asprintf(&err, k == -ENOLINK ? "%s" : "The checkpoint archive is corrupt: %s.",
                                                     strna(entry_reader_error(e))) < 0)
                                        err = NULL;
                        } else if (k == 0)
                                break;
                        else
                                len += (size_t) k;
                }

                pthread_mutex_lock(&t->lock);
                t->len[i] = len;
                if (len > 0)
                        t->produced++;
                if (r < 0 || len < SLOT_SIZE) {
                        t->eof = true;
                        if (r < 0 && t->result == 0) {
                                t->result = r;
                                t->error = TAKE_PTR(err);
                        }
                }
                bool done = t->eof;
                pthread_cond_broadcast(&t->cond);
                pthread_mutex_unlock(&t->lock);
                if (done)
                        break;
        }
        return NULL;
}

/* Frame decoder, one of FRAME_DECODERS: claims frames in order, decodes each into its slot, and
 * hands them on in order. Frame 0 is the entry's tar header: checked, not handed on. */
static void *frame_main(void *userdata) {
        Transfer *t = userdata;
        const CheckpointFile *f = t->file;
        uint64_t n = f->n_frames - 1;
        _cleanup_free_ uint8_t *in = NULL;
        for (;;) {
                pthread_mutex_lock(&t->lock);
                uint64_t j = t->claimed;
                bool stop = j >= n || t->abort || t->eof;
                if (!stop)
                        t->claimed++;
                while (!stop && !t->abort && j >= MIN(t->consumed[WRITER], t->consumed[HASHER]) + t->n_slots)
                        pthread_cond_wait(&t->cond, &t->lock);
                stop = stop || t->abort;
                pthread_mutex_unlock(&t->lock);
                if (stop)
                        return NULL;

                unsigned i = (unsigned) (j % t->n_slots);
                uint64_t length = f->frames[j + 1] - f->frames[j];
                size_t len = 0;
                int r = length <= FRAME_IN_MAX && (in || (in = malloc(FRAME_IN_MAX))) ? 0 : -EBADMSG;
                if (r == 0 && !in)
                        r = -ENOMEM;
                _cleanup_free_ char *store_error = NULL;
                if (r == 0 && t->range) {
                        /* One stream: frames are read in turn, and decoded side by side. */
                        pthread_mutex_lock(&t->lock);
                        while (t->next_read != j && !t->abort && !t->eof)
                                pthread_cond_wait(&t->cond, &t->lock);
                        bool turn = t->next_read == j;
                        pthread_mutex_unlock(&t->lock);
                        ssize_t k = turn ? loop_read(archive_range_fd(t->range), in, (size_t) length) : -ECANCELED;
                        r = k < 0 ? (int) k : (uint64_t) k < length ? -EBADMSG : 0;
                        if (r == -EBADMSG && archive_range_failed(t->range, &store_error) < 0)
                                r = -ENOLINK;
                        pthread_mutex_lock(&t->lock);
                        t->next_read++;
                        pthread_cond_broadcast(&t->cond);
                        pthread_mutex_unlock(&t->lock);
                } else if (r == 0) {
                        ssize_t k = loop_pread(t->streamer->params.source.fd, in, (size_t) length, f->frames[j]);
                        r = k < 0 ? (int) k : (uint64_t) k < length ? -EBADMSG : 0;
                }
                if (r == 0)
                        r = codec_decode_frame(t->streamer->params.format, in, (size_t) length, t->slot[i],
                                               FRAME_OUT_MAX, &len);
                if (r == 0 && j == 0) {
                        r = archive_header_is(t->slot[i], len, f) ? 0 : -EBADMSG;
                        len = 0;
                }

                pthread_mutex_lock(&t->lock);
                if (r == -ECANCELED) {
                        t->eof = true;
                } else if (r < 0) {
                        if (t->result == 0) {
                                t->result = r;
                                if (r == -ENOLINK)
                                        t->error = TAKE_PTR(store_error);
                                else if (asprintf(&t->error, "The checkpoint archive is corrupt: frame %" PRIu64 " of "
                                                  "%s cannot be decoded.", j, f->name) < 0)
                                        t->error = NULL;
                        }
                        t->eof = true;
                } else {
                        t->len[i] = len;
                        t->slot_frame[i] = j;
                        /* In order: what is decoded after a gap waits for it. */
                        while (t->produced < n && t->slot_frame[t->produced % t->n_slots] == t->produced)
                                t->produced++;
                        if (t->produced == n)
                                t->eof = true;
                }
                pthread_cond_broadcast(&t->cond);
                pthread_mutex_unlock(&t->lock);
        }
}

/* The next piece for reader who (WRITER or HASHER), or NULL at the end. */
static const uint8_t *next_piece(Transfer *t, int who, size_t *ret_len) {
        pthread_mutex_lock(&t->lock);
        while (t->consumed[who] == t->produced && !t->eof && !t->abort)
                pthread_cond_wait(&t->cond, &t->lock);
        const uint8_t *p = NULL;
        if (t->consumed[who] < t->produced && !t->abort) {
                unsigned i = (unsigned) (t->consumed[who] % t->n_slots);
                p = t->slot[i];
                *ret_len = (size_t) MIN((uint64_t) t->len[i], t->file->size - t->given[who]);
                t->given[who] += *ret_len;
        }
        pthread_mutex_unlock(&t->lock);
        return p;
}

static void piece_done(Transfer *t, int who) {
        pthread_mutex_lock(&t->lock);
        t->consumed[who]++;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
}

/* Hasher: the digest of every piece, beside the writer. */
static void *hash_main(void *userdata) {
        Transfer *t = userdata;
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        bool ok = sha256_new(&h) >= 0;
        const uint8_t *p;
        size_t len;
        while ((p = next_piece(t, HASHER, &len))) {
                ok = ok && sha256_update(h, p, len) >= 0;
                piece_done(t, HASHER);
        }
        if (!ok || sha256_final_hex(h, t->sha256) < 0)
                t->sha256[0] = 0;
        return NULL;
}

static void abort_transfer(Transfer *t) {
        pthread_mutex_lock(&t->lock);
        t->abort = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
}

/* Writer: each decoded piece on to CRIU, while the hasher hashes it. A local archive with the
 * page image's frames listed is decoded frame by frame on FRAME_DECODERS threads, else in one
 * stream. */
static int stream_entry(Transfer *t) {
        const StreamerParams *sp = &t->streamer->params;
        bool frames = sp->format != COMPRESSION_TAR && t->file->n_frames > 2;
        pthread_t decoders[FRAME_DECODERS], hasher;
        size_t n_decoders = 0;
        t->n_slots = frames ? FRAME_SLOTS : RING_SLOTS;
        for (size_t i = 0; i < t->n_slots; i++)
                if (!(t->slot[i] = malloc(frames ? FRAME_OUT_MAX : SLOT_SIZE)))
                        return -ENOMEM;
        int r = frames && sp->source.s3 ? archive_range_open(&sp->source, sp->metadata, t->file, &t->range) : 0;
        if (r < 0)
                return r;
        r = -pthread_create(&hasher, NULL, hash_main, t);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < (frames ? FRAME_DECODERS : 1); i++) {
                r = -pthread_create(&decoders[i], NULL, frames ? frame_main : decode_main, t);
                n_decoders += r >= 0;
        }
        if (r < 0) {
                abort_transfer(t);
                for (size_t i = 0; i < n_decoders; i++)
                        (void) pthread_join(decoders[i], NULL);
                (void) pthread_join(hasher, NULL);
                return r;
        }
        uint64_t total = 0;
        const uint8_t *p;
        size_t len;
        while ((p = next_piece(t, WRITER, &len))) {
                if (t->pipe_fd >= 0)
                        pipe_write(t, p, len);
                total += len;
                piece_done(t, WRITER);
        }
        for (size_t i = 0; i < n_decoders; i++)
                (void) pthread_join(decoders[i], NULL);
        (void) pthread_join(hasher, NULL);
        t->range = archive_range_free(t->range);
        pthread_mutex_lock(&t->streamer->lock);
        t->streamer->bytes += total;
        pthread_mutex_unlock(&t->streamer->lock);
        if (t->result < 0)
                return t->result;
        if (t->abort)
                return -ECANCELED;
        if (total == t->file->size && streq(t->sha256, t->file->sha256))
                return 0;
        if (asprintf(&t->error, "The checkpoint is corrupt: %s does not match its SHA-256 in cedana.json.",
                     t->file->name) < 0)
                t->error = NULL;
        return (t->result = -EBADMSG);
}

/* An image of the images directory, verified already: copied as it is. */
static int copy_file(Transfer *t) {
        uint8_t buf[64 * 1024];
        for (;;) {
                ssize_t k = loop_read(t->source_fd, buf, sizeof(buf));
                if (k <= 0)
                        return (int) k;
                pipe_write(t, buf, (size_t) k);
                if (t->drop)
                        return 0;
        }
}

static void *transfer_main(void *userdata) {
        Transfer *t = userdata;
        block_sigpipe(); /* CRIU may close its pipe early */
        int r = t->file ? stream_entry(t) : copy_file(t);
        if (r < 0 && t->result == 0)
                t->result = r;
        /* CRIU sees the image end. */
        t->pipe_fd = safe_close(t->pipe_fd);
        return NULL;
}

static Transfer *transfer_free(Transfer *t) {
        if (!t)
                return NULL;
        if (t->started) {
                pthread_mutex_lock(&t->lock);
                t->abort = true;
                pthread_cond_broadcast(&t->cond);
                pthread_mutex_unlock(&t->lock);
                (void) pthread_join(t->thread, NULL);
        }
        safe_close(t->pipe_fd);
        safe_close(t->source_fd);
        archive_range_free(t->range);
        for (size_t i = 0; i < RING_SLOTS; i++)
                free(t->slot[i]);
        free(t->error);
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->cond);
        free(t);
        return NULL;
}

static Transfer *transfer_new(Streamer *s, const CheckpointFile *f, int source_fd, int pipe_fd) {
        Transfer *t = calloc(1, sizeof(Transfer));
        if (!t)
                return NULL;
        *t = (Transfer) { .streamer = s, .file = f, .source_fd = source_fd, .pipe_fd = pipe_fd };
        for (size_t i = 0; i < RING_SLOTS; i++)
                t->slot_frame[i] = UINT64_MAX;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->cond, NULL);
        return t;
}

/* A directory's page image, a descriptor of its own (each transfer closes its own). */
static int page_image_fd(Streamer *s, const CheckpointFile *f) {
        int fd = s->params.page_fds[f - s->params.metadata->files];
        if (fd < 0)
                return -EBADMSG;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? negative_errno() : fd;
}

/* One request: where the image comes from, the answer, and a thread that sends it. */
static int serve(Streamer *s, const char *name) {
        const CheckpointMetadata *m = s->params.metadata;
        const CheckpointFile *f = NULL;
        _cleanup_close_ int source = -EBADF;
        size_t index = 0;

        pthread_mutex_lock(&s->lock);
        bool closed = s->closed;
        if (!closed && checkpoint_file_name_is_plain(name) && streamer_takes(name) && (f = metadata_find_file(m, name))) {
                index = (size_t) (f - m->files);
                if (s->by_file[index])
                        f = NULL; /* asked twice: once is all it gets */
        }
        pthread_mutex_unlock(&s->lock);
        if (f && s->params.page_fds) {
                source = page_image_fd(s, f);
                if (source < 0)
                        f = NULL; /* cannot be sent: CRIU hears it is missing, the verification says why */
        }
        if (!f && !closed && checkpoint_file_name_is_plain(name) && !streamer_takes(name)) {
                source = openat(s->params.images_dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                struct stat st;
                if (source >= 0 && (fstat(source, &st) < 0 || !S_ISREG(st.st_mode)))
                        source = safe_close(source);
        }
        bool exists = f || source >= 0;
        int r = streamer_send_reply(s->conn_fd, exists);
        if (r < 0 || !exists)
                return r;
        int pipe_fd;
        r = streamer_recv_pipe(s->conn_fd, &pipe_fd);
        if (r < 0)
                return r;
        Transfer *t = transfer_new(s, f, TAKE_FD(source), pipe_fd);
        if (!t) {
                safe_close(pipe_fd);
                return -ENOMEM;
        }
        pthread_mutex_lock(&s->lock);
        Transfer **others = f ? NULL : reallocarray(s->others, s->n_others + 1, sizeof(Transfer *));
        if (f)
                s->by_file[index] = t;
        else if (others) {
                s->others = others;
                s->others[s->n_others++] = t;
        }
        r = f || others ? -pthread_create(&t->thread, NULL, transfer_main, t) : -ENOMEM;
        t->started = r == 0;
        if (r < 0)
                t->result = r;
        pthread_mutex_unlock(&s->lock);
        if (!f && !others)
                transfer_free(t);
        return r;
}

static void *server_main(void *userdata) {
        Streamer *s = userdata;
        int fd = streamer_accept(s->listen_fd, s->stop_fd, s->params.uid);
        if (fd < 0)
                return NULL;
        pthread_mutex_lock(&s->lock);
        s->conn_fd = fd;
        pthread_mutex_unlock(&s->lock);
        for (;;) {
                _cleanup_free_ char *name = NULL;
                int r = streamer_recv_request(s->conn_fd, &name);
                if (r == 0)
                        break; /* CRIU is done with the images */
                if (r > 0)
                        r = serve(s, name);
                if (r < 0) {
                        if (!stopping(s))
                                log_warning("Serving CRIU's images failed: %s", strerror(-r));
                        break;
                }
        }
        return NULL;
}

int streamer_start(const StreamerParams *p, Streamer **ret) {
        _cleanup_(streamer_freep) Streamer *s = calloc(1, sizeof(Streamer));
        if (!s)
                return -ENOMEM;
        s->params = *p;
        s->listen_fd = s->conn_fd = -EBADF;
        pthread_mutex_init(&s->lock, NULL);
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        s->by_file = calloc(p->metadata->n_files, sizeof(Transfer *));
        if (s->stop_fd < 0 || !s->by_file)
                return s->stop_fd < 0 ? negative_errno() : -ENOMEM;

        int r = streamer_listen(p->images_dir_fd, STREAMER_SOCKET, p->uid, p->gid, &s->listen_fd);
        if (r < 0)
                return r;
        r = -pthread_create(&s->server, NULL, server_main, s);
        if (r < 0)
                return r;
        s->server_started = true;
        *ret = TAKE_PTR(s);
        return 0;
}

int streamer_verify(Streamer *s, char **reterr) {
        const CheckpointMetadata *m = s->params.metadata;
        /* CRIU has read what it wanted: pipes it left full are not read any more. */
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0)
                return negative_errno();
        pthread_mutex_lock(&s->lock);
        s->closed = true;
        pthread_mutex_unlock(&s->lock);

        int r = 0;
        for (size_t i = 0; i < m->n_files && r == 0; i++) {
                if (!streamer_takes(m->files[i].name))
                        continue;
                Transfer *t = s->by_file[i];
                if (!t) {
                        /* Not asked for: still part of what the checkpoint vouches for. */
                        int fd = s->params.page_fds ? page_image_fd(s, &m->files[i]) : -EBADF;
                        if (s->params.page_fds && fd < 0)
                                return message_set(reterr, -EBADMSG, "The checkpoint is corrupt: %s is missing or "
                                                   "not a regular file.", m->files[i].name);
                        t = s->by_file[i] = transfer_new(s, &m->files[i], fd, -EBADF);
                        if (!t) {
                                safe_close(fd);
                                return -ENOMEM;
                        }
                        t->result = stream_entry(t);
                } else if (t->started) {
                        (void) pthread_join(t->thread, NULL);
                        t->started = false;
                }
                r = t->result;
                if (r == -EBADMSG || r == -ENOLINK)
                        return message_set(reterr, r, "%s", t->error ?: "The checkpoint is corrupt.");
        }
        return r;
}

uint64_t streamer_bytes(const Streamer *s) {
        return s ? s->bytes : 0;
}

Streamer *streamer_free(Streamer *s) {
        if (!s)
                return NULL;
        if (s->stop_fd >= 0) {
                uint64_t one = 1;
                (void) write(s->stop_fd, &one, sizeof(one));
        }
        if (s->server_started) {
                pthread_mutex_lock(&s->lock);
                if (s->conn_fd >= 0)
                        (void) shutdown(s->conn_fd, SHUT_RDWR);
                pthread_mutex_unlock(&s->lock);
                (void) pthread_join(s->server, NULL);
        }
        for (size_t i = 0; s->by_file && i < s->params.metadata->n_files; i++)
                transfer_free(s->by_file[i]);
        for (size_t i = 0; i < s->n_others; i++)
                transfer_free(s->others[i]);
        free(s->by_file);
        free(s->others);
        safe_close(s->conn_fd);
        safe_close(s->listen_fd);
        safe_close(s->stop_fd);
        if (s->params.images_dir_fd >= 0)
                (void) unlinkat(s->params.images_dir_fd, STREAMER_SOCKET, 0);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}
