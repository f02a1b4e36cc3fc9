/* SPDX-License-Identifier: Apache-2.0 */
/* Looking into a checkpoint without restoring it: cedana.json, then the process tree, file
 * descriptors and memory sizes from CRIU's images, decoded with protobuf-c as images.c does. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "codec.h"
#include "core.pb-c.h"
#include "fd-util.h"
#include "fdinfo.pb-c.h"
#include "images.h"
#include "inspect.h"
#include "message.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"

/* criu/include/pagemap.h */
#define PE_PRESENT (1 << 2)
/* The kernel's socket states, which CRIU records as they are (include/net/tcp_states.h). */
#define SK_ESTABLISHED 1
#define SK_CLOSE 7
#define SK_LISTEN 10

CheckpointSummary *checkpoint_summary_free(CheckpointSummary *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_processes; i++) {
                InspectProcess *p = &s->processes[i];
                for (size_t j = 0; j < p->n_fds; j++) {
                        free(p->fds[j].type);
                        free(p->fds[j].name);
                        free(p->fds[j].state);
                }
                free(p->fds);
                free(p->threads);
                free(p->command);
        }
        free(s->processes);
        metadata_free(s->metadata);
        free(s);
        return NULL;
}

bool inspect_wants_file(const char *name) {
        if (streq(name, METADATA_FILENAME) || streq(name, "pstree.img") || streq(name, "files.img"))
                return true;
        size_t l = strlen(name);
        if (l < STRLEN(".img") || !streq(name + l - STRLEN(".img"), ".img") || startswith(name, "pagemap-shmem-"))
                return false;
        return startswith(name, "core-") || startswith(name, "ids-") || startswith(name, "fdinfo-") ||
               startswith(name, "mm-") || startswith(name, "pagemap-");
}

static const ArchiveFile *find_file(const ArchiveFile *files, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(files[i].name, name))
                        return &files[i];
        return NULL;
}

/* "core-" and 1234: core-1234.img. */
static const ArchiveFile *find_image(const ArchiveFile *files, size_t n, const char *prefix, uint32_t id) {
        char name[64];
        (void) snprintf(name, sizeof(name), "%s%" PRIu32 ".img", prefix, id);
        return find_file(files, n, name);
}

/* Text from an image, safe to print: control characters, backslashes and bytes that are not
 * printable ASCII are escaped as \xNN, so a crafted path cannot drive the terminal. */
static char *escape_text(const uint8_t *s, size_t n) {
        char *out = malloc(n * 4 + 1), *p = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '\\')
                        p += sprintf(p, "\\x%02x", s[i]);
                else
                        *p++ = (char) s[i];
        }
        *p = 0;
        return out;
}

static char *escape_string(const char *s) {
        return s ? escape_text((const uint8_t *) s, strlen(s)) : NULL;
}

/* ---- files.img: every file the tasks hold, by id ---- */

typedef struct FileTable {
        FileEntry **entries; /* sorted by id */
        size_t n;
} FileTable;

static void file_table_done(FileTable *t) {
        for (size_t i = 0; i < t->n; i++)
                file_entry__free_unpacked(t->entries[i], NULL);
        free(t->entries);
}

static int add_file_entry(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        FileTable *t = userdata;
        FileEntry *e = file_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image files.img cannot be read as a CRIU files image.");
        FileEntry **p = realloc(t->entries, (t->n + 1) * sizeof(FileEntry *));
        if (!p) {
                file_entry__free_unpacked(e, NULL);
                return -ENOMEM;
        }
        t->entries = p;
        t->entries[t->n++] = e;
        return 0;
}

static int file_entry_compare(const void *a, const void *b) {
        uint32_t x = (*(FileEntry *const *) a)->id, y = (*(FileEntry *const *) b)->id;
        return x < y ? -1 : x > y;
}

static const FileEntry *file_table_find(const FileTable *t, uint32_t id) {
        FileEntry key = { .id = id }, *k = &key;
        FileEntry **e = t->n > 0 ? bsearch(&k, t->entries, t->n, sizeof(FileEntry *), file_entry_compare) : NULL;
        return e ? *e : NULL;
}

/* ---- one descriptor, in words ---- */

static const char *socket_state(uint32_t state) {
        switch (state) {
        case SK_ESTABLISHED:
                return "connected";
        case SK_LISTEN:
                return "listening";
        case SK_CLOSE:
                return "unconnected";
        default:
                return "other";
        }
}

