/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capture.h"
#include "digest.h"
#include "fd-util.h"
#include "log.h"
#include "streamer-proto.h"

#define CHUNK ((size_t) 1 << 20)
/* An image that waits for the archive is held in memory up to this much, then in a file. */
#define HOLD_IN_MEMORY ((size_t) 4 << 20)
/* How often a finishing capture looks whether everything has arrived. */
#define FINISH_POLL_MSEC 5

typedef struct Image {
        char *name;
        int pipe_fd; /* until CRIU closes its end */
        Sha256 *sha;
        uint64_t size;
        bool in_archive; /* the archive's open entry, or written to it whole */
        bool ended;      /* complete in the archive */
        /* while it waits for the archive */
        uint8_t *held;
        size_t held_len, held_allocated;
        int spill_fd;
        uint64_t spilled;
} Image;

struct Capture {
        int staging_fd, listen_fd, conn_fd;
        int wake_fd; /* an eventfd: finish or stop */
        atomic_bool finishing, stopping;
        uid_t uid;
        ArchiveStream *stream;
        CollectorProgress progress;
        void *userdata;
        pthread_t thread;
        bool running;
        Image *images;
        size_t n_images, n_allocated;
        ssize_t open; /* the archive's open entry, or -1 */
        bool socket_eof;
        uint8_t *buf;
        uint64_t bytes;
        int error; /* the first; after it, what CRIU sends is read and dropped */
};

static void fail(Capture *c, int r) {
        if (c->error == 0)
                c->error = r;
}

static int hold(Capture *c, Image *m, const uint8_t *p, size_t n) {
        if (m->spill_fd < 0 && m->held_len + n > HOLD_IN_MEMORY) {
                m->spill_fd = openat(c->staging_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (m->spill_fd < 0)
                        return negative_errno();
        }
        if (m->spill_fd >= 0) {
                int r = loop_write(m->spill_fd, p, n);
                if (r >= 0)
                        m->spilled += n;
                return r;
        }
        if (!GREEDY_REALLOC(m->held, m->held_allocated, m->held_len + n))
                return -ENOMEM;
        memcpy(m->held + m->held_len, p, n);
        m->held_len += n;
        return 0;
}

/* What m holds, into the archive's open entry (its own). */
static int unhold(Capture *c, Image *m) {
        int r = m->held_len > 0 ? archive_stream_write(c->stream, m->held, m->held_len) : 0;
        m->held = mfree(m->held);
        m->held_len = m->held_allocated = 0;
        for (uint64_t off = 0; r >= 0 && off < m->spilled;) {
                ssize_t k = pread(m->spill_fd, c->buf, CHUNK, (off_t) off);
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EIO;
                r = archive_stream_write(c->stream, c->buf, (size_t) k);
                off += (uint64_t) k;
        }
        m->spill_fd = safe_close(m->spill_fd);
        m->spilled = 0;
        return r;
}

static int begin(Capture *c, size_t i) {
        Image *m = &c->images[i];
        int r = archive_stream_begin(c->stream, m->name);
        if (r >= 0)
                r = unhold(c, m);
        if (r < 0)
                return r;
        m->in_archive = true;
        c->open = (ssize_t) i;
        return 0;
}

static int end(Capture *c, size_t i) {
        int r = archive_stream_end(c->stream);
        if (r < 0)
                return r;
        c->images[i].ended = true;
        c->open = -1;
        return 0;
}

/* With no entry open: the complete images that waited go in whole, then the first of those still
 * arriving becomes the open entry. */
static int next_entries(Capture *c) {
        for (size_t i = 0; i < c->n_images; i++) {
                Image *m = &c->images[i];
                if (m->in_archive || m->pipe_fd >= 0)
                        continue;
                int r = begin(c, i);
                if (r >= 0)
                        r = end(c, i);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_images; i++)
                if (!c->images[i].in_archive)
                        return begin(c, i);
        return 0;
}

static int take(Capture *c, size_t i, const uint8_t *p, size_t n) {
        Image *m = &c->images[i];
        int r = sha256_update(m->sha, p, n);
        if (r < 0)
                return r;
        m->size += n;
        c->bytes += n;
        if (c->progress && (r = c->progress(c->bytes, c->userdata)) < 0)
                return r;
        return m->in_archive ? archive_stream_write(c->stream, p, n) : hold(c, m, p, n);
}

/* One read from image i's pipe. */
static void read_image(Capture *c, size_t i) {
        Image *m = &c->images[i];
        ssize_t k = read(m->pipe_fd, c->buf, CHUNK);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k > 0) {
                if (c->error == 0) {
                        int r = take(c, i, c->buf, (size_t) k);
                        if (r < 0)
                                fail(c, r);
                }
                return;
        }
        if (k < 0)
                fail(c, negative_errno());
        /* The image is complete. */
        m->pipe_fd = safe_close(m->pipe_fd);
        if (c->error == 0 && c->open == (ssize_t) i) {
                int r = end(c, i);
                if (r >= 0)
                        r = next_entries(c);
                if (r < 0)
                        fail(c, r);
        }
}

static void read_request(Capture *c) {
        _cleanup_free_ char *name = NULL;
        int pipe_fd = -EBADF;
        int r = streamer_recv_request(c->conn_fd, &name);
        if (r == 0) {
                c->socket_eof = true;
                return;
        }
        if (r > 0)
                r = streamer_recv_pipe(c->conn_fd, &pipe_fd);
        if (r >= 0 && !checkpoint_file_name_is_plain(name))
                r = -EBADMSG;
        if (r >= 0 && !GREEDY_REALLOC(c->images, c->n_allocated, c->n_images + 1))
                r = -ENOMEM;
        if (r < 0) {
                safe_close(pipe_fd);
                fail(c, r);
                c->socket_eof = true; /* CRIU fails on its side too */
                return;
        }
        Image *m = &c->images[c->n_images];
        *m = (Image) { .name = TAKE_PTR(name), .pipe_fd = pipe_fd, .spill_fd = -EBADF };
        if (sha256_new(&m->sha) < 0) {
                safe_close(pipe_fd);
                free(m->name);
                fail(c, -ENOMEM);
                return;
        }
        c->n_images++;
        if (c->error == 0 && c->open < 0 && (r = begin(c, c->n_images - 1)) < 0)
                fail(c, r);
}

