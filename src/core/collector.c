/* SPDX-License-Identifier: Apache-2.0 */
/* The collector thread. Every byte is hashed (SHA-256) once, as it is taken in. Finished files are taken in whole; page images, CRIU's big ones, are
 * taken in while they grow (CRIU appends to them), with their tar size patched at the end.
 * Anything missed (inotify overflow) is found by a last directory scan. */

#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "collector.h"
#include "fd-util.h"
#include "log.h"

#define CHUNK (1U << 20)
#define POLL_MSEC 10

typedef struct CollectedFile {
        char *name;
        int fd;
        uint64_t offset; /* bytes taken in so far */
        Sha256 *sha;
        bool closed;     /* CRIU closed it after writing */
        bool done;       /* taken in completely */
} CollectedFile;

struct Collector {
        int staging_fd;
        ArchiveStream *stream;
        int inotify_fd;
        int wake_fd; /* an eventfd: finishing must not wait out a poll interval */
        pthread_t thread;
        bool running;
        atomic_bool stop;
        CollectedFile *files;
        size_t n_files, n_allocated;
        ssize_t active; /* the file being streamed, or -1 */
        int error;
        char *buf;
        uint64_t bytes; /* taken in, all files together */
        CollectorProgress progress;
        void *userdata;
};

static bool streamed_while_growing(const char *name) {
        /* CRIU writes page contents to pages-<id>.img, sequentially, and nothing else is big. */
        return startswith(name, "pages-") != NULL;
}

static bool wanted(const char *name) {
        return name[0] != '.' && !streq(name, METADATA_FILENAME);
}

static CollectedFile *find(Collector *c, const char *name) {
        for (size_t i = 0; i < c->n_files; i++)
                if (streq(c->files[i].name, name))
                        return &c->files[i];
        return NULL;
}

static CollectedFile *add(Collector *c, const char *name) {
        CollectedFile *f = find(c, name);
        if (f || !wanted(name))
                return f;
        if (!GREEDY_REALLOC(c->files, c->n_allocated, c->n_files + 1))
                return NULL;
        f = &c->files[c->n_files];
        *f = (CollectedFile) { .name = strdup(name), .fd = -EBADF };
        if (!f->name || sha256_new(&f->sha) < 0) {
                free(f->name);
                return NULL;
        }
        c->n_files++;
        return f;
}

static int ensure_open(Collector *c, CollectedFile *f) {
        if (f->fd >= 0)
                return 0;
        int fd = openat(c->staging_fd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                safe_close(fd);
                return -EBADMSG;
        }
        f->fd = fd;
        return 0;
}

/* Takes in what f has now: 0 when nothing more is there (yet), < 0 on errors. */
static int take_available(Collector *c, CollectedFile *f) {
        int r = ensure_open(c, f);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = pread(f->fd, c->buf, CHUNK, (off_t) f->offset);
                if (n < 0)
                        return errno == EINTR ? 0 : negative_errno();
                if (n == 0)
                        return 0;
                r = sha256_update(f->sha, c->buf, (size_t) n);
                if (r < 0)
                        return r;
                if (c->stream) {
                        r = archive_stream_write(c->stream, c->buf, (size_t) n);
                        if (r < 0)
                                return r;
                }
                f->offset += (uint64_t) n;
                c->bytes += (uint64_t) n;
                if (c->progress && (r = c->progress(c->bytes, c->userdata)) < 0)
                        return r;
        }
}

/* Takes f in from start to end: it is complete. */
static int take_whole(Collector *c, CollectedFile *f) {
        int r = ensure_open(c, f);
        if (r >= 0 && c->stream)
                r = archive_stream_begin(c->stream, f->name);
        if (r >= 0)
                r = take_available(c, f);
        if (r >= 0 && c->stream)
                r = archive_stream_end(c->stream);
        if (r < 0)
                return r;
        f->done = true;
        return 0;
}

static void read_events(Collector *c) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        for (;;) {
                ssize_t n = read(c->inotify_fd, buf, sizeof(buf));
                if (n <= 0)
                        return;
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *e = (struct inotify_event *) p;
                        if (e->len > 0) {
                                CollectedFile *f = add(c, e->name);
                                if (f && (e->mask & IN_CLOSE_WRITE))
                                        f->closed = true;
                        }
                        p += sizeof(struct inotify_event) + e->len;
                }
        }
}

/* One round of work: continue the open stream, or take in a finished file, or start streaming
 * a growing page image. Returns > 0 if it did something. */