static char *inet_address(uint32_t family, const uint32_t *addr, size_t n_addr, uint32_t port) {
        char text[INET6_ADDRSTRLEN] = "?";
        uint32_t raw[4] = {};
        memcpy(raw, addr, MIN(n_addr, ELEMENTSOF(raw)) * sizeof(uint32_t));
        (void) inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, raw, text, sizeof(text));
        char *s = NULL;
        return asprintf(&s, family == AF_INET6 ? "[%s]:%" PRIu32 : "%s:%" PRIu32, text, port) < 0 ? NULL : s;
}

static int describe_inet(const InetSkEntry *k, InspectFd *d) {
        const char *proto = k->proto == IPPROTO_TCP ? "tcp" : k->proto == IPPROTO_UDP ? "udp" : "inet";
        if (asprintf(&d->type, "%s%s", proto, k->family == AF_INET6 ? "6" : "") < 0) {
                d->type = NULL;
                return -ENOMEM;
        }
        _cleanup_free_ char *src = inet_address(k->family, k->src_addr, k->n_src_addr, k->src_port);
        _cleanup_free_ char *dst = k->dst_port != 0 ? inet_address(k->family, k->dst_addr, k->n_dst_addr, k->dst_port) : NULL;
        if (!src || (k->dst_port != 0 && !dst))
                return -ENOMEM;
        if (dst ? asprintf(&d->name, "%s -> %s", src, dst) < 0 : !(d->name = strdup(src))) {
                d->name = NULL;
                return -ENOMEM;
        }
        d->state = strdup(socket_state(k->state));
        return d->state ? 0 : -ENOMEM;
}

static int describe_unix(const UnixSkEntry *k, InspectFd *d) {
        if (!(d->type = strdup("unix")))
                return -ENOMEM;
        const uint8_t *name = k->name.data;
        size_t l = k->name.len;
        if (l > 0 && name[0] == 0) {
                /* An abstract address, written as ss(8) does. */
                _cleanup_free_ char *rest = escape_text(name + 1, l - 1);
                if (!rest || asprintf(&d->name, "@%s", rest) < 0)
                        return -ENOMEM;
        } else if (l > 0) {
                if (!(d->name = escape_text(name, strnlen((const char *) name, l))))
                        return -ENOMEM;
        }
        d->state = strdup(socket_state(k->state));
        return d->state ? 0 : -ENOMEM;
}

static int describe_fd(const FdinfoEntry *fi, const FileTable *files, InspectFd *d) {
        const FileEntry *f = file_table_find(files, fi->id);
        d->fd = fi->fd;
        if (f && f->type == FD_TYPES__REG && f->reg) {
                d->type = strdup("file");
                d->name = escape_string(f->reg->name);
                return d->type && d->name ? 0 : -ENOMEM;
        }
        if (f && f->type == FD_TYPES__INETSK && f->isk)
                return describe_inet(f->isk, d);
        if (f && f->type == FD_TYPES__UNIXSK && f->usk)
                return describe_unix(f->usk, d);
        if (f && f->type == FD_TYPES__PIPE && f->pipe) {
                if (asprintf(&d->name, "pipe:[%" PRIu32 "]", f->pipe->pipe_id) < 0) {
                        d->name = NULL;
                        return -ENOMEM;
                }
        }
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, (int) fi->type);
        d->type = escape_string(v ? v->name : "unknown");
        if (!d->type)
                return -ENOMEM;
        for (char *c = d->type; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        return 0;
}

/* ---- one process ---- */

typedef struct ProcessImages {
        InspectProcess *p;
        const char *name;
        const FileTable *files;
        uint32_t files_id;
        bool has_files_id;
        long page_size;
} ProcessImages;

static int read_core(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        ProcessImages *x = userdata;
        CoreEntry *e = core_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU core image.", x->name);
        int r = 0;
        if (index == 0 && e->tc && e->tc->comm && !(x->p->command = escape_string(e->tc->comm)))
                r = -ENOMEM;
        if (index == 0 && !x->has_files_id && e->ids) {
                x->files_id = e->ids->files_id;
                x->has_files_id = true;
        }
        core_entry__free_unpacked(e, NULL);
        return r;
}

static int read_ids(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        ProcessImages *x = userdata;
        TaskKobjIdsEntry *e = task_kobj_ids_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU ids image.", x->name);
        if (index == 0) {
                x->files_id = e->files_id;
                x->has_files_id = true;
        }
        task_kobj_ids_entry__free_unpacked(e, NULL);
        return 0;
}