/* Finishing: CRIU waits in post-dump, so once every pipe ended and nothing is left on the socket,
 * nothing more comes. */
static bool drained(Capture *c) {
        for (size_t i = 0; i < c->n_images; i++)
                if (c->images[i].pipe_fd >= 0)
                        return false;
        int pending = 0;
        return c->socket_eof || (ioctl(c->conn_fd, FIONREAD, &pending) >= 0 && pending == 0);
}

static void *capture_main(void *userdata) {
        Capture *c = userdata;
        c->conn_fd = streamer_accept(c->listen_fd, c->wake_fd, c->uid);
        if (c->conn_fd < 0) {
                fail(c, c->conn_fd == -ECANCELED ? -EIO : c->conn_fd);
                return NULL;
        }
        _cleanup_free_ struct pollfd *p = NULL;
        _cleanup_free_ size_t *which = NULL;
        size_t allocated = 0, which_allocated = 0;
        for (;;) {
                if (atomic_load(&c->stopping)) {
                        fail(c, -ECANCELED);
                        return NULL;
                }
                bool finishing = atomic_load(&c->finishing);
                if (finishing && drained(c))
                        break;
                if (!GREEDY_REALLOC(p, allocated, c->n_images + 2) ||
                    !GREEDY_REALLOC(which, which_allocated, c->n_images + 2)) {
                        fail(c, -ENOMEM);
                        return NULL;
                }
                size_t n = 0;
                p[n++] = (struct pollfd) { .fd = c->wake_fd, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = c->socket_eof ? -1 : c->conn_fd, .events = POLLIN };
                for (size_t i = 0; i < c->n_images; i++)
                        if (c->images[i].pipe_fd >= 0) {
                                which[n] = i;
                                p[n++] = (struct pollfd) { .fd = c->images[i].pipe_fd, .events = POLLIN };
                        }
                if (poll(p, n, finishing ? FINISH_POLL_MSEC : -1) < 0 && errno != EINTR) {
                        fail(c, negative_errno());
                        return NULL;
                }
                if (p[0].revents) {
                        uint64_t v;
                        (void) read(c->wake_fd, &v, sizeof(v));
                }
                /* The images first: CRIU may be waiting to write the next one's data. */
                for (size_t k = 2; k < n; k++)
                        if (p[k].revents)
                                read_image(c, which[k]);
                if (p[1].revents)
                        read_request(c);
        }
        /* Nothing is open any more: whatever waited goes in. */
        if (c->error == 0 && c->open < 0) {
                int r = next_entries(c);
                if (r < 0)
                        fail(c, r);
        }
        return NULL;
}

int capture_start(int staging_fd, uid_t uid, gid_t gid, ArchiveStream *stream, CollectorProgress progress,
                  void *userdata, Capture **ret) {
        _cleanup_(capture_freep) Capture *c = calloc(1, sizeof(Capture));
        if (!c)
                return -ENOMEM;
        *c = (Capture) { .staging_fd = staging_fd, .listen_fd = -EBADF, .conn_fd = -EBADF, .uid = uid,
                         .stream = stream, .progress = progress, .userdata = userdata, .open = -1 };
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        c->buf = malloc(CHUNK);
        if (c->wake_fd < 0 || !c->buf)
                return c->wake_fd < 0 ? negative_errno() : -ENOMEM;
        int r = streamer_listen(staging_fd, CAPTURE_SOCKET, uid, gid, &c->listen_fd);
        if (r < 0)
                return r;
        r = -pthread_create(&c->thread, NULL, capture_main, c);
        if (r < 0)
                return r;
        c->running = true;
        *ret = TAKE_PTR(c);
        return 0;
}

static void join(Capture *c) {
        if (!c->running)
                return;
        uint64_t one = 1;
        (void) write(c->wake_fd, &one, sizeof(one));
        (void) pthread_join(c->thread, NULL);
        c->running = false;
}

int capture_finish(Capture *c, CheckpointMetadata *m) {
        atomic_store(&c->finishing, true);
        join(c);
        if (c->error < 0)
                return c->error;
        for (size_t i = 0; i < c->n_images; i++) {
                Image *f = &c->images[i];
                char hex[SHA256_HEX_SIZE];
                if (!f->ended)
                        return -EIO;
                int r = sha256_final_hex(f->sha, hex);
                if (r >= 0)
                        r = metadata_add_file(m, f->name, f->size, hex);
                if (r < 0)
                        return r;
        }
        return 0;
}

Capture *capture_free(Capture *c) {
        if (!c)
                return NULL;
        atomic_store(&c->stopping, true);
        join(c);
        for (size_t i = 0; i < c->n_images; i++) {
                Image *f = &c->images[i];
                free(f->name);
                safe_close(f->pipe_fd);
                sha256_free(f->sha);
                free(f->held);
                safe_close(f->spill_fd);
        }
        free(c->images);
        safe_close(c->conn_fd);
        safe_close(c->listen_fd);
        safe_close(c->wake_fd);
        (void) unlinkat(c->staging_fd, CAPTURE_SOCKET, 0);
        free(c->buf);
        free(c);
        return NULL;
}