static int step(Collector *c, bool criu_done) {
        if (c->active >= 0) {
                CollectedFile *f = &c->files[c->active];
                uint64_t before = f->offset;
                int r = take_available(c, f);
                if (r < 0)
                        return r;
                if ((f->closed || criu_done) && f->offset == before) {
                        /* closed, and read up to its end */
                        if (c->stream && (r = archive_stream_end(c->stream)) < 0)
                                return r;
                        f->done = true;
                        c->active = -1;
                        return 1;
                }
                return f->offset > before;
        }
        for (size_t i = 0; i < c->n_files; i++) {
                CollectedFile *f = &c->files[i];
                if (!f->done && (f->closed || criu_done)) {
                        int r = take_whole(c, f);
                        return r < 0 ? r : 1;
                }
        }
        for (size_t i = 0; i < c->n_files; i++) {
                CollectedFile *f = &c->files[i];
                if (!f->done && streamed_while_growing(f->name)) {
                        int r = ensure_open(c, f);
                        if (r == -ENOENT)
                                continue;
                        if (r >= 0 && c->stream)
                                r = archive_stream_begin(c->stream, f->name);
                        if (r < 0)
                                return r;
                        c->active = (ssize_t) i;
                        return 1;
                }
        }
        return 0;
}

static void *collector_thread(void *userdata) {
        Collector *c = userdata;
        while (!atomic_load(&c->stop) && c->error == 0) {
                struct pollfd p[2] = { { .fd = c->inotify_fd, .events = POLLIN }, { .fd = c->wake_fd, .events = POLLIN } };
                int r;
                read_events(c);
                do
                        r = step(c, false);
                while (r > 0 && !atomic_load(&c->stop));
                if (r < 0) {
                        c->error = r;
                        break;
                }
                (void) poll(p, 2, POLL_MSEC);
        }
        return NULL;
}

int collector_start(int staging_fd, ArchiveStream *stream, CollectorProgress progress, void *userdata,
                    Collector **ret) {
        Collector *c = calloc(1, sizeof(Collector));
        if (!c)
                return -ENOMEM;
        c->progress = progress;
        c->userdata = userdata;
        c->staging_fd = staging_fd;
        c->stream = stream;
        c->active = -1;
        c->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        c->buf = malloc(CHUNK);
        int r = c->inotify_fd < 0 || c->wake_fd < 0 ? negative_errno() : !c->buf ? -ENOMEM : 0;
        if (r >= 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%i", staging_fd);
                if (inotify_add_watch(c->inotify_fd, path, IN_CREATE | IN_CLOSE_WRITE | IN_ONLYDIR) < 0)
                        r = negative_errno();
        }
        if (r >= 0) {
                r = -pthread_create(&c->thread, NULL, collector_thread, c);
                c->running = r >= 0;
        }
        if (r < 0) {
                collector_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static void stop_thread(Collector *c) {
        if (!c->running)
                return;
        atomic_store(&c->stop, true);
        uint64_t one = 1;
        (void) write(c->wake_fd, &one, sizeof(one));
        (void) pthread_join(c->thread, NULL);
        c->running = false;
}

static int rescan(Collector *c) {
        DIR *d;
        int r = opendir_at(c->staging_fd, &d);
        if (r < 0)
                return r;
        struct dirent *de;
        while ((de = readdir(d)))
                if (wanted(de->d_name) && !add(c, de->d_name)) {
                        if (!find(c, de->d_name)) {
                                closedir(d);
                                return -ENOMEM;
                        }
                }
        closedir(d);
        return 0;
}

int collector_finish(Collector *c, CheckpointMetadata *m) {
        stop_thread(c);
        if (c->error < 0)
                return c->error;
        read_events(c);
        int r = rescan(c);
        while (r >= 0 && (r = step(c, true)) > 0)
                ;
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_files; i++) {
                CollectedFile *f = &c->files[i];
                struct stat st;
                if (fstat(f->fd, &st) < 0)
                        return negative_errno();
                /* Taken in as it grew: if it is not exactly what was taken, start over. */
                if ((uint64_t) st.st_size != f->offset) {
                        log_debug("Image %s changed after it was read (%" PRIu64 " -> %" PRIu64 " bytes).", f->name,
                                  f->offset, (uint64_t) st.st_size);
                        return -EAGAIN;
                }
                char hex[SHA256_HEX_SIZE];
                r = sha256_final_hex(f->sha, hex);
                if (r >= 0)
                        r = metadata_add_file(m, f->name, f->offset, hex);
                if (r < 0)
                        return r;
        }
        return 0;
}

Collector *collector_free(Collector *c) {
        if (!c)
                return NULL;
        stop_thread(c);
        for (size_t i = 0; i < c->n_files; i++) {
                safe_close(c->files[i].fd);
                free(c->files[i].name);
                sha256_free(c->files[i].sha);
        }
        free(c->files);
        safe_close(c->inotify_fd);
        safe_close(c->wake_fd);
        free(c->buf);
        free(c);
        return NULL;
}