static int read_fdinfo(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        ProcessImages *x = userdata;
        FdinfoEntry *e = fdinfo_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU fdinfo image.", x->name);
        InspectFd *fds = realloc(x->p->fds, (x->p->n_fds + 1) * sizeof(InspectFd));
        int r = -ENOMEM;
        if (fds) {
                x->p->fds = fds;
                fds[x->p->n_fds] = (InspectFd) {};
                /* Counted before describing, so that what was set is freed on failure too. */
                r = describe_fd(e, x->files, &fds[x->p->n_fds++]);
        }
        fdinfo_entry__free_unpacked(e, NULL);
        return r;
}

static uint64_t add_saturated(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int read_mm(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        ProcessImages *x = userdata;
        MmEntry *e = mm_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU mm image.", x->name);
        for (size_t i = 0; i < e->n_vmas; i++)
                if (e->vmas[i]->end > e->vmas[i]->start)
                        x->p->mapped = add_saturated(x->p->mapped, e->vmas[i]->end - e->vmas[i]->start);
        mm_entry__free_unpacked(e, NULL);
        return 0;
}

static int read_pagemap(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        ProcessImages *x = userdata;
        if (index == 0) {
                PagemapHead *h = pagemap_head__unpack(NULL, size, data);
                if (!h)
                        return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU pagemap image.", x->name);
                pagemap_head__free_unpacked(h, NULL);
                return 0;
        }
        PagemapEntry *e = pagemap_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image %s cannot be read as a CRIU pagemap image.", x->name);
        uint64_t pages = e->has_nr_pages ? e->nr_pages : e->compat_nr_pages;
        /* Older CRIUs have no flags: then what is not in a parent checkpoint is here. */
        bool present = e->has_flags ? (e->flags & PE_PRESENT) != 0 : !(e->has_in_parent && e->in_parent);
        if (present) {
                uint64_t bytes = pages > UINT64_MAX / (uint64_t) x->page_size ? UINT64_MAX : pages * (uint64_t) x->page_size;
                x->p->dumped = add_saturated(x->p->dumped, bytes);
        }
        pagemap_entry__free_unpacked(e, NULL);
        return 0;
}

typedef struct ImageReader {
        const char *prefix; /* "core-" */
        uint32_t magic;
        const char *kind;
        ImageEntryFunc f;
} ImageReader;

static int read_image(const ArchiveFile *files, size_t n, const ImageReader *r, uint32_t id, ProcessImages *x,
                      char **reterr) {
        const ArchiveFile *f = find_image(files, n, r->prefix, id);
        if (!f)
                return 0; /* not every task has every image (a zombie has no mm) */
        x->name = f->name;
        return image_for_each_entry(f->name, f->data, f->size, r->magic, r->kind, r->f, x, reterr);
}

static int inspect_process(const ArchiveFile *files, size_t n, const FileTable *table, InspectProcess *p,
                           char **reterr) {
        static const ImageReader core = { "core-", CORE_MAGIC, "core", read_core },
                                 ids = { "ids-", IDS_MAGIC, "ids", read_ids },
                                 fdinfo = { "fdinfo-", FDINFO_MAGIC, "fdinfo", read_fdinfo },
                                 mm = { "mm-", MM_MAGIC, "mm", read_mm },
                                 pagemap = { "pagemap-", PAGEMAP_MAGIC, "pagemap", read_pagemap };
        ProcessImages x = { .p = p, .files = table, .page_size = sysconf(_SC_PAGESIZE) };
        if (x.page_size <= 0)
                x.page_size = 4096;
        int r = read_image(files, n, &ids, (uint32_t) p->pid, &x, reterr);
        if (r >= 0)
                r = read_image(files, n, &core, (uint32_t) p->pid, &x, reterr);
        if (r >= 0 && x.has_files_id)
                r = read_image(files, n, &fdinfo, x.files_id, &x, reterr);
        if (r >= 0)
                r = read_image(files, n, &mm, (uint32_t) p->pid, &x, reterr);
        if (r >= 0)
                r = read_image(files, n, &pagemap, (uint32_t) p->pid, &x, reterr);
        return r;
}

/* ---- pstree.img ---- */

static int read_pstree(size_t index, const uint8_t *data, size_t size, void *userdata, char **reterr) {
        CheckpointSummary *s = userdata;
        PstreeEntry *e = pstree_entry__unpack(NULL, size, data);
        if (!e)
                return message_set(reterr, -EBADMSG, "Image pstree.img cannot be read as a CRIU pstree image.");
        int r = -ENOMEM;
        InspectProcess *l = realloc(s->processes, (s->n_processes + 1) * sizeof(InspectProcess));
        if (l) {
                s->processes = l;
                InspectProcess *p = &l[s->n_processes++];
                *p = (InspectProcess) { .pid = (pid_t) e->pid, .ppid = (pid_t) e->ppid, .pgid = (pid_t) e->pgid,
                                        .sid = (pid_t) e->sid };
                size_t n = MAX(e->n_threads, (size_t) 1);
                if ((p->threads = calloc(n, sizeof(pid_t)))) {
                        p->n_threads = n;
                        p->threads[0] = p->pid;
                        for (size_t i = 0; i < e->n_threads; i++)
                                p->threads[i] = (pid_t) e->threads[i];
                        r = 0;
                }
        }
        pstree_entry__free_unpacked(e, NULL);
        return r;
}

int inspect_images(const ArchiveFile *files, size_t n_files, CheckpointSummary *s, char **reterr) {
        _cleanup_(file_table_done) FileTable table = {};
        const ArchiveFile *pstree = find_file(files, n_files, "pstree.img");
        if (!pstree)
                return message_set(reterr, -EBADMSG, "The checkpoint has no process tree (pstree.img).");
        int r = image_for_each_entry(pstree->name, pstree->data, pstree->size, PSTREE_MAGIC, "pstree", read_pstree, s,
                                     reterr);
        if (r < 0)
                return r;
        if (s->n_processes == 0)
                return message_set(reterr, -EBADMSG, "The checkpoint's process tree (pstree.img) is empty.");
        const ArchiveFile *f = find_file(files, n_files, "files.img");
        if (f) {
                r = image_for_each_entry(f->name, f->data, f->size, FILES_MAGIC, "files", add_file_entry, &table, reterr);
                if (r < 0)
                        return r;
                if (table.n > 0)
                        qsort(table.entries, table.n, sizeof(FileEntry *), file_entry_compare);
        }
        for (size_t i = 0; i < s->n_processes; i++) {
                r = inspect_process(files, n_files, &table, &s->processes[i], reterr);
                if (r < 0)
                        return r;
                s->mapped = add_saturated(s->mapped, s->processes[i].mapped);
                s->dumped = add_saturated(s->dumped, s->processes[i].dumped);
        }
        return 0;
}

/* ---- reading the checkpoint ---- */

typedef struct FileList {
        ArchiveFile *files;
        size_t n;
} FileList;

static void file_list_done(FileList *l) {
        archive_files_free(l->files, l->n);
}

static int access_outcome(int r, const char *name, char **reterr) {
        if (r == -EACCES || r == -EPERM)
                return message_set(reterr, CEDANA_E_ACCESS_DENIED, "You may not read %s of this checkpoint.", name);
        if (r == -ENOENT)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                                   "The checkpoint lists %s, but it is missing.", name);
        if (r == -ELOOP || r == -EBADFD)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT, "%s in the checkpoint is not a regular file.",
                                   name);
        if (r == -EFBIG)
                return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                                   "%s in the checkpoint is larger than cedana reads (%" PRIu64 " bytes).", name,
                                   INSPECT_IMAGE_MAX);
        return message_set(reterr, r, "Failed to read %s of the checkpoint: %s.", name, strerror(-r));
}

/* The wanted files a directory's cedana.json lists, opened below dir_fd without following
 * symlinks (names in the metadata are plain file names). */
static int read_dir(int dir_fd, FileList *l, char **reterr) {
        ArchiveFile meta = {};
        int r = read_full_file_at(dir_fd, METADATA_FILENAME, METADATA_MAX_SIZE, &meta.data, &meta.size);
        if (r == -ENOENT)
                return message_set(reterr, CEDANA_E_NOT_A_CHECKPOINT, "Not a cedana checkpoint: %s is missing.",
                                   METADATA_FILENAME);
        if (r < 0)
                return access_outcome(r, METADATA_FILENAME, reterr);
        if (!(meta.name = strdup(METADATA_FILENAME)) || !(l->files = calloc(1, sizeof(ArchiveFile)))) {
                free(meta.name);
                free(meta.data);
                return -ENOMEM;
        }
        l->files[l->n++] = meta;
        _cleanup_(metadata_freep) CheckpointMetadata *m = NULL;
        _cleanup_free_ char *err = NULL;
        r = metadata_parse(meta.data, meta.size, &m, &err);
        if (r < 0)
                return 0; /* reported by the caller, which parses it again */
        uint64_t total = 0;
        for (size_t i = 0; i < m->n_files; i++) {
                const char *name = m->files[i].name;
                if (!inspect_wants_file(name))
                        continue;
                ArchiveFile f = {};
                uint64_t max = MIN(INSPECT_IMAGE_MAX, INSPECT_IMAGES_MAX - total);
                r = read_full_file_at(dir_fd, name, max, &f.data, &f.size);
                if (r < 0)
                        return access_outcome(r, name, reterr);
                total += f.size;
                ArchiveFile *p = realloc(l->files, (l->n + 1) * sizeof(ArchiveFile));
                if (!p || !(f.name = strdup(name))) {
                        free(f.data);
                        if (p)
                                l->files = p;
                        return -ENOMEM;
                }
                l->files = p;
                l->files[l->n++] = f;
        }
        return 0;
}

static int stored_size(int fd, Compression format, const CheckpointMetadata *m, uint64_t *ret) {
        struct stat st;
        if (format == COMPRESSION_NONE) {
                *ret = m->size;
                return 0;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        *ret = (uint64_t) st.st_size;
        return 0;
}

static int read_archive(int fd, FileList *l, char **reterr) {
        ArchiveLimits limits = ARCHIVE_LIMITS_DEFAULT;
        int r = archive_read_files(fd, &limits, inspect_wants_file, INSPECT_IMAGE_MAX, INSPECT_IMAGES_MAX, &l->files,
                                   &l->n, NULL, reterr);
        if (r < 0)
                return checkpoint_content_outcome(r);
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->files[i].name, METADATA_FILENAME))
                        return 0;
        return message_set(reterr, CEDANA_E_NOT_A_CHECKPOINT, "Not a cedana checkpoint: the archive has no %s.",
                           METADATA_FILENAME);
}

/* Every image inspect reads must be one the metadata lists, of the size it declares. */
static int check_listed(const FileList *l, const CheckpointMetadata *m, char **reterr) {
        for (size_t i = 0; i < l->n; i++) {
                const ArchiveFile *f = &l->files[i];
                if (streq(f->name, METADATA_FILENAME))
                        continue;
                const CheckpointFile *c = metadata_find_file(m, f->name);
                if (!c)
                        return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                                           "The checkpoint contains %s, which its metadata does not list.", f->name);
                if (c->size != f->size)
                        return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                                           "%s has %zu bytes; the checkpoint's metadata says %" PRIu64 ".", f->name,
                                           f->size, c->size);
        }
        for (size_t i = 0; i < m->n_files; i++) {
                bool found = false;
                if (!inspect_wants_file(m->files[i].name))
                        continue;
                for (size_t j = 0; j < l->n && !found; j++)
                        found = streq(l->files[j].name, m->files[i].name);
                if (!found)
                        return message_set(reterr, CEDANA_E_CHECKPOINT_CORRUPT,
                                           "The checkpoint lists %s, but it is missing.", m->files[i].name);
        }
        return 0;
}

int checkpoint_inspect(int fd, CheckpointSummary **ret, char **reterr) {
        _cleanup_(checkpoint_summary_freep) CheckpointSummary *s = NULL;
        _cleanup_(file_list_done) FileList l = {};
        Compression format;
        int r = checkpoint_detect_format(fd, &format, reterr);
        if (r != 0)
                return r;
        r = format == COMPRESSION_NONE ? read_dir(fd, &l, reterr) : read_archive(fd, &l, reterr);
        if (r != 0)
                return r;

        if (!(s = calloc(1, sizeof(CheckpointSummary))))
                return -ENOMEM;
        s->format = format;
        const ArchiveFile *meta = find_file(l.files, l.n, METADATA_FILENAME);
        r = metadata_parse(meta->data, meta->size, &s->metadata, reterr);
        if (r < 0)
                return checkpoint_content_outcome(r);
        r = check_listed(&l, s->metadata, reterr);
        if (r != 0)
                return r;
        r = stored_size(fd, format, s->metadata, &s->stored_size);
        if (r < 0)
                return r;
        r = inspect_images(l.files, l.n, s, reterr);
        if (r == -EBADMSG)
                return CEDANA_E_CHECKPOINT_CORRUPT;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
